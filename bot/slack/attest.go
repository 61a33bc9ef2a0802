package slack

import (
	"context"
	"fmt"
	"strings"

	goslack "github.com/slack-go/slack"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// A manager asked to vouch for a user answers in a modal: the direct message carries
// "Vouch for them…" (and "This is not them"); the button opens a one-field form for
// how they verified it is them, with the request form's reason limits. The modal's
// signed metadata binds the answer to the attestation and to the Slack user who
// opened it; the router then checks the user is the manager asked.

const (
	actionAttest   = "mfa_attest"
	callbackAttest = "mfa_attest"
	metaAttest     = "attest"
)

// attestButton is the button that opens the attestation form, for a message whose
// form is a manager's attestation ("attest:<id>"); nil otherwise.
func attestButton(f *chat.Form) goslack.BlockElement {
	if f == nil || chat.FormVerb(f.Action) != "attest" || len(f.Action) > 80 || strings.ContainsAny(f.Action, " \n") {
		return nil
	}
	btn := goslack.NewButtonBlockElement(actionAttest, f.Action, plainText("Vouch for them…", 75)).WithStyle(goslack.StylePrimary)
	return btn
}

// onAttestClick opens the attestation form for the clicker.
func (a *Adapter) onAttestClick(ic goslack.InteractionCallback, act *goslack.BlockAction) reply {
	if chat.FormVerb(act.Value) != "attest" || len(act.Value) > 80 || strings.ContainsAny(act.Value, " \n") {
		return a.answerLater(ic.ResponseURL, chat.Refuse("That button does not belong to a valid mfadesk attestation."))
	}
	return reply{what: "open attestation form", follow: func(ctx context.Context) {
		m := formMeta{Kind: metaAttest, User: ic.User.ID, Issued: a.now().Unix(), Action: act.Value}
		meta, err := encodeMeta(a.metaKey, m)
		if err != nil {
			a.log.ErrorContext(ctx, "encode attestation form", "err", err)
			return
		}
		cctx, cancel := context.WithTimeout(ctx, a.callTimeout)
		defer cancel()
		if _, err := a.api.OpenViewContext(cctx, ic.TriggerID, attestView(meta)); err != nil {
			a.log.WarnContext(ctx, "open attestation form", "user", ic.User.ID, "err", err)
			a.respond(ctx, ic.ResponseURL, chat.Refuse(fmt.Sprintf("The form could not be opened (%s). Click Vouch for them again.", slackError(err))))
		}
	}}
}

// attestView asks how the manager verified it is them.
func attestView(meta string) goslack.ModalViewRequest {
	intro := goslack.NewSectionBlock(mrkdwn("Say how you verified that it is really them asking: in person, on a call you placed, …. It is shown to the approvers and audited."), nil, nil)
	in := goslack.NewPlainTextInputBlockElement(plainText("e.g. saw her in person at desk 4", 150), inputAction).
		WithMultiline(true).WithMinLength(limReason.Min).WithMaxLength(limReason.Max)
	block := goslack.NewInputBlock(fieldReason, plainText("How did you verify it is them?", 2000), plainText(limReason.Hint(), 150), in)
	return modal("Vouch for them", callbackAttest, meta, []goslack.Block{intro, block}, "Attest", "Cancel")
}

// onAttestSubmit passes the manager's line to the router.
func (a *Adapter) onAttestSubmit(ic goslack.InteractionCallback) reply {
	m, refused := a.ownForm(ic, metaAttest, "attestation")
	if refused != nil {
		return *refused
	}
	line := ""
	if ic.View.State != nil {
		line = strings.TrimSpace(ic.View.State.Values[fieldReason][inputAction].Value)
	}
	work := func(ctx context.Context) chat.Message {
		caller, err := a.ids.caller(ctx, ic.User.ID)
		if err != nil {
			a.log.InfoContext(ctx, "refused manager", "user", ic.User.ID, "err", err)
			return chat.Refuse(refusalText(err))
		}
		return a.h.Submit(ctx, caller, chat.FormSubmission{Action: m.Action, Reason: line})
	}
	answer := func(msg chat.Message) *goslack.ViewSubmissionResponse {
		if e, ok := msg.Errors[fieldReason]; ok {
			return goslack.NewErrorsViewSubmissionResponse(map[string]string{fieldReason: clipRunes(e, 150)})
		}
		return goslack.NewUpdateViewSubmissionResponse(ptr(infoView("Vouch for them", msg)))
	}
	late := func(ctx context.Context, msg chat.Message) {
		a.updateView(ctx, ic.View.ID, infoView("Vouch for them", msg))
	}
	return a.withinBudget("attest", "Vouch for them", ":hourglass_flowing_sand: Recording your answer…", work, answer, late, func(context.Context, chat.Message) {})
}
