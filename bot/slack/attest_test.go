package slack

import (
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot/slack/slacktest"
)

const testSecurity = "C0SECURITY"

// TestManagerAttestsInSlack: filing a re-register asks the target's manager in a DM
// found by directory mail; "Vouch for them…" opens a modal; a short line is refused
// on its block; the manager's line is recorded as performed evidence; someone else's
// "This is not them" changes nothing; the manager's cancels the request, freezes the
// account and alerts the audit and the security channel.
func TestManagerAttestsInSlack(t *testing.T) {
	e := newFlowEnvWith(t, func(p *approvals.Policy) { p.MinEvidence = approvals.DefaultMinEvidence() },
		func(tn *graphtest.Tenant) {
			tn.FindUser(tn.Email("mfatest2")).Manager = tn.FindUser(tn.Email("nora.norights")).ID()
		}, testSecurity, nil)
	e.fake.AddUser(userTarget, e.tenant.Email("mfatest2"), nil)
	reqID, text := e.file("reregister")
	if !strings.Contains(text, "The manager, Nora Norights, was asked in Slack to attest") {
		t.Fatalf("agent's answer: %s", text)
	}
	var dm *slacktest.Message
	e.fake.WaitFor("the message to the manager", func() bool {
		for _, m := range e.fake.Messages {
			if m.Channel == "D0NORA" {
				dm = m
				return true
			}
		}
		return false
	})
	values := map[string]string{}
	for _, b := range dm.Blocks {
		els, _ := b["elements"].([]any)
		for _, el := range els {
			m, _ := el.(map[string]any)
			id, _ := m["action_id"].(string)
			v, _ := m["value"].(string)
			values[id] = v
		}
	}
	if !strings.HasPrefix(values[actionAttest], "attest:M-") || !strings.HasPrefix(values[actionNotMe], "M-") || !strings.Contains(texts(dm.Blocks), reqID) {
		t.Fatalf("manager's message: %v\n%s", values, texts(dm.Blocks))
	}

	ic, _ := e.click("U0NORA", actionAttest, values[actionAttest], dm.Channel, dm.TS)
	e.interact(ic)
	var form *slacktest.View
	e.fake.WaitFor("the attestation form", func() bool {
		for _, v := range e.fake.Views {
			if v.View["callback_id"] == callbackAttest {
				form = v
				return true
			}
		}
		return false
	})
	form = e.fake.View(form.ID)
	ack := ackJSON(t, e.interact(e.submitView("U0NORA", form, map[string]string{fieldReason: "saw her"})))
	if ack["response_action"] != "errors" {
		t.Fatalf("a short line: %v", ack)
	}
	ack = ackJSON(t, e.interact(e.submitView("U0NORA", form, map[string]string{fieldReason: "saw her in person at desk 4"})))
	if got := texts(ack["view"]); !strings.Contains(got, "Thank you") {
		t.Fatalf("attest: %s", got)
	}
	r, _ := e.stack.Approvals.Get(t.Context(), reqID)
	if len(r.Performed) != 1 || r.Performed[0].Method != approvals.MethodManagerAttestation || r.Performed[0].Platform != "slack" ||
		r.Performed[0].Line != "saw her in person at desk 4" {
		t.Fatalf("performed %+v", r.Performed)
	}

	if got := e.clickDM(userHana, actionNotMe, values[actionNotMe], dm); !strings.Contains(got, "Only") {
		t.Fatalf("someone else's this-is-not-them: %q", got)
	}
	if got, _ := e.stack.Approvals.Get(t.Context(), reqID); got.State != approvals.StatePending {
		t.Fatalf("someone else's click changed the request to %s", got.State)
	}
	if got := e.clickDM("U0NORA", actionNotMe, values[actionNotMe], dm); !strings.Contains(got, "1 request(s) were cancelled") {
		t.Fatalf("manager's this-is-not-them: %q", got)
	}
	if got, _ := e.stack.Approvals.Get(t.Context(), reqID); got.State != approvals.StateCancelled {
		t.Fatalf("request is %s", got.State)
	}
	e.fake.WaitFor("the alert in the audit and the security channel", func() bool {
		security := false
		for _, m := range e.fake.Messages {
			security = security || m.Channel == testSecurity && strings.Contains(m.Text, "ALERT: the manager of mfatest2@")
		}
		return security && strings.Contains(e.auditText(), "ALERT: the manager of mfatest2@")
	})
}
