package slack

import (
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/bot"
)

// A failed, retryable card carries a Retry button (with Slack's confirm dialog), and
// its click reaches the router as a retry by the verified clicker.
func TestRetryButton(t *testing.T) {
	card := bot.Message{Text: "Revoke sessions for Alice — failed.", RequestID: "R-7KQ2M4XD",
		Buttons: []bot.Button{{Kind: bot.ButtonRetry, Label: "Retry", Value: "R-7KQ2M4XD"}}}
	blocks := blocksJSON(t, renderBlocks(card, renderOptions{maxBlocks: maxMessageBlocks, title: true, buttons: true}), 50)
	els := blocks[len(blocks)-1]["elements"].([]any)
	if btn := els[0].(map[string]any); len(els) != 1 || btn["action_id"] != actionRetry || btn["value"] != "R-7KQ2M4XD" || btn["confirm"] == nil {
		t.Fatalf("retry button = %v", els)
	}

	h := newHarness(t, ModeHTTP, nil)
	h.h.decide = func(c bot.Caller, d bot.Decision) bot.Message {
		return bot.Message{Private: true, Text: "You retried R-7KQ2M4XD: it is now done."}
	}
	ic, ru := h.click(userAlex, actionRetry, "R-7KQ2M4XD", testApprovals, "1700000000.000001")
	h.interact(ic)
	if p := h.fake.waitResponses(ru, 1)[0]; !strings.Contains(p["text"].(string), "retried") {
		t.Fatalf("answer = %v", p)
	}
	h.h.mu.Lock()
	d := h.h.decisions[len(h.h.decisions)-1]
	h.h.mu.Unlock()
	if d.Decision != (bot.Decision{RequestID: "R-7KQ2M4XD", Retry: true, Card: bot.CardRef{Platform: "slack", Channel: testApprovals, ID: "1700000000.000001"}}) || d.Caller.ObjectID != oidAlex {
		t.Fatalf("decision = %+v", d)
	}
}
