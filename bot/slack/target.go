package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goslack "github.com/slack-go/slack"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// Messages to a request's target, and their clicks. The target has not called
// mfadesk, so the notifier finds them by their directory mail (users.lookupByEmail,
// scope users:read.email), opens a DM (conversations.open, im:write) and posts
// (chat.postMessage, chat:write).

// Action ids of the buttons on a message to a target.
const (
	actionPick  = "mfa_pick"
	actionNotMe = "mfa_not_me"
)

var _ chat.TargetNotifier = (*Notifier)(nil)

// TellTarget sends msg privately to a directory user who is not the caller.
func (n *Notifier) TellTarget(ctx context.Context, to chat.TargetUser, msg chat.Message) error {
	if to.Mail == "" {
		return &chat.UnreachableError{Platform: "Slack", Why: "the user has no mail address in the directory to find them by"}
	}
	var user *goslack.User
	err := n.call(ctx, func(ctx context.Context) error {
		var err error
		user, err = n.api.GetUserByEmailContext(ctx, to.Mail)
		return err
	})
	var se goslack.SlackErrorResponse
	switch {
	case errors.As(err, &se) && se.Err == "users_not_found":
		return &chat.UnreachableError{Platform: "Slack", Why: "no Slack account uses " + to.Mail}
	case err != nil:
		return fmt.Errorf("find the Slack account of %s: %w", to.ObjectID, err)
	case user == nil || user.Deleted || user.IsBot || !validID(user.ID, "UW"):
		return &chat.UnreachableError{Platform: "Slack", Why: "the Slack account of " + to.Mail + " is deactivated"}
	}
	var dm string
	err = n.call(ctx, func(ctx context.Context) error {
		ch, _, _, err := n.api.OpenConversationContext(ctx, &goslack.OpenConversationParameters{Users: []string{user.ID}})
		if err == nil {
			if ch == nil || ch.ID == "" {
				return errors.New("conversations.open returned no channel")
			}
			dm = ch.ID
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("open a direct message with %s: %w", user.ID, err)
	}
	blocks := renderBlocks(chat.Message{Title: msg.Title, Text: msg.Text, Sections: msg.Sections}, renderOptions{maxBlocks: maxMessageBlocks - 1, title: true})
	if b := targetButtons(msg.Buttons, attestButton(msg.Form)); b != nil {
		blocks = append(blocks, b)
	}
	err = n.call(ctx, func(ctx context.Context) error {
		_, _, err := n.api.PostMessageContext(ctx, dm,
			goslack.MsgOptionText(summaryText(msg), false),
			goslack.MsgOptionBlocks(blocks...),
			goslack.MsgOptionDisableLinkUnfurl(),
			goslack.MsgOptionDisableMediaUnfurl())
		return err
	})
	if err != nil {
		return fmt.Errorf("send a direct message to %s: %w", user.ID, err)
	}
	return nil
}

// targetButtons renders the number buttons and "This is not me". The values are
// lookup keys only (a confirmation id and a number, or a user's object id); the
// router decides what a click is worth.
func targetButtons(buttons []chat.Button, first goslack.BlockElement) goslack.Block {
	var els []goslack.BlockElement
	if first != nil {
		els = append(els, first)
	}
	for _, b := range buttons {
		if len(b.Value) > 80 {
			continue
		}
		switch b.Kind {
		case chat.ButtonPick:
			btn := goslack.NewButtonBlockElement(actionPick, b.Value, plainText(b.Label, 75))
			btn.AccessibilityLabel = clipRunes("Pick the number "+b.Label, 75)
			els = append(els, btn)
		case chat.ButtonNotMe:
			btn := goslack.NewButtonBlockElement(actionNotMe, b.Value, plainText(orDefault(b.Label, "This is not me"), 75)).WithStyle(goslack.StyleDanger)
			btn.Confirm = goslack.NewConfirmationBlockObject(plainText("This was not you?", 100),
				plainText("mfadesk will cancel the request, block new ones about your account and alert IT security.", 300),
				plainText("This is not me", 30), plainText("Cancel", 30))
			els = append(els, btn)
		}
	}
	if len(els) == 0 {
		return nil
	}
	return goslack.NewActionBlock("mfa_target_"+randomHex(6), els...)
}

// targetHandler is the optional part of the Handler that takes clicks on messages
// to a target; *bot.Router implements it.
type targetHandler interface {
	TargetClick(ctx context.Context, c chat.Caller, tc chat.TargetClick) chat.Message
}

// onTargetAction handles a number pick or "This is not me"; ok is false for other clicks.
func (a *Adapter) onTargetAction(ic goslack.InteractionCallback) (reply, bool) {
	var act *goslack.BlockAction
	for _, b := range ic.ActionCallback.BlockActions {
		if b != nil && (b.ActionID == actionPick || b.ActionID == actionNotMe || b.ActionID == actionAttest) {
			act = b
			break
		}
	}
	if act == nil {
		return reply{}, false
	}
	if act.ActionID == actionAttest {
		return a.onAttestClick(ic, act), true
	}
	th, ok := a.h.(targetHandler)
	if !ok || act.Value == "" || len(act.Value) > 80 || strings.ContainsAny(act.Value, " \n") {
		return a.answerLater(ic.ResponseURL, chat.Refuse("That button does not belong to a valid mfadesk confirmation.")), true
	}
	kind := chat.ButtonPick
	if act.ActionID == actionNotMe {
		kind = chat.ButtonNotMe
	}
	// The number picked stays out of the logs: only the confirmation is named.
	conf, _, _ := strings.Cut(act.Value, ":")
	return reply{what: string(kind) + " " + conf, follow: func(ctx context.Context) {
		caller, err := a.ids.caller(ctx, ic.User.ID)
		if err != nil {
			a.log.InfoContext(ctx, "refused target click", "user", ic.User.ID, "err", err)
			a.respond(ctx, ic.ResponseURL, chat.Refuse(refusalText(err)))
			return
		}
		a.respond(ctx, ic.ResponseURL, th.TargetClick(ctx, caller, chat.TargetClick{Kind: kind, Value: act.Value}))
	}}, true
}
