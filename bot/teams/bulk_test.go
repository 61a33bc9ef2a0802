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

// The bulk form's users field (reregister --list) is a multi-line Input.Text bounded
// by the platform's limit; its submission reaches the router, which files the set.
func TestBulkListFormTeams(t *testing.T) {
	s := newTeamsStack(t)
	msg := s.stack.Router.Handle(t.Context(), bot.Event{Caller: bot.Caller{Platform: bot.PlatformTeams, ChatID: "29:hana.helpdesk",
		ObjectID: s.stack.Tenant.FindUser(s.stack.Tenant.Email("hana.helpdesk")).ID()}, Text: "reregister --list"})
	if msg.Form == nil || msg.Form.Users == nil || msg.Form.Users.Max != chat.PasteLimit(chat.PlatformTeams) {
		t.Fatalf("form: %+v", msg)
	}
	if c := cardText(RenderForm(msg, *msg.Form, nil, formState{})); !strings.Contains(c, `"id":"users"`) || !strings.Contains(c, `"maxLength":4000`) {
		t.Fatalf("form card lacks the users field: %s", c)
	}
	gid := s.stack.Tenant.GroupID("mfa-rollback-affected")
	var upns []string
	for _, u := range s.stack.Tenant.Users {
		for _, g := range u.MemberOf {
			if g == gid {
				upns = append(upns, u.UPN())
			}
		}
	}
	data := map[string]any{"action": "reregister", "target": msg.Form.Target, "users": strings.Join(upns, "\n"), "reason": "MFA campaign rolled back (CHG-88)",
		"verification": "video_with_id", "verification_detail": "CAB change, list from the campaign report", "ticket": "CHG-88"}
	_, ack := decodeInvoke(t, s.post(invoke(t, "f:bulk-1", "a:hana-personal", "1", VerbSubmit, data, s.person("hana.helpdesk"))))
	if c := cardText(ack); !strings.Contains(c, "5 eligible; 1 skipped: no phone, Authenticator or OATH method; 2 skipped: protected target") {
		t.Fatalf("answer: %s", c)
	}
}
