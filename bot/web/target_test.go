package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
	"github.com/mfadesk/mfadesk/bot/web"
)

// TestTargetPersona: the demo's target persona gets the confirmation in the inbox;
// a pick by another persona is refused, the right pick by the target confirms, a
// replay is refused; "This is not me" on a second request cancels it and freezes.
func TestTargetPersona(t *testing.T) {
	tenant := graphtest.MustTenant("demo")
	var personas []web.Persona
	for _, p := range []struct{ id, local string }{{"hana", "hana.helpdesk"}, {"nora", "nora.norights"}, {"mia", "mfatest2"}} {
		u := tenant.FindUser(p.local + "@" + domain)
		personas = append(personas, web.Persona{ID: p.id, Name: p.local, ObjectID: u.ID(), UPN: u.UPN()})
	}
	srv, err := web.New(personas, nil)
	if err != nil {
		t.Fatal(err)
	}
	stack := bottest.New(t, bottest.Options{Notifiers: map[bot.Platform]bot.Notifier{"web": srv},
		EditPolicy: func(p *approvals.Policy) { p.MinEvidence = approvals.DefaultMinEvidence() }})
	hs := httptest.NewServer(srv.Handler(stack.Router))
	t.Cleanup(hs.Close)
	c := &chat{t: t, url: hs.URL, svc: stack.Approvals, fake: stack.Graph, server: srv}
	c.token = pageToken(t, hs.URL)

	hana := bot.Caller{Platform: "web", ChatID: "hana", ObjectID: personas[0].ObjectID}
	file := func(action string) (string, string) {
		ans := stack.Router.Submit(t.Context(), hana, bot.FormSubmission{Action: action, Target: personas[2].ObjectID,
			Reason: "Lost her phone; locked out of Authenticator", Verification: "video_with_id", VerificationDetail: "video call, badge matched", Ticket: "INC-4711"})
		if ans.RequestID == "" {
			t.Fatalf("submit: %+v", ans)
		}
		return ans.RequestID, ans.Text
	}
	lastButtons := func() []bot.Button {
		st := c.state("mia")
		for i := len(st.Inbox) - 1; i >= 0; i-- {
			if m := st.Inbox[i].Message; m != nil && len(m.Buttons) > 0 {
				return m.Buttons
			}
		}
		t.Fatal("no message with buttons in the target's inbox")
		return nil
	}
	click := func(persona string, b bot.Button) string {
		var m bot.Message
		if code := c.call(http.MethodPost, "/api/target", map[string]string{"persona": persona, "kind": string(b.Kind), "value": b.Value}, &m); code != http.StatusOK {
			t.Fatalf("target click: status %d", code)
		}
		return m.Text
	}

	reqID, text := file("reregister")
	number := regexp.MustCompile(`pick (\d\d)`).FindStringSubmatch(text)
	if number == nil {
		t.Fatalf("agent's answer: %s", text)
	}
	var right bot.Button
	for _, b := range lastButtons() {
		if b.Kind == bot.ButtonPick && strings.HasSuffix(b.Value, ":"+number[1]) {
			right = b
		}
	}
	for _, s := range []struct{ persona, want string }{{"nora", "Only"}, {"mia", "Thank you"}, {"mia", "already"}} {
		if got := click(s.persona, right); !strings.Contains(got, s.want) {
			t.Fatalf("%s: %q, want %q", s.persona, got, s.want)
		}
	}
	if r, _ := stack.Approvals.Get(t.Context(), reqID); len(r.Performed) != 1 {
		t.Fatalf("performed %+v", r.Performed)
	}
	if _, err := stack.Approvals.Cancel(t.Context(), reqID, approvals.Actor{Platform: "web", ChatID: "hana", ObjectID: hana.ObjectID}); err != nil {
		t.Fatal(err)
	}

	reqID, _ = file("revoke")
	var notMe bot.Button
	for _, b := range lastButtons() {
		if b.Kind == bot.ButtonNotMe {
			notMe = b
		}
	}
	if got := click("mia", notMe); !strings.Contains(got, "cancelled") {
		t.Fatalf("not-me: %q", got)
	}
	if r, _ := stack.Approvals.Get(t.Context(), reqID); r.State != approvals.StateCancelled {
		t.Fatalf("request %s after not-me", r.State)
	}
	st := c.state("hana")
	audit := ""
	for _, a := range st.Audit {
		audit += a.Text + "\n"
	}
	if !strings.Contains(audit, "ALERT") {
		t.Fatalf("no alert in the audit pane:\n%s", audit)
	}
	if m := c.command("hana", "revoke mfatest2@"+domain); !m.Refusal || !strings.Contains(m.Text, "frozen") {
		t.Fatalf("a request about a frozen user: %+v", m)
	}
}

// TestNotMeCardNamesTheUser: after the target pressed "This is not me", the request's
// card and the requester's notice of the outcome say the user denied it; they do
// not say the requester cancelled it. Before, both said "cancelled by" the agent,
// which hid the alarm from whoever read the card later.
func TestNotMeCardNamesTheUser(t *testing.T) {
	tenant := graphtest.MustTenant("demo")
	var personas []web.Persona
	for _, p := range []struct{ id, local string }{{"hana", "hana.helpdesk"}, {"mia", "mfatest2"}} {
		u := tenant.FindUser(p.local + "@" + domain)
		personas = append(personas, web.Persona{ID: p.id, Name: p.local, ObjectID: u.ID(), UPN: u.UPN()})
	}
	srv, err := web.New(personas, nil)
	if err != nil {
		t.Fatal(err)
	}
	stack := bottest.New(t, bottest.Options{Notifiers: map[bot.Platform]bot.Notifier{"web": srv}})
	hs := httptest.NewServer(srv.Handler(stack.Router))
	t.Cleanup(hs.Close)
	c := &chat{t: t, url: hs.URL, svc: stack.Approvals, fake: stack.Graph, server: srv}
	c.token = pageToken(t, hs.URL)

	hana := bot.Caller{Platform: "web", ChatID: "hana", ObjectID: personas[0].ObjectID}
	ans := stack.Router.Submit(t.Context(), hana, bot.FormSubmission{Action: "revoke", Target: personas[1].ObjectID,
		Reason: "Caller says the phone was stolen", Verification: "video_with_id", VerificationDetail: "video call, badge matched", Ticket: "INC-4712"})
	if ans.RequestID == "" {
		t.Fatalf("submit: %+v", ans)
	}
	var notMe bot.Button
	for _, e := range c.state("mia").Inbox {
		for _, b := range e.Message.Buttons {
			if b.Kind == bot.ButtonNotMe {
				notMe = b
			}
		}
	}
	var m bot.Message
	if code := c.call(http.MethodPost, "/api/target", map[string]string{"persona": "mia", "kind": string(notMe.Kind), "value": notMe.Value}, &m); code != http.StatusOK || !strings.Contains(m.Text, "1 request(s) were cancelled") {
		t.Fatalf("not-me: %d %q", code, m.Text)
	}
	text := func(m bot.Message) string {
		b, _ := json.Marshal(m)
		return string(b)
	}
	st := c.state("hana")
	var card string
	for _, k := range st.Approvals {
		if k.Message.RequestID == ans.RequestID {
			card = text(k.Message)
		}
	}
	if !strings.Contains(card, "said they did not ask for it") || strings.Contains(card, "requester cancelled") || strings.Contains(card, `"Label":"Cancelled","Value":"by Hana`) {
		t.Errorf("the card of the denied request:\n%s", card)
	}
	outcome := ""
	for _, e := range st.Inbox {
		if e.Message.RequestID == ans.RequestID {
			outcome = text(*e.Message)
		}
	}
	if !strings.Contains(outcome, "said they did not ask for it") || strings.Contains(outcome, "cancelled by") {
		t.Errorf("the requester's notice of the outcome:\n%s", outcome)
	}
}
