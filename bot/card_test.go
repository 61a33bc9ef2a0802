package bot_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
)

// A decision counts only when it comes from a card posted for that request: request
// B's id clicked on request A's card, a click from anywhere else (a private chat, no
// card at all), or a card of another platform is refused in one line, changes
// nothing and is audited; the click on B's own card then works. Before the check, the
// router decided whatever request the button named.
func TestDecisionBoundToItsCard(t *testing.T) {
	const oidOther = "00000000-0000-4000-8000-000000000005"
	h := newHarness(t)
	ctx := context.Background()
	h.b.mu.Lock()
	h.b.users[oidOther] = actions.User{ID: oidOther, DisplayName: "MFA Test 5", UPN: "mfatest5@contoso.example", Enabled: true}
	h.b.mu.Unlock()

	a := h.r.Submit(ctx, agent, goodForm)
	other := goodForm
	other.Action, other.Target = "revoke", oidOther
	b := h.r.Submit(ctx, agent, other)
	if a.Refusal || b.Refusal {
		t.Fatalf("submit: %+v / %+v", a, b)
	}
	cardA, cardB := h.n.card(a.RequestID), h.n.card(b.RequestID)
	if cardA == cardB || cardA.ID == "" {
		t.Fatalf("cards %+v / %+v", cardA, cardB)
	}
	slackB := cardB
	slackB.Platform = "slack"
	for _, tc := range []struct {
		name  string
		card  bot.CardRef
		retry bool
	}{
		{"B's id on A's card", cardA, false},
		{"Retry with B's id on A's card", cardA, true},
		{"from a private chat", bot.CardRef{Platform: "web", Channel: "D-alex", ID: "99"}, false},
		{"no card", bot.CardRef{}, false},
		{"B's card reported by another platform", slackB, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := h.svc.History(ctx, b.RequestID)
			m := h.r.Decide(ctx, approver, bot.Decision{RequestID: b.RequestID, Approve: !tc.retry, Retry: tc.retry, Card: tc.card})
			if !m.Refusal || !strings.Contains(m.Text, "not on the approval card") || strings.Contains(m.Text, "\n") {
				t.Fatalf("answer: %+v", m)
			}
			if got, _ := h.svc.Get(ctx, b.RequestID); got.State != approvals.StatePending || len(got.Decisions) != 0 {
				t.Fatalf("request B changed: %s %+v", got.State, got.Decisions)
			}
			if len(h.b.Writes()) != 0 {
				t.Fatalf("writes: %v", h.b.Writes())
			}
			after, _ := h.svc.History(ctx, b.RequestID)
			if len(after) != len(before)+1 {
				t.Fatalf("refusal not audited: %d events before, %d after", len(before), len(after))
			}
			if ev := after[len(after)-1]; ev.Kind != approvals.EventRefused || ev.Code != approvals.ErrWrongCard || ev.Actor.ObjectID != oidAppr {
				t.Errorf("audit event %+v", ev)
			}
		})
	}
	if got, _ := h.svc.Get(ctx, a.RequestID); got.State != approvals.StatePending {
		t.Fatalf("request A changed: %s", got.State)
	}
	// On its own card the same click decides B.
	m := h.r.Decide(ctx, approver, bot.Decision{RequestID: b.RequestID, Approve: true, Card: cardB})
	if m.Refusal {
		t.Fatalf("approve on B's card: %+v", m)
	}
	if got, _ := h.svc.Get(ctx, b.RequestID); got.State == approvals.StatePending || len(got.Decisions) != 1 {
		t.Fatalf("B after the approval on its card: %s %+v", got.State, got.Decisions)
	}
}
