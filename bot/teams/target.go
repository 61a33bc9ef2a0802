package teams

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/mfadesk/mfadesk/actions/guid"
	"github.com/mfadesk/mfadesk/bot/chat"
)

// Messages to a request's target, and their clicks. The target has not written to
// the bot, so the message is a proactive 1:1: a conversation created with the user's
// directory object id and our tenant. That works only when the mfadesk app is
// installed for the user (org-wide, or by an admin through Graph with
// TeamsAppInstallation.ReadWriteForUser.All); the connector otherwise refuses with
// 403 or 404, which the agent is told in words.

var _ chat.TargetNotifier = (*Adapter)(nil)

// TellTarget sends msg to a directory user in a proactive 1:1 chat.
func (a *Adapter) TellTarget(ctx context.Context, to chat.TargetUser, msg chat.Message) error {
	if !guid.Valid(to.ObjectID) {
		return &chat.UnreachableError{Platform: "Teams", Why: "the user has no directory object id"}
	}
	// A manager asked to vouch gets a form; a user asked to confirm, a card with buttons.
	card := messageCard(msg)
	conv, id, err := a.sendPersonalAt(ctx, a.opts.ServiceURL, outAccount{ID: to.ObjectID, AadObjectID: to.ObjectID}, cardActivity(card, msg.Text))
	if err == nil && id != "" {
		// Remembered so that a click answered "working on it" shows this card, and a
		// retried invoke gets the card as the click left it.
		a.cards.put(conv, id, card)
	}
	var ce *ConnectorError
	if errors.As(err, &ce) && (ce.Status == http.StatusForbidden || ce.Status == http.StatusNotFound) {
		name := to.DisplayName
		if name == "" {
			name = to.UPN
		}
		return &chat.UnreachableError{Platform: "Teams", Why: "the mfadesk app is not installed for " + name + " in Teams"}
	}
	if err != nil {
		return fmt.Errorf("teams: tell target %s: %w", to.ObjectID, err)
	}
	return nil
}

// targetRouter is the optional part of the Router that takes clicks on messages to a
// target; *bot.Router implements it.
type targetRouter interface {
	TargetClick(ctx context.Context, c chat.Caller, tc chat.TargetClick) chat.Message
}

// isTargetVerb reports whether an Action.Execute verb is a click on a message to a
// target (chat.Button kinds rendered as verbs).
func isTargetVerb(verb string) bool {
	return verb == string(chat.ButtonPick) || verb == string(chat.ButtonNotMe)
}

// targetValueOK reports whether a pick or "This is not me" click carries a value
// worth handing to the router; anything else is answered at once.
func (h *handler) targetValueOK(ca cardAction) bool {
	_, ok := h.r.(targetRouter)
	value := str(ca.data["request"])
	return ok && value != "" && len(value) <= 80
}

// notTargetButton is the answer to a target click that names no confirmation.
const notTargetButton = "That button does not belong to a valid mfadesk confirmation."

// runTarget answers a number pick or "This is not me". The clicker is the activity's
// validated sender; the router resolves and checks them. It runs off the invoke (a
// directory lookup and a store write can outlast the invoke window), and returns the
// invoke answer: the card clicked, with the answer under it when the answer is a
// refusal (the target may pick again), or replaced by the answer when it settled the
// confirmation; a plain message when this process does not know the card.
func (h *handler) runTarget(ctx context.Context, act *Activity, ca cardAction) (InvokeResponse, chat.Message) {
	tr, ok := h.r.(targetRouter)
	if !ok {
		msg := chat.Refuse(notTargetButton)
		return messageResponse(msg.Text), msg
	}
	ans := tr.TargetClick(ctx, callerOf(act), chat.TargetClick{Kind: chat.ButtonKind(ca.verb), Value: str(ca.data["request"])})
	c, ok := h.a.cards.get(act.Conversation.ID, act.ReplyToID)
	switch {
	case !ok:
		return messageResponse(ans.Text), ans
	case ans.Refusal:
		return cardResponse(withNote(c, ans.Text, true)), ans
	}
	// Settled: the buttons go, so the card cannot be clicked again, and the answer
	// stands under what the user was asked (or told, on a notice).
	done := withNote(withoutActions(c), ans.Text, false)
	h.a.cards.put(act.Conversation.ID, act.ReplyToID, done)
	return cardResponse(done), ans
}

// withoutActions returns the card without its buttons.
func withoutActions(c Card) Card {
	out := c
	out.Body = nil
	for _, e := range c.Body {
		if e.Type != "ActionSet" {
			out.Body = append(out.Body, e)
		}
	}
	return out
}
