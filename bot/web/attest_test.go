package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
	"github.com/mfadesk/mfadesk/bot/web"
)

// attestWorld is the demo with a helpdesk agent, an approver, a target (mfatest2)
// and the target's manager as personas; manager names the manager's local part ("" for none).
type attestWorld struct {
	c        *chat
	stack    *bottest.Stack
	personas map[string]web.Persona
	hana     bot.Caller
}

func newAttestWorld(t *testing.T, manager string, notifyManager bool) attestWorld {
	t.Helper()
	tenant := graphtest.MustTenant("demo")
	ps := map[string]web.Persona{}
	var list []web.Persona
	for _, p := range []struct{ id, local string }{{"hana", "hana.helpdesk"}, {"alex", "alex.approver"}, {"mia", "mfatest2"}, {"nora", "nora.norights"}} {
		u := tenant.FindUser(p.local + "@" + domain)
		ps[p.id] = web.Persona{ID: p.id, Name: p.local, ObjectID: u.ID(), UPN: u.UPN()}
		list = append(list, ps[p.id])
	}
	srv, err := web.New(list, nil)
	if err != nil {
		t.Fatal(err)
	}
	stack := bottest.New(t, bottest.Options{Notifiers: map[bot.Platform]bot.Notifier{"web": srv},
		EditTenant: func(tn *graphtest.Tenant) {
			// The demo tenant gives MFA Test 2 a manager (Nora); "" takes it away.
			tn.FindUser("mfatest2@" + domain).Manager = ""
			if manager != "" {
				tn.FindUser("mfatest2@" + domain).Manager = tn.FindUser(manager + "@" + domain).ID()
			}
		},
		EditPolicy: func(p *approvals.Policy) {
			p.MinEvidence, p.NotifyManager = approvals.DefaultMinEvidence(), notifyManager
		}})
	hs := httptest.NewServer(srv.Handler(stack.Router))
	t.Cleanup(hs.Close)
	c := &chat{t: t, url: hs.URL, svc: stack.Approvals, fake: stack.Graph, server: srv}
	c.token = pageToken(t, hs.URL)
	return attestWorld{c: c, stack: stack, personas: ps, hana: bot.Caller{Platform: "web", ChatID: "hana", ObjectID: ps["hana"].ObjectID}}
}

func (w attestWorld) file(t *testing.T) bot.Message {
	t.Helper()
	ans := w.stack.Router.Submit(t.Context(), w.hana, bot.FormSubmission{Action: "reregister", Target: w.personas["mia"].ObjectID,
		Reason: "Lost her phone; locked out of Authenticator", Verification: "video_with_id", VerificationDetail: "video call, badge matched", Ticket: "INC-4711"})
	if ans.RequestID == "" {
		t.Fatalf("submit: %+v", ans)
	}
	return ans
}

// lastInbox returns the persona's newest inbox entry with buttons.
func (w attestWorld) lastInbox(t *testing.T, persona string) web.Entry {
	t.Helper()
	st := w.c.state(persona)
	for i := len(st.Inbox) - 1; i >= 0; i-- {
		if m := st.Inbox[i].Message; m != nil && len(m.Buttons) > 0 {
			return st.Inbox[i]
		}
	}
	t.Fatalf("no message with buttons in %s's inbox", persona)
	return web.Entry{}
}

// TestManagerAttestsInTheDemo drives the whole story through the demo's HTTP API:
// filing asks the target's manager; a short line is refused beside the field; the
// manager attests; a replay is refused; the card says who verified; an approver
// approves; the manager gets a copy of the notice and "This is not them" freezes the
// account, with an alert in the audit pane and the security channel.
func TestManagerAttestsInTheDemo(t *testing.T) {
	w := newAttestWorld(t, "nora.norights", true)
	ans := w.file(t)
	if !strings.Contains(ans.Text, "The manager, Nora Norights, was asked in the demo to attest") {
		t.Fatalf("agent's answer: %s", ans.Text)
	}
	ask := w.lastInbox(t, "nora")
	if ask.Message.Form == nil || !strings.HasPrefix(ask.Message.Form.Action, "attest:") ||
		!strings.Contains(ask.Message.Text, "Hana Helpdesk") || !strings.Contains(ask.Message.Text, "INC-4711") || !strings.Contains(ask.Message.Text, ans.RequestID) {
		t.Fatalf("manager's message: %+v", ask.Message)
	}
	submit := func(persona, line string) bot.Message {
		return w.c.submit(form{Persona: persona, Entry: ask.Seq, Reason: line})
	}
	if m := submit("nora", "saw her"); !m.Refusal || m.Errors["reason"] == "" {
		t.Fatalf("a short line: %+v", m)
	}
	if m := submit("nora", "saw her in person at desk 4"); m.Refusal || !strings.Contains(m.Text, "Thank you") {
		t.Fatalf("attest: %+v", m)
	}
	if m := submit("nora", "saw her in person at desk 4"); !m.Refusal || !strings.Contains(m.Text, "already") {
		t.Fatalf("replayed attestation: %+v", m)
	}
	req, err := w.stack.Approvals.Get(t.Context(), ans.RequestID)
	if err != nil || len(req.Performed) != 1 || req.Performed[0].Method != approvals.MethodManagerAttestation {
		t.Fatalf("performed %+v, %v", req.Performed, err)
	}
	card := bot.RenderApproval(req, nil, func(string) bool { return true })
	found := false
	for _, s := range card.Sections {
		for _, f := range s.Facts {
			found = found || strings.HasPrefix(f.Value, "Verified by mfadesk: the manager, Nora Norights (nora.norights@mfademo.example), attested in the demo at ") &&
				strings.HasSuffix(f.Value, "— 'saw her in person at desk 4'")
		}
	}
	if !found {
		t.Fatalf("card facts do not say the manager attested: %+v", card.Sections)
	}
	if m := w.c.decide("alex", ans.RequestID, true, ""); m.Refusal {
		t.Fatalf("approve: %+v", m)
	}
	if r, _ := w.stack.Approvals.Get(t.Context(), ans.RequestID); r.State != approvals.StateSucceeded {
		t.Fatalf("state %s", r.State)
	}
	copyOf := w.lastInbox(t, "nora")
	if !strings.Contains(copyOf.Message.Text, "As the manager of mfatest2@") || copyOf.Message.Buttons[0].Label != "This is not them" {
		t.Fatalf("manager's copy: %+v", copyOf.Message)
	}
	var m bot.Message
	b := copyOf.Message.Buttons[0]
	for _, who := range []struct{ persona, want string }{{"hana", "Only the manager"}, {"nora", "Thank you"}} {
		if code := w.c.call(http.MethodPost, "/api/target", map[string]string{"persona": who.persona, "kind": string(b.Kind), "value": b.Value}, &m); code != http.StatusOK || !strings.Contains(m.Text, who.want) {
			t.Fatalf("%s: this is not them: %d %+v", who.persona, code, m)
		}
	}
	if _, frozen, _ := w.stack.Approvals.Frozen(t.Context(), w.personas["mia"].ObjectID); !frozen {
		t.Fatal("the manager's denial did not freeze the account")
	}
	var alert, security bool
	for _, a := range w.c.state("hana").Audit {
		alert = alert || !a.Security && strings.Contains(a.Text, "ALERT: the manager of mfatest2@")
		security = security || a.Security && strings.Contains(a.Text, "ALERT: the manager of mfatest2@")
	}
	if !alert || !security {
		t.Fatalf("alert in the audit pane %v, in the security channel %v", alert, security)
	}
}

// TestManagerNotAsked: the agent's answer says in one sentence why no manager was
// asked, and the request then waits for the target as before.
func TestManagerNotAsked(t *testing.T) {
	cases := []struct{ name, manager, persona, want string }{
		{"no manager", "", "", "No manager is recorded for MFA Test 2 in the directory, so no manager can attest."},
		{"manager is the requester", "hana.helpdesk", "hana", "The manager of mfatest2@mfademo.example, hana.helpdesk@mfademo.example, is the requester of "},
		{"manager is an approver", "alex.approver", "alex", "The manager, Alex Approver, was asked in the demo to attest"},
		{"manager out of reach", "olive.optin", "", "The manager, Olive Optin, could not be asked to attest (web chat: Olive Optin is not a persona of this demo)."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newAttestWorld(t, tc.manager, false)
			ans := w.file(t)
			if !strings.Contains(ans.Text, tc.want) {
				t.Fatalf("agent's answer: %s\nwant: %s", ans.Text, tc.want)
			}
			if tc.persona == "" || tc.persona == "alex" {
				return
			}
			for _, e := range w.c.state(tc.persona).Inbox {
				if e.Message != nil && e.Message.Form != nil {
					t.Fatalf("a manager who may not attest got a form: %+v", e.Message)
				}
			}
		})
	}
}

// TestAttesterCannotApproveInTheDemo: an approver who is the target's manager may
// attest, but their approval of the same request is then refused in one sentence
// and changes nothing.
func TestAttesterCannotApproveInTheDemo(t *testing.T) {
	w := newAttestWorld(t, "alex.approver", false)
	ans := w.file(t)
	ask := w.lastInbox(t, "alex")
	if m := w.c.submit(form{Persona: "alex", Entry: ask.Seq, Reason: "saw her in person at desk 4"}); m.Refusal {
		t.Fatalf("attest: %+v", m)
	}
	m := w.c.decide("alex", ans.RequestID, true, "")
	if !m.Refusal || !strings.Contains(m.Text, "one person cannot both vouch and approve") {
		t.Fatalf("the attester's approval: %+v", m)
	}
	if r, _ := w.stack.Approvals.Get(t.Context(), ans.RequestID); r.State != approvals.StatePending || len(r.Decisions) != 0 {
		t.Fatalf("state %s decisions %+v", r.State, r.Decisions)
	}
}

// TestAttestAgain: `attest <request-id>` sends the manager a new message and
// withdraws the old one; only the requester may ask; without notify_manager the
// manager gets no copy of the notice.
func TestAttestAgain(t *testing.T) {
	w := newAttestWorld(t, "nora.norights", false)
	ans := w.file(t)
	first := w.lastInbox(t, "nora")
	if m := w.c.command("alex", "attest "+ans.RequestID); !m.Refusal {
		t.Fatalf("an approver asked again: %+v", m)
	}
	m := w.c.command("hana", "attest "+ans.RequestID)
	if m.Refusal || !strings.Contains(m.Text, "The manager, Nora Norights, was asked in the demo to attest") {
		t.Fatalf("attest again: %+v", m)
	}
	second := w.lastInbox(t, "nora")
	if second.Seq == first.Seq {
		t.Fatal("no new message to the manager")
	}
	if got := w.c.submit(form{Persona: "nora", Entry: first.Seq, Reason: "saw her in person at desk 4"}); !got.Refusal || !strings.Contains(got.Text, "withdrawn") {
		t.Fatalf("the withdrawn attestation: %+v", got)
	}
	if got := w.c.submit(form{Persona: "nora", Entry: second.Seq, Reason: "saw her in person at desk 4"}); got.Refusal {
		t.Fatalf("the new attestation: %+v", got)
	}
	if got := w.c.decide("alex", ans.RequestID, true, ""); got.Refusal {
		t.Fatalf("approve: %+v", got)
	}
	for _, e := range w.c.state("nora").Inbox {
		if e.Message != nil && strings.Contains(e.Message.Text, "As the manager of") {
			t.Fatalf("a copy of the notice without notify_manager: %s", e.Message.Text)
		}
	}
}
