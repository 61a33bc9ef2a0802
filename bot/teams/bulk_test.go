package teams

import (
	"context"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/chat"
)

// A bulk run paused after its canary carries Continue and Stop as Action.Execute;
// their invokes reach the router as the press of the validated caller, bound to the
// card clicked.
func TestBulkContinueStopInvoke(t *testing.T) {
	for _, verb := range []string{VerbContinue, VerbStop} {
		t.Run(verb, func(t *testing.T) {
			e := newEnv(t)
			paused := bot.Message{Text: "Require re-register MFA for 8 users — paused.", Title: "Paused", RequestID: "R-7KQ2M4XD",
				Buttons: []bot.Button{{Kind: chat.ButtonContinue, Label: "Continue", Value: "R-7KQ2M4XD"}, {Kind: chat.ButtonStop, Label: "Stop", Value: "R-7KQ2M4XD"}}}
			ref, err := e.ad.PostApproval(context.Background(), paused)
			if err != nil {
				t.Fatal(err)
			}
			e.router.decide = func(ctx context.Context, c bot.Caller, d bot.Decision) bot.Message {
				return bot.Message{Text: "You pressed it.", Private: true}
			}
			if s := cardText(RenderCard(paused)); !strings.Contains(s, `"verb":"continue"`) || !strings.Contains(s, `"verb":"stop"`) {
				t.Fatalf("paused card %s", s)
			}
			r, _ := decodeInvoke(t, e.post(invoke(t, "f:"+verb+"-1", ref.Channel, ref.ID, verb, map[string]any{"request": "R-7KQ2M4XD"}, alex)))
			if r.StatusCode != 200 {
				t.Fatalf("answer %+v", r)
			}
			if _, _, n := e.router.counts(); n != 1 {
				t.Fatalf("decided %d times", n)
			}
			if d := e.router.decisions[0]; d != (bot.Decision{RequestID: "R-7KQ2M4XD", Bulk: verb, Card: bot.CardRef{Platform: "teams", Channel: ref.Channel, ID: ref.ID}}) {
				t.Errorf("decision %+v", d)
			}
		})
	}
}
