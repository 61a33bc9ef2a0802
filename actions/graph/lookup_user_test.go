package graph_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// newFakeDirectory starts the fake tenant and points the real SDK at it.
func newFakeDirectory(t *testing.T) (*graph.Client, *graphtest.Server) {
	t.Helper()
	fake := graphtest.NewServer(graphtest.MustTenant("demo"))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	c, err := graph.New(graph.Config{BaseURL: srv.URL + "/v1.0", MFAGroups: []string{"mfaoptin"}})
	if err != nil {
		t.Fatal(err)
	}
	return c, fake
}

func TestUserLookup(t *testing.T) {
	c, fake := newFakeDirectory(t)
	tests := []struct {
		ref      string
		wantID   string
		wantName string
		groups   string
		roles    string
		synced   bool
		kind     actions.ErrorKind // 0 = success
		errText  string
	}{
		{ref: "mfatest2@mfademo.example", wantID: "5a1b0001-0000-4000-8000-000000000002", wantName: "MFA Test 2"},
		{ref: "MFATEST1@MFADEMO.EXAMPLE", wantID: "5a1b0001-0000-4000-8000-000000000001", wantName: "MFA Test 1"},
		{ref: "5a1b0001-0000-4000-8000-000000000004", wantID: "5a1b0001-0000-4000-8000-000000000004", wantName: "Olive Optin", groups: "mfaoptin"},
		{ref: "ada.admin@mfademo.example", wantName: "Ada Admin", wantID: "5a1b0001-0000-4000-8000-000000000104", roles: "Global Administrator"},
		// Casey's mail differs from the UPN: found through $filter after /users/{upn} 404s.
		{ref: "casey@mfademo.example", wantName: "Casey Conditional", wantID: "5a1b0001-0000-4000-8000-000000000003", synced: true},
		{ref: "nobody@mfademo.example", kind: actions.KindNotFound, errText: "No user nobody@mfademo.example in the directory."},
		{ref: "5a1b0001-0000-4000-8000-0000000000ff", kind: actions.KindNotFound, errText: "No user 5a1b0001-0000-4000-8000-0000000000ff in the directory."},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			ref, err := actions.ParseUserRef(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			u, err := c.User(context.Background(), ref)
			if tt.kind != 0 {
				if actions.KindOf(err) != tt.kind {
					t.Fatalf("err = %v (kind %d), want kind %d", err, actions.KindOf(err), tt.kind)
				}
				if got := actions.Explain(err); got != tt.errText {
					t.Fatalf("Explain = %q, want %q", got, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.ID != tt.wantID || u.DisplayName != tt.wantName || u.OnPremisesSynced != tt.synced {
				t.Fatalf("got %+v", u)
			}
			if got := strings.Join(u.MFAGroups, ","); got != tt.groups {
				t.Errorf("MFA groups = %q, want %q", got, tt.groups)
			}
			if got := strings.Join(u.Roles, ","); got != tt.roles {
				t.Errorf("roles = %q, want %q", got, tt.roles)
			}
			if u.IsAdmin() != (tt.roles != "") {
				t.Errorf("IsAdmin = %v", u.IsAdmin())
			}
		})
	}
	if fake.Requests() == 0 {
		t.Fatal("the fake saw no requests: the SDK did not go over HTTP")
	}
}

func TestUserLookupAmbiguousMail(t *testing.T) {
	c, fake := newFakeDirectory(t)
	fake.Tenant(func(tn *graphtest.Tenant) {
		// Give a second user the same mail: the bot must not guess.
		tn.FindUser("mfatest1@mfademo.example").User["mail"] = "shared@mfademo.example"
		tn.FindUser("mfatest2@mfademo.example").User["mail"] = "shared@mfademo.example"
	})
	ref, _ := actions.ParseUserRef("shared@mfademo.example")
	_, err := c.User(context.Background(), ref)
	if actions.KindOf(err) != actions.KindBadRequest || !strings.Contains(actions.Explain(err), "matches more than one user") {
		t.Fatalf("err = %v", err)
	}
}

func TestUserLookupForbiddenAndThrottled(t *testing.T) {
	c, fake := newFakeDirectory(t)
	ref, _ := actions.ParseUserRef("mfatest2@mfademo.example")

	fake.SetFaults(graphtest.Faults{Forbidden: []string{"/users/"}})
	_, err := c.User(context.Background(), ref)
	if actions.KindOf(err) != actions.KindForbidden || !strings.Contains(actions.Explain(err), "User.Read.All") {
		t.Fatalf("403: err = %v / %q", err, actions.Explain(err))
	}

	// Groups forbidden only: the lookup still answers, with a note.
	fake.SetFaults(graphtest.Faults{Forbidden: []string{"/transitiveMemberOf"}})
	u, err := c.User(context.Background(), ref)
	if err != nil || !strings.Contains(u.GroupsNote, "GroupMember.Read.All") {
		t.Fatalf("degraded groups: %+v, %v", u, err)
	}

	// Every request throttled: the SDK retries, then the bot says when to try again.
	fake.SetFaults(graphtest.Faults{ThrottleEvery: 1, RetryAfter: 0})
	before := fake.Requests()
	_, err = c.User(context.Background(), ref)
	if actions.KindOf(err) != actions.KindThrottled || !strings.Contains(actions.Explain(err), "throttling") {
		t.Fatalf("429: err = %v", err)
	}
	if n := fake.Requests() - before; n < 2 {
		t.Fatalf("throttled request was not retried (%d requests)", n)
	}
}

func TestNewRefusesAnonymousRemote(t *testing.T) {
	for _, base := range []string{"https://graph.microsoft.com/v1.0", "http://10.0.0.1/v1.0", "https://graph.microsoft.us/v1.0"} {
		if _, err := graph.New(graph.Config{BaseURL: base}); err == nil {
			t.Errorf("graph.New(%s) with no credential was accepted", base)
		}
	}
	for _, base := range []string{"http://127.0.0.1:1/v1.0", "http://localhost:1/v1.0", "http://[::1]:1/v1.0"} {
		if _, err := graph.New(graph.Config{BaseURL: base}); err != nil {
			t.Errorf("graph.New(%s): %v", base, err)
		}
	}
}
