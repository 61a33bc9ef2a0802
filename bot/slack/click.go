package slack

import (
	"context"

	goslack "github.com/slack-go/slack"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// Action ids of the buttons that stand for a command (chat.ClickCommand).
const (
	actionFile   = "mfa_file"
	actionCancel = "mfa_cancel"
)

// commandKinds maps a command button's action id to its kind.
var commandKinds = map[string]chat.ButtonKind{actionFile: chat.ButtonFile, actionCancel: chat.ButtonCancel}

// commandButton renders a File or Cancel button, or nil for another kind. The value is
// the button's own (a command or a request id); the click is parsed again by the core.
func commandButton(b chat.Button) goslack.BlockElement {
	if _, err := chat.ClickCommand(b.Kind, b.Value); err != nil {
		return nil
	}
	switch b.Kind {
	case chat.ButtonFile:
		btn := goslack.NewButtonBlockElement(actionFile, b.Value, plainText(orDefault(b.Label, "File a request"), 75)).WithStyle(goslack.StylePrimary)
		btn.AccessibilityLabel = clipRunes("File a request: "+b.Value+" (opens the request form)", 75)
		return btn
	case chat.ButtonCancel:
		btn := goslack.NewButtonBlockElement(actionCancel, b.Value, plainText(orDefault(b.Label, "Cancel request"), 75)).WithStyle(goslack.StyleDanger)
		btn.AccessibilityLabel = clipRunes("Cancel request "+b.Value, 75)
		btn.Confirm = goslack.NewConfirmationBlockObject(plainText("Cancel this request?", 100),
			plainText("Request "+b.Value+" will be withdrawn; no approver can act on it any more.", 300),
			plainText("Cancel request", 30), plainText("Keep it", 30))
		return btn
	}
	return nil
}

// onCommandClick runs a File or Cancel click as the clicker's own command: the same
// path as the slash command (the form opens on the click's trigger id; other answers
// go privately through response_url), so the router checks and audits it alike.
func (a *Adapter) onCommandClick(ic goslack.InteractionCallback, act *goslack.BlockAction) reply {
	text, err := chat.ClickCommand(commandKinds[act.ActionID], act.Value)
	if err != nil {
		a.log.Warn("refused a command button", "user", ic.User.ID, "action", act.ActionID)
		return a.answerLater(ic.ResponseURL, chat.Refuse(chat.ClickRefusal))
	}
	if err := checkResponseURL(ic.ResponseURL, a.respHost); err != nil {
		a.log.Warn("refused a command button with a bad response_url", "user", ic.User.ID, "err", err)
		return reply{}
	}
	cmd := goslack.SlashCommand{
		Command: a.command, Text: text, UserID: ic.User.ID, TeamID: ic.Team.ID,
		ChannelID: clickedCard(ic).Channel, ResponseURL: ic.ResponseURL, TriggerID: ic.TriggerID,
	}
	if act.ActionID == actionFile {
		parsed, _ := chat.Parse(text) // ClickCommand parsed it already
		return reply{what: "open request form", follow: func(ctx context.Context) { a.openRequestForm(ctx, cmd, string(parsed.Verb)) }}
	}
	return reply{what: "answer " + text, follow: func(ctx context.Context) { a.answerCommand(ctx, cmd) }}
}
