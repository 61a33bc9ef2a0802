package teams

import (
	"context"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/bot"
)

// A failed, retryable card carries a Retry Action.Execute, and its invoke reaches
// the router as a retry by the validated caller.
func TestRetryInvoke(t *testing.T) {
	e := newEnv(t)
	failed := bot.Message{Text: "Revoke sessions for Alice — failed.", Title: "Failed: revoke", RequestID: "R-7KQ2M4XD",
		Buttons: []bot.Button{{Kind: bot.ButtonRetry, Label: "Retry", Value: "R-7KQ2M4XD"}}}
	ref, err := e.ad.PostApproval(context.Background(), failed)
	if err != nil {
		t.Fatal(err)
	}
	e.router.decide = func(ctx context.Context, c bot.Caller, d bot.Decision) bot.Message {
		return bot.Message{Text: "You retried R-7KQ2M4XD: it is now done.", Private: true}
	}
	if s := cardText(RenderCard(failed)); !strings.Contains(s, `"verb":"retry"`) {
		t.Fatalf("failed card %s", s)
	}
	r, _ := decodeInvoke(t, e.post(invoke(t, "f:retry-1", ref.Channel, ref.ID, VerbRetry, map[string]any{"request": "R-7KQ2M4XD"}, alex)))
	if r.StatusCode != 200 {
		t.Fatalf("retry answer %+v", r)
	}
	if _, _, n := e.router.counts(); n != 1 {
		t.Fatalf("decided %d times", n)
	}
	if d := e.router.decisions[0]; d != (bot.Decision{RequestID: "R-7KQ2M4XD", Retry: true, Card: bot.CardRef{Platform: "teams", Channel: ref.Channel, ID: ref.ID}}) || e.router.callers[0].ObjectID != "aaaaaaaa-0000-0000-0000-000000000002" {
		t.Errorf("decision %+v by %+v", d, e.router.callers[0])
	}
}
