package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
)

// TestApprovalCardSpeaksByState: a card is read after the fact too. Only an open
// request's card promises what will run; a done card says what ran, a closed one
// that nothing ran and who closed it, and when.
func TestApprovalCardSpeaksByState(t *testing.T) {
	created := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	base := approvals.Request{
		ID: "R-7KQ2M4XDAAAAAAAAAAAAAAAAAA", Action: approvals.ActionReregister,
		Target:    approvals.Target{ObjectID: oidTarget, UPN: "mfatest2@contoso.example", DisplayName: "MFA Test 2"},
		Requester: approvals.Actor{Platform: "web", ObjectID: oidAgent, DisplayName: "Hana Helpdesk (hana@contoso.example)"},
		Methods: []approvals.MethodRef{
			{ID: "m1", Type: "microsoftAuthenticator", Label: "Microsoft Authenticator (iPhone 13)"},
			{ID: "m2", Type: "fido2", Label: "FIDO2 security key (YubiKey 5C)"},
		},
		Reason: "Lost phone", Created: created, Expires: created.Add(30 * time.Minute), Updated: created.Add(7 * time.Minute),
	}
	deletes := func(t string) bool { return t == "microsoftAuthenticator" }
	tests := []struct {
		state   approvals.State
		want    []string
		mustNot []string
		buttons bool
	}{
		{approvals.StatePending, []string{"What will run", "On approval mfadesk deletes", "| deleted", "| kept"}, []string{"Nothing ran", "What ran"}, true},
		{approvals.StateExecuting, []string{"What is running", "is deleting", "| being deleted"}, []string{"On approval", "What will run"}, false},
		{approvals.StateSucceeded, []string{"What ran", "mfadesk deleted the user's phone", "| deleted", "| kept"}, []string{"On approval", "What will run", "deletes"}, false},
		{approvals.StateFailed, []string{"What was attempted", "failed", "| delete"}, []string{"On approval", "What will run", "| deleted"}, false},
		{approvals.StateDenied, []string{"Nothing ran: the request was denied", "| delete"}, []string{"On approval", "What will run", "| deleted", "deletes"}, false},
		{approvals.StateExpired, []string{"Nothing ran: the request expired", "Expired: at 2026-12-04 09:30 UTC, before an approver decided; nothing ran"}, []string{"On approval", "What will run", "| deleted", "deletes"}, false},
		{approvals.StateCancelled, []string{"Nothing ran: the requester cancelled", "Cancelled: by Hana Helpdesk (hana@contoso.example) at 2026-12-04 09:07 UTC; nothing ran"}, []string{"On approval", "What will run", "| deleted", "deletes"}, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.state), func(t *testing.T) {
			req := base
			req.State = tt.state
			m := bot.RenderApproval(req, nil, deletes)
			txt := cardText(m)
			for _, w := range tt.want {
				if !strings.Contains(txt, w) {
					t.Errorf("card lacks %q:\n%s", w, txt)
				}
			}
			for _, w := range tt.mustNot {
				if strings.Contains(txt, w) {
					t.Errorf("card says %q:\n%s", w, txt)
				}
			}
			if got := len(m.Buttons) > 0; got != tt.buttons {
				t.Errorf("buttons %v, want %v", got, tt.buttons)
			}
		})
	}
}

// TestOutcomeMessage: the requester learns how their request ended in the headline
// and the text (all a notification or the demo's inbox shows): who denied it and why.
func TestOutcomeMessage(t *testing.T) {
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	req := approvals.Request{
		ID: "R-7KQ2M4XDAAAAAAAAAAAAAAAAAA", Action: approvals.ActionRevoke,
		Target:    approvals.Target{ObjectID: oidTarget, UPN: "mfatest2@contoso.example", DisplayName: "MFA Test 2"},
		Requester: approvals.Actor{Platform: "web", ObjectID: oidAgent, DisplayName: "Hana Helpdesk (hana@contoso.example)"},
		Expires:   at.Add(30 * time.Minute), Updated: at.Add(5 * time.Minute),
	}
	denied := req
	denied.State = approvals.StateDenied
	denied.Decisions = []approvals.Decision{{Verdict: approvals.VerdictDeny, By: approvals.Actor{ObjectID: oidAppr, DisplayName: "Sam Approver (sam@contoso.example)"}, At: at, Justification: "Call the user on +1 425 555 0199 first."}}
	expired := req
	expired.State = approvals.StateExpired
	cancelled := req
	cancelled.State = approvals.StateCancelled
	failed := req
	failed.State = approvals.StateFailed
	failed.Error = "Graph refused the sign-out (403)"
	tests := []struct {
		name  string
		req   approvals.Request
		title string
		want  []string
	}{
		{"denied", denied, "Your request R-7KQ2M4XDAAAAAAAAAAAAAAAAAA is denied", []string{"is denied by Sam Approver (sam@contoso.example): Call the user on", " first."}},
		{"expired", expired, "Your request R-7KQ2M4XDAAAAAAAAAAAAAAAAAA is expired", []string{"no approver decided by 2026-12-04 09:30 UTC", "nothing ran"}},
		{"cancelled", cancelled, "Your request R-7KQ2M4XDAAAAAAAAAAAAAAAAAA is cancelled", []string{"cancelled by Hana Helpdesk (hana@contoso.example) at 2026-12-04 09:05 UTC"}},
		{"failed", failed, "Your request R-7KQ2M4XDAAAAAAAAAAAAAAAAAA failed", []string{"failed: Graph refused the sign-out (403)."}},
	}
	for _, tt := range tests {
		m := bot.OutcomeMessage(tt.req, bot.RenderApproval(tt.req, nil, func(string) bool { return true }))
		if m.Title != tt.title {
			t.Errorf("%s: title %q, want %q", tt.name, m.Title, tt.title)
		}
		for _, w := range tt.want {
			if !strings.Contains(m.Text, w) {
				t.Errorf("%s: text %q lacks %q", tt.name, m.Text, w)
			}
		}
		if strings.Contains(m.Text, "555 0199") {
			t.Errorf("%s: a full phone number in the requester's message: %q", tt.name, m.Text)
		}
		if len(m.Sections) == 0 || !m.Private || m.RequestID != tt.req.ID {
			t.Errorf("%s: %+v", tt.name, m)
		}
	}
}

// TestRequesterToldWhyDenied drives a denial through the router: the requester's
// message names the approver and carries the justification.
func TestRequesterToldWhyDenied(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	f := goodForm
	f.Action = "revoke"
	ack := h.r.Submit(ctx, agent, f)
	if ack.Refusal {
		t.Fatal(ack.Text)
	}
	if m := h.r.Decide(ctx, approver, bot.Decision{RequestID: ack.RequestID, Justification: "No sign of compromise; call the user first", Card: h.n.card(ack.RequestID)}); m.Refusal {
		t.Fatal(m.Text)
	}
	if len(h.n.told) != 1 || !strings.Contains(h.n.told[0], "is denied by Alex Approver (alex@contoso.example): No sign of compromise; call the user first.") {
		t.Fatalf("requester told %q", h.n.told)
	}
	last := cardText(h.n.updates[len(h.n.updates)-1])
	if strings.Contains(last, "On approval") || !strings.Contains(last, "Nothing ran: the request was denied") {
		t.Errorf("denied card:\n%s", last)
	}
}
