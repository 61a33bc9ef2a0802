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
	_, err := a.sendPersonal(ctx, a.opts.ServiceURL, outAccount{ID: to.ObjectID, AadObjectID: to.ObjectID}, renderActivity(msg))
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

// onTargetAction answers a number pick or "This is not me". The clicker is the
// activity's validated sender; the router resolves and checks them.
func (h *handler) onTargetAction(ctx context.Context, act *Activity, ca cardAction) InvokeResponse {
	tr, ok := h.r.(targetRouter)
	value := str(ca.data["request"])
	if !ok || value == "" || len(value) > 80 {
		return messageResponse("That button does not belong to a valid mfadesk confirmation.")
	}
	ans := tr.TargetClick(ctx, callerOf(act), chat.TargetClick{Kind: chat.ButtonKind(ca.verb), Value: value})
	return messageResponse(ans.Text)
}
