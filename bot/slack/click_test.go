package slack

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/approvals"
)

// buttonValue finds the value of the button with actionID in Block Kit, or "".
func buttonValue(blocks any, actionID string) string {
	raw, _ := json.Marshal(blocks)
	var v any
	_ = json.Unmarshal(raw, &v)
	var found string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["type"] == "button" && x["action_id"] == actionID {
				found, _ = x["value"].(string)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return found
}

// TestFileAndCancelButtons, with the real router on the fake Slack: diagnose's answer
// carries "File a request", whose click opens the same request modal as the slash
// command; the filed copy carries "Cancel request" and the id in spoken groups; only
// the requester's click cancels (audited), and a forged button value is refused.
func TestFileAndCancelButtons(t *testing.T) {
	e := newFlowEnv(t)
	target := e.tenant.FindUser(e.tenant.Email("mfatest2"))

	_, ru := e.slash(userHana, "diagnose "+e.tenant.Email("mfatest2"))
	diag := e.fake.WaitResponses(ru, 1)[0]
	file := buttonValue(diag["blocks"], actionFile)
	if !strings.HasPrefix(file, "reregister ") {
		t.Fatalf("diagnose has no File button:\n%s", texts(diag["blocks"]))
	}
	ic, _ := e.click(userHana, actionFile, file, "D0HANA", "")
	e.interact(ic)
	form := e.requestForm()
	if all := texts(form.View["blocks"]); !strings.Contains(all, target.UPN()) || !strings.Contains(all, "What this does") {
		t.Fatalf("form from the File button:\n%s", all)
	}
	ack := ackJSON(t, e.interact(e.submitView(userHana, form, map[string]string{
		fieldReason: "Lost her phone; locked out of Authenticator", fieldVerification: firstOption(t, form),
		fieldDetail: "Slack huddle with video, badge photo matched", fieldTicket: "INC-4711",
	})))
	reqID := requestIDIn(t, texts(ack["view"]))
	if buttonValue(ack["view"], actionCancel) != "" {
		t.Errorf("a modal shows a Cancel button it could not answer")
	}
	// The copy where the button was clicked carries Cancel and the spoken id.
	filed := e.fake.WaitResponses(ic.ResponseURL, 1)[0]
	if got := buttonValue(filed["blocks"], actionCancel); got != reqID {
		t.Fatalf("filed copy's Cancel button = %q, want %s:\n%s", got, reqID, texts(filed["blocks"]))
	}
	if !strings.Contains(texts(filed["blocks"]), approvals.SpokenID(reqID)) {
		t.Errorf("filed copy lacks the spoken id:\n%s", texts(filed["blocks"]))
	}

	tests := []struct {
		name, user, action, value, want string
	}{
		{"forged cancel value", userHana, actionCancel, "approve " + reqID, "does not belong to mfadesk"},
		{"forged file value", userHana, actionFile, "user " + e.tenant.Email("mfatest2"), "does not belong to mfadesk"},
		{"someone else cancels", userAlex, actionCancel, reqID, "requester"},
		{"the requester cancels", userHana, actionCancel, reqID, "cancelled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ic, ru := e.click(tc.user, tc.action, tc.value, "D0HANA", "")
			e.interact(ic)
			got := e.fake.WaitResponses(ru, 1)[0]
			if text, _ := got["text"].(string); !strings.Contains(strings.ToLower(text+texts(got["blocks"])), tc.want) {
				t.Fatalf("answer = %v, want %q", got, tc.want)
			}
		})
	}
	e.fake.WaitFor("the cancel in the audit channel", func() bool {
		for _, m := range e.fake.Messages {
			if m.Channel == testAudit && strings.Contains(m.Text, reqID) && strings.Contains(m.Text, "cancel") {
				return true
			}
		}
		return false
	})
	if n := e.graphWrites(); n != 0 {
		t.Fatalf("a cancelled request ran %d Graph writes", n)
	}
}
