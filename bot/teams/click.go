package teams

import (
	"context"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// Card verbs of the buttons that stand for a command (chat.ClickCommand), and the data
// key that carries the command's argument.
const (
	VerbFile       = "file"
	VerbCancel     = "cancel"
	dataCommandKey = "command"
)

// commandVerbs maps a card verb to the command button it came from.
var commandVerbs = map[string]chat.ButtonKind{VerbFile: chat.ButtonFile, VerbCancel: chat.ButtonCancel}

// commandButton renders a File or Cancel button; ok is false for another kind.
func commandButton(b chat.Button) (Action, bool) {
	data := map[string]any{dataCommandKey: b.Value}
	switch b.Kind {
	case chat.ButtonFile:
		return execute(orDefault(b.Label, "File a request"), VerbFile, "positive", "none", data), true
	case chat.ButtonCancel:
		return execute(orDefault(b.Label, "Cancel request"), VerbCancel, "destructive", "none", data), true
	}
	return Action{}, false
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// runCommand runs a File or Cancel click as the clicker's own command, through
// Router.Handle like typed text, so it is checked and audited alike. A cancel's
// answer replaces the confirmation it was clicked on; a form comes as its own
// message (in the 1:1 chat), so the diagnosis it was opened from stays readable.
func (h *handler) runCommand(ctx context.Context, act *Activity, ca cardAction) (InvokeResponse, chat.Message) {
	text, err := chat.ClickCommand(commandVerbs[ca.verb], str(ca.data[dataCommandKey]))
	if err != nil {
		h.a.log.WarnContext(ctx, "teams: refused a command button", "verb", ca.verb, "conversation", act.Conversation.ID)
		msg := chat.Refuse(chat.ClickRefusal)
		return messageResponse(msg.Text), msg
	}
	msg := h.r.Handle(ctx, chat.Event{Caller: callerOf(act), Text: text})
	switch {
	case msg.Refusal:
		return messageResponse(msg.Text), msg
	case msg.Form != nil:
		h.reply(ctx, act, msg)
		return messageResponse("The request form is in your chat with mfadesk."), chat.Message{}
	}
	return cardResponse(RenderCard(msg)), chat.Message{}
}
