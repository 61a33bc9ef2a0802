package chat

import (
	"context"
	"errors"
	"strings"

	"github.com/mfadesk/mfadesk/approvals/reqid"
)

// Buttons on messages to a target.
const (
	// ButtonPick answers a confirmation; Value is "<confirmation id>:<number>".
	ButtonPick ButtonKind = "pick"
	// ButtonNotMe says the user did not ask; Value is a confirmation id or, on a
	// notice after a change, the user's object id.
	ButtonNotMe ButtonKind = "not_me"
)

// TargetUser is a directory user mfadesk writes to without being called by them.
type TargetUser struct {
	ObjectID    string
	UPN         string
	Mail        string
	DisplayName string
}

// TargetNotifier is the optional part of a Notifier that reaches a directory user
// who is not the caller: Slack by their directory mail, Teams by a proactive 1:1
// with their object id, the demo by the user's inbox.
type TargetNotifier interface {
	// TellTarget sends msg privately to the user. An *UnreachableError says the
	// platform has no way to reach them (no account, app not installed).
	TellTarget(ctx context.Context, to TargetUser, msg Message) error
}

// SecurityPoster is the optional part of a Notifier with a security channel: alerts
// that someone may be impersonating a user ("This is not me", "This is not them")
// go there as well as to the audit channel. An adapter without one configured
// returns nil and posts nothing.
type SecurityPoster interface {
	PostSecurity(ctx context.Context, text string) error
}

// UnreachableError says why a platform cannot reach a user, in words for the agent.
type UnreachableError struct {
	Platform Platform
	Why      string
}

func (e *UnreachableError) Error() string { return string(e.Platform) + ": " + e.Why }

// TargetClick is a click on a message to a target.
type TargetClick struct {
	Kind  ButtonKind // ButtonPick or ButtonNotMe
	Value string     // the button's value
}

// Button kinds that stand for a command. A click on one is the command typed by the
// clicker: adapters turn it into that command with ClickCommand and pass it to
// Router.Handle, so the click is checked, refused and audited exactly like the words.
const (
	// ButtonFile files the request diagnose recommends; Value is the command
	// ("reregister <object id>" or "revoke <object id>"). It opens the request form.
	ButtonFile ButtonKind = "file"
	// ButtonCancel cancels a pending request; Value is the request id. Only the
	// requester may: Router.Handle decides, as for `cancel <id>`.
	ButtonCancel ButtonKind = "cancel"
)

// ClickRefusal is the one-line answer to a click ClickCommand refused.
const ClickRefusal = "That button does not belong to mfadesk; nothing was done."

// FormVerb is the verb of a form's action, without the options a tap form carries
// ("tap:120:once" → "tap"), for adapters that title the form.
func FormVerb(action string) string {
	v, _, _ := strings.Cut(action, ":")
	return v
}

// errNotACommandButton is a click whose kind or value is not one mfadesk renders.
var errNotACommandButton = errors.New("that button is not an mfadesk command")

// ClickCommand returns the command a File or Cancel click stands for. The value comes
// from the clicker's client, so it is parsed as strictly as typed text: only a
// request form or a cancel can come out of it, never a lookup or any other verb.
func ClickCommand(kind ButtonKind, value string) (string, error) {
	switch kind {
	case ButtonFile:
		cmd, err := Parse(value)
		if err != nil || (cmd.Verb != VerbReregister && cmd.Verb != VerbRevoke) {
			return "", errNotACommandButton
		}
		return value, nil
	case ButtonCancel:
		id, ok := reqid.Canonical(value)
		if !ok {
			return "", errNotACommandButton
		}
		return string(VerbCancel) + " " + id, nil
	}
	return "", errNotACommandButton
}
