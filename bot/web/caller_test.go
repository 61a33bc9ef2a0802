package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// TestWebChatDisabledApproverRefused: the demo's personas pass through the same
// caller rule as Slack and Teams. An approver whose directory account is disabled
// after a request was filed is refused with that cause, and nothing runs.
func TestWebChatDisabledApproverRefused(t *testing.T) {
	c := newChat(t)
	ack := c.submit(validForm("hana", c.openForm("hana", "revoke fiona.failures@"+domain)))
	if ack.Refusal || ack.RequestID == "" {
		t.Fatalf("submit: %+v", ack)
	}
	c.fake.Tenant(func(tn *graphtest.Tenant) {
		tn.FindUser("alex.approver@" + domain).User["accountEnabled"] = false
	})
	m := c.decide("alex", ack.RequestID, true, "")
	if !m.Refusal || !strings.Contains(m.Text, "Your directory account is disabled") {
		t.Fatalf("disabled approver's approval: %+v", m)
	}
	for _, r := range c.fake.Records() {
		if r.Method == http.MethodDelete || strings.Contains(r.Path, "revokeSignInSessions") {
			t.Fatalf("Graph write after a refused approval: %s %s", r.Method, r.Path)
		}
	}
	if card := cardOf(c.state("hana"), ack.RequestID); card == nil || len(card.Message.Buttons) != 2 {
		t.Fatalf("the card is no longer pending: %+v", card)
	}
	// A guest in the helpdesk group can neither look up nor ask for a form.
	c.fake.Tenant(func(tn *graphtest.Tenant) {
		tn.FindUser("hana.helpdesk@" + domain).User["userType"] = "Guest"
	})
	for _, text := range []string{"/mfa user mfatest2@" + domain, "/mfa reregister mfatest2@" + domain} {
		if m := c.command("hana", text); !m.Refusal || m.Form != nil || !strings.Contains(m.Text, "guest account") {
			t.Errorf("guest %q: %+v", text, m)
		}
	}
}
