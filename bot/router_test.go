package bot

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mfadesk/mfadesk/actions"
)

const (
	helpdeskGroup  = "00000000-0000-4000-8000-0000000000a1"
	approversGroup = "00000000-0000-4000-8000-0000000000a2"
	agentID        = "00000000-0000-4000-8000-000000000001"
	outsiderID     = "00000000-0000-4000-8000-000000000009"
)

// staff are the callers of the tests: enabled member accounts, so the caller rule
// lets them through to their groups.
var staff = map[string]actions.User{
	agentID:    {ID: agentID, DisplayName: "Hana Helpdesk", UPN: "hana@contoso.com", UserType: "Member", Enabled: true},
	outsiderID: {ID: outsiderID, DisplayName: "Nora Norights", UPN: "nora@contoso.com", UserType: "Member", Enabled: true},
}

// stubDirectory counts calls so tests can assert that bad input reached no directory.
type stubDirectory struct {
	users     map[string]actions.User
	member    map[string][]string
	memberErr error
	calls     atomic.Int64
}

func (d *stubDirectory) User(_ context.Context, ref actions.UserRef) (actions.User, error) {
	d.calls.Add(1)
	if u, ok := d.users[strings.ToLower(ref.Value)]; ok {
		return u, nil
	}
	if u, ok := staff[ref.Value]; ok {
		return u, nil
	}
	return actions.User{}, &actions.Error{Kind: actions.KindNotFound, Message: "No user " + ref.Value + " in the directory."}
}

func (d *stubDirectory) MemberGroups(_ context.Context, id string, _ []string) ([]string, error) {
	d.calls.Add(1)
	if d.memberErr != nil {
		return nil, d.memberErr
	}
	return d.member[id], nil
}

func newTestRouter(t *testing.T, d *stubDirectory) *Router {
	t.Helper()
	r, err := NewRouter(RouterOptions{Directory: d, Groups: Groups{Helpdesk: helpdeskGroup, Approvers: approversGroup}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewRouterFailsClosed(t *testing.T) {
	d := &stubDirectory{}
	for _, g := range []Groups{{}, {Helpdesk: helpdeskGroup}, {Approvers: approversGroup}} {
		if _, err := NewRouter(RouterOptions{Directory: d, Groups: g}); err == nil {
			t.Errorf("NewRouter accepted groups %+v", g)
		}
	}
}

func TestHandle(t *testing.T) {
	d := &stubDirectory{
		users:  map[string]actions.User{"mfatest2@contoso.com": {ID: "u2", DisplayName: "MFA Test 2", UPN: "mfatest2@contoso.com", Enabled: true}},
		member: map[string][]string{agentID: {helpdeskGroup}},
	}
	r := newTestRouter(t, d)
	agent := Caller{Platform: "web", ChatID: "hana", ObjectID: agentID}
	tests := []struct {
		name      string
		caller    Caller
		text      string
		refusal   bool
		want      string
		noLookups bool // the directory must not be called at all
	}{
		{"help needs no rights", Caller{}, "help", false, "mfadesk verbs", true},
		{"user found", agent, "user mfatest2@contoso.com", false, "MFA Test 2 (mfatest2@contoso.com): enabled.", false},
		{"user not found", agent, "user nobody@contoso.com", true, "No user nobody@contoso.com in the directory.", false},
		{"unknown verb", agent, "frobnicate", true, `Unknown verb "frobnicate". Try help.`, true}, // web: plain verbs
		{"malformed upn", agent, "user bob@@contoso", true, "is not a UPN, mail address or object id", true},
		{"filter injection", agent, "user a@b.co'or'1'eq'1", true, "is not a UPN", true},
		{"no identity", Caller{Platform: "web"}, "user mfatest2@contoso.com", true, "Your chat account is not linked to a directory user", true},
		{"no rights", Caller{Platform: "web", ObjectID: outsiderID}, "user mfatest2@contoso.com", true, "not in the helpdesk or approvers group", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := d.calls.Load()
			m := r.Handle(context.Background(), Event{Caller: tt.caller, Text: tt.text})
			if m.Refusal != tt.refusal || !strings.Contains(m.Text, tt.want) {
				t.Fatalf("Handle(%q) = refusal %v %q, want refusal %v containing %q", tt.text, m.Refusal, m.Text, tt.refusal, tt.want)
			}
			if !m.Private {
				t.Error("answers to commands must be private")
			}
			if tt.noLookups && d.calls.Load() != before {
				t.Errorf("the directory was called %d times for bad input", d.calls.Load()-before)
			}
		})
	}
}

func TestHandleDirectoryDownFailsClosed(t *testing.T) {
	d := &stubDirectory{memberErr: errors.New("boom")}
	r := newTestRouter(t, d)
	m := r.Handle(context.Background(), Event{Caller: Caller{ObjectID: agentID}, Text: "user a@b.co"})
	if !m.Refusal || strings.Contains(m.Text, "boom") {
		t.Fatalf("got %+v", m)
	}
}
