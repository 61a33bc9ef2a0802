package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
)

// Graph throttles the sign-out: the card in the pane offers Retry, and a retry
// posted by an approver reaches the router and carries the request out.
func TestRetryFromThePane(t *testing.T) {
	c := newChat(t)
	entry := c.openForm("hana", "revoke mfatest2@"+domain)
	f := validForm("hana", entry)
	m := c.submit(f)
	if m.Refusal || m.RequestID == "" {
		t.Fatalf("submit: %+v", m)
	}
	id := m.RequestID
	c.fake.SetFaults(graphtest.Faults{ThrottleEvery: 1, ThrottleOnly: []string{"revokeSignInSessions"}, RetryAfter: time.Minute})
	c.decide("alex", id, true, "")
	card := cardOf(c.state("sam"), id)
	if card == nil || len(card.Message.Buttons) != 1 || card.Message.Buttons[0].Kind != bot.ButtonRetry {
		t.Fatalf("failed card = %+v", card)
	}
	c.fake.SetFaults(graphtest.Faults{})
	var ans bot.Message
	if code := c.call(http.MethodPost, "/api/decide", map[string]any{"persona": "sam", "card_id": card.ID, "request_id": id, "retry": true}, &ans); code != http.StatusOK || !strings.Contains(ans.Text, "retried") {
		t.Fatalf("retry: %d %+v", code, ans)
	}
	if r, err := c.svc.Get(t.Context(), id); err != nil || r.State != approvals.StateSucceeded {
		t.Fatalf("after the retry: %+v, %v", r, err)
	}
}
