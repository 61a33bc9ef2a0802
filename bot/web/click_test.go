package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
)

func (c *chat) click(persona string, b bot.Button) bot.Message {
	c.t.Helper()
	var m bot.Message
	if code := c.call(http.MethodPost, "/api/click", map[string]any{"persona": persona, "kind": b.Kind, "value": b.Value}, &m); code != http.StatusOK {
		c.t.Fatalf("%s clicks %+v: status %d", persona, b, code)
	}
	return m
}

func buttonOf(m bot.Message, kind bot.ButtonKind) *bot.Button {
	for i := range m.Buttons {
		if m.Buttons[i].Kind == kind {
			return &m.Buttons[i]
		}
	}
	return nil
}

// TestWebChatFileAndCancel: diagnose's File button opens the same form as typing the
// verb, in the conversation; the filed confirmation's Cancel button cancels only for
// the requester, through the router (audited); forged buttons change nothing.
func TestWebChatFileAndCancel(t *testing.T) {
	c := newChat(t)
	diag := c.command("hana", "diagnose mfatest2@"+domain)
	file := buttonOf(diag, bot.ButtonFile)
	if file == nil {
		t.Fatalf("diagnose has no File button: %+v", diag)
	}
	m := c.click("hana", *file)
	typed := c.command("hana", "reregister mfatest2@"+domain)
	if m.Form == nil || typed.Form == nil || m.Form.Target != typed.Form.Target || m.Form.Action != "reregister" {
		t.Fatalf("File click form %+v, typed %+v", m.Form, typed.Form)
	}
	conv := c.state("hana").Conversation
	entry := conv[len(conv)-3] // the click's form, before the typed command and its form
	if entry.Message == nil || entry.Message.Form == nil {
		t.Fatalf("the click's form is not in the conversation: %+v", entry)
	}
	ack := c.submit(validForm("hana", entry.Seq))
	cancel := buttonOf(ack, bot.ButtonCancel)
	if ack.Refusal || cancel == nil || cancel.Value != ack.RequestID || !strings.Contains(ack.Text, approvals.SpokenID(ack.RequestID)) {
		t.Fatalf("confirmation: %+v", ack)
	}

	for _, tt := range []struct {
		name, persona string
		b             bot.Button
		refusal       bool
		want          string
	}{
		{"forged kind", "hana", bot.Button{Kind: bot.ButtonApprove, Value: ack.RequestID}, true, "does not belong to mfadesk"},
		{"forged cancel value", "hana", bot.Button{Kind: bot.ButtonCancel, Value: "approve " + ack.RequestID}, true, "does not belong to mfadesk"},
		{"forged file value", "hana", bot.Button{Kind: bot.ButtonFile, Value: "user mfatest2@" + domain}, true, "does not belong to mfadesk"},
		{"no rights", "nora", *cancel, true, "not in the helpdesk or approvers group"},
		{"someone else", "alex", *cancel, true, "requester"},
		{"the requester", "hana", *cancel, false, "cancelled"},
	} {
		m := c.click(tt.persona, tt.b)
		if m.Refusal != tt.refusal || !strings.Contains(m.Text, tt.want) {
			t.Errorf("%s: %+v", tt.name, m)
		}
	}
	var audited bool
	for _, a := range c.state("hana").Audit {
		audited = audited || strings.Contains(a.Text, "request_cancelled")
	}
	if !audited {
		t.Error("the cancel by button is not in the audit channel")
	}
	if card := cardOf(c.state("alex"), ack.RequestID); card == nil || len(card.Message.Buttons) != 0 {
		t.Errorf("the approval card still offers decisions: %+v", card)
	}
}
