package slack

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot/slack/slacktest"
)

const userTarget = "U0MFA2"

// targetEnv is the whole bot with the default evidence minimum (a re-register needs
// the user's own confirmation) and mfatest2 in the Slack workspace.
func targetEnv(t *testing.T) *flowEnv {
	e := newFlowEnvPolicy(t, func(p *approvals.Policy) { p.MinEvidence = approvals.DefaultMinEvidence() })
	e.fake.AddUser(userTarget, e.tenant.Email("mfatest2"), nil)
	return e
}

// file files a request through the modal and returns its id and the agent's answer.
func (e *flowEnv) file(action string) (string, string) {
	e.t.Helper()
	e.slash(userHana, action+" "+e.tenant.Email("mfatest2"))
	form := e.requestForm()
	ack := ackJSON(e.t, e.interact(e.submitView(userHana, form, map[string]string{
		fieldReason: "Lost her phone; locked out of Authenticator", fieldVerification: firstOption(e.t.(*testing.T), form),
		fieldDetail: "Slack huddle with video, badge photo matched", fieldTicket: "INC-4711",
	})))
	text := texts(ack["view"])
	return requestIDIn(e.t.(*testing.T), text), text
}

// targetDM waits for the n-th message to the target and returns it with its button
// values by action id.
func (e *flowEnv) targetDM(n int) (*slacktest.Message, map[string][]string) {
	e.t.Helper()
	var dm *slacktest.Message
	e.fake.WaitFor("the message to the target", func() bool {
		i := 0
		for _, m := range e.fake.Messages {
			if m.Channel == "D"+userTarget[1:] {
				if i++; i == n {
					dm = m
					return true
				}
			}
		}
		return false
	})
	values := map[string][]string{}
	for _, b := range dm.Blocks {
		els, _ := b["elements"].([]any)
		for _, el := range els {
			m, _ := el.(map[string]any)
			id, _ := m["action_id"].(string)
			v, _ := m["value"].(string)
			values[id] = append(values[id], v)
		}
	}
	return dm, values
}

// clickDM clicks a button of the target's message as user and returns the private answer.
func (e *flowEnv) clickDM(user, actionID, value string, dm *slacktest.Message) string {
	e.t.Helper()
	ic, ru := e.click(user, actionID, value, dm.Channel, dm.TS)
	e.interact(ic)
	p := e.fake.WaitResponses(ru, 1)[0]
	s, _ := p["text"].(string)
	return s
}

func (e *flowEnv) auditText() string {
	var all []string
	for _, m := range e.fake.Messages { // callers hold the fake's lock (WaitFor)
		if m.Channel == testAudit {
			all = append(all, m.Text)
		}
	}
	return strings.Join(all, "\n")
}

var pickRe = regexp.MustCompile(`pick (\d\d)`)

// TestTargetConfirmsInSlack: filing a re-register sends mfatest2 a DM found by
// directory mail; approval is refused until the user picks the agent's number;
// another person's click, a wrong pick and a replay change nothing; the card then
// says the identity was verified by mfadesk and the approval runs.
func TestTargetConfirmsInSlack(t *testing.T) {
	e := targetEnv(t)
	reqID, answer := e.file("reregister")
	m := pickRe.FindStringSubmatch(answer)
	if m == nil || !strings.Contains(answer, "Slack") {
		t.Fatalf("the agent's answer names no number: %s", answer)
	}
	number := m[1]
	dm, buttons := e.targetDM(1)
	if !strings.Contains(dm.Text+texts(dm.Blocks), "INC-4711") || !strings.Contains(dm.Text, reqID) || len(buttons[actionPick]) != 3 || len(buttons[actionNotMe]) != 1 {
		t.Fatalf("target message %q, buttons %v", dm.Text+texts(dm.Blocks), buttons)
	}
	var right, wrong string
	for _, v := range buttons[actionPick] {
		if strings.HasSuffix(v, ":"+number) {
			right = v
		} else {
			wrong = v
		}
	}
	if right == "" {
		t.Fatalf("the agent's number %s is not among %v", number, buttons[actionPick])
	}

	card := e.approvalCard(reqID)
	ic, ru := e.click(userAlex, actionApprove, reqID, testApprovals, card.TS)
	e.interact(ic)
	if p := e.fake.WaitResponses(ru, 1)[0]; !strings.Contains(p["text"].(string), "confirm") {
		t.Fatalf("approval before the confirmation answered %v", p["text"])
	}

	for _, c := range []struct{ user, value, want string }{
		{"U0NORA", right, "Only"},         // someone other than the target
		{userHana, right, "Only"},         // the agent clicking for the user
		{userTarget, wrong, "tries left"}, // a wrong pick: a failed attempt
		{userTarget, right, "Thank you"},  // the right one
		{userTarget, right, "already"},    // replayed
	} {
		if got := e.clickDM(c.user, actionPick, c.value, dm); !strings.Contains(got, c.want) {
			t.Fatalf("%s picking %s: %q, want %q", c.user, c.value, got, c.want)
		}
	}
	if n := e.graphWrites(); n != 0 {
		t.Fatalf("%d Graph writes before the approval", n)
	}
	e.fake.WaitFor("the card saying verified", func() bool {
		for _, u := range card.Updates {
			if strings.Contains(texts(u.Blocks), "Verified by mfadesk: the user confirmed in Slack") {
				return true
			}
		}
		return false
	})
	ic, ru = e.click(userAlex, actionApprove, reqID, testApprovals, card.TS)
	e.interact(ic)
	if p := e.fake.WaitResponses(ru, 1)[0]; !strings.Contains(p["text"].(string), "approved") {
		t.Fatalf("approval after the confirmation answered %v", p["text"])
	}
	if e.graphWrites() == 0 {
		t.Fatal("the approved request ran no Graph write")
	}
	e.fake.WaitFor("the audit trail of the confirmation", func() bool {
		s := e.auditText()
		return strings.Contains(s, "target_confirmed") && strings.Contains(s, "target_confirmation_failed") && strings.Contains(s, "not_target")
	})
}

// TestTargetWrongNumberThrice: three wrong picks refuse the request; nothing runs.
func TestTargetWrongNumberThrice(t *testing.T) {
	e := targetEnv(t)
	reqID, answer := e.file("reregister")
	number := pickRe.FindStringSubmatch(answer)[1]
	dm, buttons := e.targetDM(1)
	var wrong string
	for _, v := range buttons[actionPick] {
		if !strings.HasSuffix(v, ":"+number) {
			wrong = v
		}
	}
	for i := 0; i < approvals.MaxConfirmFailures; i++ {
		e.clickDM(userTarget, actionPick, wrong, dm)
	}
	got, err := e.stack.Approvals.Get(t.Context(), reqID)
	if err != nil || got.State != approvals.StateDenied {
		t.Fatalf("request after three wrong picks: %v %s", err, got.State)
	}
	if n := e.graphWrites(); n != 0 {
		t.Fatalf("%d Graph writes", n)
	}
}

// TestTargetNotMeInSlack: "This is not me" cancels the open request, alerts the audit
// channel, tells the agent, and freezes the account: a new request is refused with
// the freeze named, until an approver lifts it.
func TestTargetNotMeInSlack(t *testing.T) {
	e := targetEnv(t)
	reqID, _ := e.file("revoke")
	dm, buttons := e.targetDM(1)
	if got := e.clickDM("U0NORA", actionNotMe, buttons[actionNotMe][0], dm); !strings.Contains(got, "Only") {
		t.Fatalf("someone else's not-me: %q", got)
	}
	if got, _ := e.stack.Approvals.Get(t.Context(), reqID); got.State != approvals.StatePending {
		t.Fatalf("someone else's not-me changed the request to %s", got.State)
	}
	if got := e.clickDM(userTarget, actionNotMe, buttons[actionNotMe][0], dm); !strings.Contains(got, "1 request(s) were cancelled") {
		t.Fatalf("not-me answer: %q", got)
	}
	if got, _ := e.stack.Approvals.Get(t.Context(), reqID); got.State != approvals.StateCancelled {
		t.Fatalf("request is %s after not-me", got.State)
	}
	e.fake.WaitFor("the alert and the agent told", func() bool {
		told := false
		for _, m := range e.fake.Messages {
			told = told || (m.Channel == "D0HANA" && strings.Contains(m.Text, reqID) && strings.Contains(m.Text, "not them"))
		}
		return told && strings.Contains(e.auditText(), "ALERT") && strings.Contains(e.auditText(), "target_frozen")
	})
	rec, _ := e.slash(userHana, "revoke "+e.tenant.Email("mfatest2"))
	_ = rec
	var refused string
	e.fake.WaitFor("the frozen refusal", func() bool {
		for _, v := range e.fake.Views {
			if s := texts(v.View["blocks"]); strings.Contains(s, "frozen") {
				refused = s
				return true
			}
		}
		return false
	})
	if !strings.Contains(refused, "unfreeze") {
		t.Fatalf("the refusal does not say who lifts the freeze: %s", refused)
	}
}

// TestTargetNoticeAndUnfreeze: after the write the user gets a notice with "This is
// not me"; pressing it freezes the account; a helpdesk agent cannot lift the freeze,
// an approver can, with a justification; anyone gets their own status with me.
func TestTargetNoticeAndUnfreeze(t *testing.T) {
	e := targetEnv(t)
	reqID, _ := e.file("revoke") // claimed evidence is enough for a revoke
	card := e.approvalCard(reqID)
	ic, ru := e.click(userAlex, actionApprove, reqID, testApprovals, card.TS)
	e.interact(ic)
	e.fake.WaitResponses(ru, 1)
	notice, buttons := e.targetDM(2)
	all := notice.Text + texts(notice.Blocks)
	if !strings.Contains(all, reqID) || !strings.Contains(all, "approved by") || len(buttons[actionNotMe]) != 1 {
		t.Fatalf("notice %q, buttons %v", all, buttons)
	}
	if got := e.clickDM(userTarget, actionNotMe, buttons[actionNotMe][0], notice); !strings.Contains(got, "Thank you") {
		t.Fatalf("not-me on the notice: %q", got)
	}
	unfreeze := "unfreeze " + e.tenant.Email("mfatest2") + " called back on the HR number, it was her"
	for _, c := range []struct{ user, want string }{
		{userHana, "approvers"},
		{userAlex, "lifted"},
	} {
		_, ru := e.slash(c.user, unfreeze)
		p := e.fake.WaitResponses(ru, 1)[0]
		if s, _ := p["text"].(string); !strings.Contains(s, c.want) {
			t.Fatalf("%s: %q, want %q", c.user, s, c.want)
		}
	}
	_, ru = e.slash("U0NORA", "me")
	p := e.fake.WaitResponses(ru, 1)[0]
	if s := fmt.Sprint(p["text"]) + texts(p["blocks"]); !strings.Contains(s, "aka.ms/mysecurityinfo") || p["response_type"] != "ephemeral" {
		t.Fatalf("me: %v", p)
	}
}

// TestTargetConfirmationExpiredInSlack: the target picks the agent's number after the
// confirmation expired (the approvals clock moved past its ten minutes): one line
// says it expired and to ask the agent for a new one; the request stays pending with
// no evidence, the approval is still refused, nothing is written, and the refusal is
// audited.
func TestTargetConfirmationExpiredInSlack(t *testing.T) {
	clock := newClock()
	e := newFlowEnvPolicy(t, func(p *approvals.Policy) { p.MinEvidence = approvals.DefaultMinEvidence() }, clock.Now)
	e.fake.AddUser(userTarget, e.tenant.Email("mfatest2"), nil)
	reqID, answer := e.file("reregister")
	number := pickRe.FindStringSubmatch(answer)[1]
	dm, buttons := e.targetDM(1)
	var right string
	for _, v := range buttons[actionPick] {
		if strings.HasSuffix(v, ":"+number) {
			right = v
		}
	}
	confID, _, _ := strings.Cut(right, ":")

	clock.Advance(approvals.DefaultConfirmTTL)
	got := e.clickDM(userTarget, actionPick, right, dm)
	if !strings.Contains(got, "expired") || !strings.Contains(got, "ask the helpdesk agent to send a new one") || strings.Contains(got, "\n") {
		t.Fatalf("late pick answered %q, want one line saying it expired and what to do", got)
	}
	req, err := e.stack.Approvals.Get(t.Context(), reqID)
	if err != nil || req.State != approvals.StatePending || len(req.Performed) != 0 {
		t.Fatalf("request after the late pick: %v %s %+v", err, req.State, req.Performed)
	}
	if c, err := e.stack.Approvals.Confirmation(t.Context(), confID); err != nil || c.State != approvals.ConfirmOpen {
		t.Fatalf("confirmation after the late pick: %v %s", err, c.State)
	}
	hist, err := e.stack.Approvals.History(t.Context(), reqID)
	if err != nil {
		t.Fatal(err)
	}
	if ev := hist[len(hist)-1]; ev.Kind != approvals.EventRefused || ev.Code != approvals.ErrExpired || ev.Actor.ChatID != userTarget {
		t.Fatalf("last event %+v, want the target's refused late pick", ev)
	}
	e.fake.WaitFor("the refused pick in the audit channel", func() bool {
		s := e.auditText()
		return strings.Contains(s, "access_refused") && strings.Contains(s, "[expired]")
	})
	card := e.approvalCard(reqID)
	ic, ru := e.click(userAlex, actionApprove, reqID, testApprovals, card.TS)
	e.interact(ic)
	if p := e.fake.WaitResponses(ru, 1)[0]; !strings.Contains(p["text"].(string), "confirm") {
		t.Fatalf("approval after the expired pick answered %v", p["text"])
	}
	if n := e.graphWrites(); n != 0 {
		t.Fatalf("%d Graph writes", n)
	}
}
