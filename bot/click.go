package bot

import (
	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot/chat"
)

// ClickCommand is chat.ClickCommand.
var ClickCommand = chat.ClickCommand

// fileButton is the "File a request" button under diagnose's next step. It names the
// user by object id (unique and plain), falling back to the UPN.
func fileButton(verb string, u actions.User) []Button {
	if verb != string(VerbReregister) && verb != string(VerbRevoke) {
		return nil
	}
	who := u.ID
	if who == "" {
		who = u.UPN
	}
	value := verb + " " + who
	if _, err := ClickCommand(ButtonFile, value); err != nil {
		return nil // a user the command could not name gets the typed hint only
	}
	return []Button{{Kind: ButtonFile, Label: "File a request", Value: value}}
}

// filedAnswer is the requester's confirmation of a filed request: it adds the id in
// groups (to read aloud over a call; any command takes it back) and a Cancel button.
// The text stays one message: adapters show Text alone when there are no sections.
func filedAnswer(m Message) Message {
	m.Text += " To read the id aloud: " + approvals.SpokenID(m.RequestID) + "."
	m.Buttons = append(m.Buttons, Button{Kind: ButtonCancel, Label: "Cancel request", Value: m.RequestID})
	return m
}
