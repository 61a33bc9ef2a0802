package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// reply is the one handling path's answer to an inbound request, whichever
// transport brought it: what goes into the ack (nil: an empty ack), and the slow
// work to run after the ack has been sent.
type reply struct {
	ack    any
	follow func(ctx context.Context)
	what   string
}

// ackMessage is an immediate answer to a slash command, always ephemeral.
type ackMessage struct {
	ResponseType string          `json:"response_type"`
	Text         string          `json:"text"`
	Blocks       []goslack.Block `json:"blocks,omitempty"`
}

// maxInlineAck keeps inline answers well under Socket Mode's 20 KB ack limit.
const maxInlineAck = 12 << 10

func inline(m chat.Message) reply {
	return reply{ack: ackMessage{
		ResponseType: goslack.ResponseTypeEphemeral,
		Text:         summaryText(m),
		Blocks:       renderBlocks(m, renderOptions{maxBlocks: maxMessageBlocks, title: true}),
	}}
}

func refuseInline(text string) reply { return inline(chat.Refuse(text)) }

// sameOrg checks a payload's workspace or org before anything else is done.
// A refusal here is counted (Options.OnRefused): the router never sees it.
func (a *Adapter) sameOrg(teamID, userTeamID, enterpriseID string) bool {
	ok := teamID == a.teamID || teamID == "" && userTeamID == a.teamID
	if a.enterpriseID != "" {
		ok = enterpriseID == a.enterpriseID
	}
	if !ok {
		a.refused("workspace")
	}
	return ok
}

// help is the router's help when the handler offers it (examples in the tenant's
// domain), else the built-in one; both in Slack's syntax.
func (a *Adapter) help(topic string) chat.Message {
	if h, ok := a.h.(interface {
		Help(ctx context.Context, platform chat.Platform, topic string) chat.Message
	}); ok {
		ctx, cancel := context.WithTimeout(a.base, a.callTimeout)
		defer cancel()
		return h.Help(ctx, chat.PlatformSlack, topic)
	}
	return chat.HelpFor(chat.PlatformSlack, topic, "")
}

// refused counts a caller refused before the router (Options.OnRefused).
func (a *Adapter) refused(reason string) {
	if a.onRefused != nil {
		a.onRefused(reason)
	}
}

const notOurWorkspace = "mfadesk serves only members of its own Slack workspace."

// onSlash handles /mfa. Usage errors and help are answered in the ack; lookups are
// acknowledged and answered through response_url; reregister, revoke and tap open a
// modal.
func (a *Adapter) onSlash(cmd goslack.SlashCommand) reply {
	if err := checkSlashCommand(cmd); err != nil {
		a.log.Warn("refused slash command", "err", err)
		return refuseInline("That command could not be read. Try " + a.command + " help.")
	}
	if cmd.Command != a.command {
		return refuseInline("This app answers only " + a.command + ".")
	}
	if !a.sameOrg(cmd.TeamID, "", cmd.EnterpriseID) {
		a.log.Warn("refused slash command from another workspace", "team", cmd.TeamID, "enterprise", cmd.EnterpriseID, "user", cmd.UserID)
		return refuseInline(notOurWorkspace)
	}
	parsed, err := chat.Parse(cmd.Text)
	if err != nil {
		var ue *chat.UsageError
		if errors.As(err, &ue) {
			return refuseInline(ue.Text(chat.PlatformSlack))
		}
		return refuseInline("That command could not be read. Try " + a.command + " help.")
	}
	if parsed.Answer() == chat.AnswerInline {
		// Help needs no identity and no directory: it is answered at once.
		help := a.help(parsed.Topic)
		r := inline(help)
		if size := approxJSONSize(r.ack); size > maxInlineAck {
			return inline(chat.Message{Text: help.Text})
		}
		return r
	}
	if err := checkResponseURL(cmd.ResponseURL, a.respHost); err != nil {
		a.log.Warn("refused slash command with a bad response_url", "user", cmd.UserID, "err", err)
		return refuseInline("mfadesk cannot answer this command here.")
	}
	if parsed.Answer() == chat.AnswerForm {
		return reply{what: "open request form", follow: func(ctx context.Context) { a.openRequestForm(ctx, cmd, string(parsed.Verb)) }}
	}
	return reply{
		what: "answer " + string(parsed.Verb),
		ack: ackMessage{
			ResponseType: goslack.ResponseTypeEphemeral,
			Text:         fmt.Sprintf(":hourglass_flowing_sand: Looking that up (%s)… only you will see the answer.", parsed.Verb),
		},
		follow: func(ctx context.Context) { a.answerCommand(ctx, cmd) },
	}
}

// answerCommand runs a lookup and answers privately through response_url.
func (a *Adapter) answerCommand(ctx context.Context, cmd goslack.SlashCommand) {
	caller, err := a.ids.caller(ctx, cmd.UserID)
	if err != nil {
		a.log.InfoContext(ctx, "refused caller", "user", cmd.UserID, "err", err)
		a.respond(ctx, cmd.ResponseURL, chat.Refuse(refusalText(err)))
		return
	}
	msg := a.h.Handle(ctx, chat.Event{Caller: caller, Text: cmd.Text})
	if msg.Form != nil {
		a.respond(ctx, cmd.ResponseURL, chat.Refuse("This command needs a form; run it again to open it."))
		return
	}
	a.respond(ctx, cmd.ResponseURL, msg)
}

// respond answers privately through a response_url: lookups hold personal data, so
// the answer is ephemeral whatever the router asked for.
func (a *Adapter) respond(ctx context.Context, responseURL string, msg chat.Message) {
	if err := checkResponseURL(responseURL, a.respHost); err != nil {
		a.log.WarnContext(ctx, "cannot answer: bad response_url", "err", err)
		return
	}
	opts := []goslack.MsgOption{
		goslack.MsgOptionResponseURL(responseURL, goslack.ResponseTypeEphemeral),
		goslack.MsgOptionText(summaryText(msg), false),
		goslack.MsgOptionBlocks(renderBlocks(msg, renderOptions{maxBlocks: maxMessageBlocks, title: true, commands: true})...),
	}
	cctx, cancel := context.WithTimeout(ctx, a.callTimeout)
	defer cancel()
	if _, _, err := a.api.PostMessageContext(cctx, "", opts...); err != nil {
		a.log.WarnContext(ctx, "answer through response_url", "err", err)
	}
}

// openRequestForm opens the request modal. The trigger id is good for 3 seconds and
// once, so a cheap "checking…" view is opened first, before any directory work, and
// replaced by the form (or a refusal) when the router has answered.
func (a *Adapter) openRequestForm(ctx context.Context, cmd goslack.SlashCommand, action string) {
	title := actionTitle(action)
	cctx, cancel := context.WithTimeout(ctx, a.callTimeout)
	opened, err := a.api.OpenViewContext(cctx, cmd.TriggerID, loadingView(title))
	cancel()
	if err != nil {
		a.log.WarnContext(ctx, "open request form", "user", cmd.UserID, "err", err)
		a.respond(ctx, cmd.ResponseURL, chat.Refuse(fmt.Sprintf("The form could not be opened (%s). Run the command again.", slackError(err))))
		return
	}
	show := func(view goslack.ModalViewRequest) {
		cctx, cancel := context.WithTimeout(ctx, a.callTimeout)
		defer cancel()
		if _, err := a.api.UpdateViewContext(cctx, view, "", opened.Hash, opened.ID); err != nil {
			a.log.WarnContext(ctx, "update request form", "user", cmd.UserID, "err", err)
		}
	}
	caller, err := a.ids.caller(ctx, cmd.UserID)
	if err != nil {
		a.log.InfoContext(ctx, "refused caller", "user", cmd.UserID, "err", err)
		show(infoView(title, chat.Refuse(refusalText(err))))
		return
	}
	msg := a.h.Handle(ctx, chat.Event{Caller: caller, Text: cmd.Text})
	if msg.Form == nil {
		show(infoView(title, msg))
		return
	}
	f := msg.Form
	m := formMeta{
		Kind: metaRequest, User: cmd.UserID, Issued: a.now().Unix(),
		Action: f.Action, Target: f.Target, Label: f.TargetLabel, Warning: f.Warning,
		Choices: choicesOf(f), Channel: cmd.ChannelID, ResponseURL: cmd.ResponseURL,
	}
	if f.Users != nil {
		m.UsersMax = f.Users.Max
	}
	meta, err := encodeMeta(a.metaKey, m)
	if err != nil {
		a.log.ErrorContext(ctx, "encode request form", "err", err)
		show(infoView(title, chat.Refuse("The form could not be prepared. Try again.")))
		return
	}
	show(requestView(m, meta, submission{}, nil))
}

// slackError is the short Slack error code of err, for a one-line message.
func slackError(err error) string {
	var se goslack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	var sc goslack.StatusCodeError
	if errors.As(err, &sc) {
		return fmt.Sprintf("HTTP %d", sc.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "Slack did not answer in time"
	}
	return "Slack error"
}

// onInteraction handles clicks and form submissions.
func (a *Adapter) onInteraction(ic goslack.InteractionCallback) reply {
	if err := checkInteraction(ic); err != nil {
		a.log.Warn("refused interaction", "err", err)
		return reply{}
	}
	if !a.sameOrg(ic.Team.ID, ic.User.TeamID, ic.Enterprise.ID) {
		a.log.Warn("refused interaction from another workspace", "team", ic.Team.ID, "enterprise", ic.Enterprise.ID, "user", ic.User.ID)
		if ic.Type == goslack.InteractionTypeViewSubmission {
			return reply{ack: goslack.NewUpdateViewSubmissionResponse(ptr(infoView("mfadesk", chat.Refuse(notOurWorkspace))))}
		}
		return a.answerLater(ic.ResponseURL, chat.Refuse(notOurWorkspace))
	}
	switch ic.Type {
	case goslack.InteractionTypeBlockActions:
		return a.onBlockActions(ic)
	case goslack.InteractionTypeViewSubmission:
		switch ic.View.CallbackID {
		case callbackRequest:
			return a.onRequestSubmit(ic)
		case callbackDeny:
			return a.onDenySubmit(ic)
		case callbackAttest:
			return a.onAttestSubmit(ic)
		}
	}
	// view_closed, shortcuts, the info modal's own submissions: nothing to do.
	return reply{}
}

func ptr[T any](v T) *T { return &v }

// answerLater acks empty and answers privately through response_url.
func (a *Adapter) answerLater(responseURL string, msg chat.Message) reply {
	if responseURL == "" {
		return reply{}
	}
	return reply{what: "answer", follow: func(ctx context.Context) { a.respond(ctx, responseURL, msg) }}
}

// onBlockActions handles Approve and Deny. Approve is decided after the ack (Slack's
// own confirm dialog has already asked "are you sure"); Deny opens a modal for the
// reason first, because the requester is told why.
func (a *Adapter) onBlockActions(ic goslack.InteractionCallback) reply {
	if r, ok := a.onTargetAction(ic); ok {
		return r
	}
	var act *goslack.BlockAction
	for _, b := range ic.ActionCallback.BlockActions {
		if b != nil && (b.ActionID == actionApprove || b.ActionID == actionDeny || b.ActionID == actionRetry ||
			b.ActionID == actionContinue || b.ActionID == actionStop || commandKinds[b.ActionID] != "") {
			act = b
			break
		}
	}
	if act == nil {
		return reply{}
	}
	if commandKinds[act.ActionID] != "" {
		return a.onCommandClick(ic, act)
	}
	if !validRequestID(act.Value) {
		a.log.Warn("refused click with a malformed request id", "user", ic.User.ID)
		return a.answerLater(ic.ResponseURL, chat.Refuse("That button does not belong to a valid mfadesk request."))
	}
	reqID := act.Value
	// The card clicked is the message holding the button, as Slack reports it: the
	// button's value names the request, but only this says which card it was on.
	card := clickedCard(ic)
	if act.ActionID == actionContinue || act.ActionID == actionStop {
		which := chat.BulkContinue
		if act.ActionID == actionStop {
			which = chat.BulkStop
		}
		return reply{what: which + " " + reqID, follow: func(ctx context.Context) {
			caller, err := a.ids.caller(ctx, ic.User.ID)
			if err != nil {
				a.log.InfoContext(ctx, "refused a bulk press", "user", ic.User.ID, "request", reqID, "err", err)
				a.respond(ctx, ic.ResponseURL, chat.Refuse(refusalText(err)))
				return
			}
			a.respond(ctx, ic.ResponseURL, a.h.Decide(ctx, caller, chat.Decision{RequestID: reqID, Bulk: which, Card: card}))
		}}
	}
	if act.ActionID == actionApprove || act.ActionID == actionRetry {
		retry, what := act.ActionID == actionRetry, "approve "
		if retry {
			what = "retry "
		}
		return reply{what: what + reqID, follow: func(ctx context.Context) {
			caller, err := a.ids.caller(ctx, ic.User.ID)
			if err != nil {
				a.log.InfoContext(ctx, "refused approver", "user", ic.User.ID, "request", reqID, "err", err)
				a.respond(ctx, ic.ResponseURL, chat.Refuse(refusalText(err)))
				return
			}
			msg := a.h.Decide(ctx, caller, chat.Decision{RequestID: reqID, Approve: !retry, Retry: retry, Card: card})
			a.respond(ctx, ic.ResponseURL, msg)
		}}
	}
	return reply{what: "open deny form " + reqID, follow: func(ctx context.Context) {
		// The signed form metadata carries the card, so the denial is checked against
		// the card Deny was clicked on.
		m := formMeta{Kind: metaDeny, User: ic.User.ID, Issued: a.now().Unix(), RequestID: reqID, Channel: card.Channel, MessageTs: card.ID}
		if checkResponseURL(ic.ResponseURL, a.respHost) == nil {
			m.ResponseURL = ic.ResponseURL
		}
		meta, err := encodeMeta(a.metaKey, m)
		if err != nil {
			a.log.ErrorContext(ctx, "encode deny form", "err", err)
			return
		}
		cctx, cancel := context.WithTimeout(ctx, a.callTimeout)
		defer cancel()
		if _, err := a.api.OpenViewContext(cctx, ic.TriggerID, denyView(m, meta)); err != nil {
			a.log.WarnContext(ctx, "open deny form", "user", ic.User.ID, "request", reqID, "err", err)
			a.respond(ctx, ic.ResponseURL, chat.Refuse(fmt.Sprintf("The deny form could not be opened (%s). Click Deny again.", slackError(err))))
		}
	}}
}

// clickedCard is the message a block_actions click came from, in the form
// Notifier.PostApproval returns it (channel id and message ts).
func clickedCard(ic goslack.InteractionCallback) chat.CardRef {
	channel := ic.Container.ChannelID
	if channel == "" {
		channel = ic.Channel.ID
	}
	return chat.CardRef{Platform: chat.PlatformSlack, Channel: channel, ID: ic.Container.MessageTs}
}

// staleForm is the answer to a submission whose metadata does not check out.
func staleForm(why string) reply {
	return reply{ack: goslack.NewUpdateViewSubmissionResponse(ptr(infoView("mfadesk", chat.Refuse(why+" Nothing was done; run the command again."))))}
}

// onRequestSubmit files a request from the modal. Quick checks answer in the ack on
// the failing block; then the router gets SubmitBudget to answer inside the ack, and
// past that the modal says "filing…" and is updated when the router is done.
func (a *Adapter) onRequestSubmit(ic goslack.InteractionCallback) reply {
	m, err := decodeMeta(a.metaKey, ic.View.PrivateMetadata, a.now())
	if err != nil {
		a.log.Warn("refused request form", "user", ic.User.ID, "err", err)
		return staleForm("This form is not valid any more (" + err.Error() + ").")
	}
	if m.Kind != metaRequest {
		return staleForm("This form is not a request form.")
	}
	if m.User != ic.User.ID {
		a.log.Warn("refused request form submitted by someone else", "opened_by", m.User, "user", ic.User.ID)
		return staleForm("This form was opened by someone else.")
	}
	s := readSubmission(ic.View)
	if errs := validateSubmission(m, s); errs != nil {
		return reply{ack: goslack.NewErrorsViewSubmissionResponse(viewErrors(m, errs))}
	}
	title := actionTitle(m.Action)
	sub := chat.FormSubmission{Action: m.Action, Target: m.Target, Reason: s.Reason, Verification: s.Verification, VerificationDetail: s.Detail, Ticket: s.Ticket, Users: s.Users}
	work := func(ctx context.Context) chat.Message {
		caller, err := a.ids.caller(ctx, ic.User.ID)
		if err != nil {
			a.log.InfoContext(ctx, "refused requester", "user", ic.User.ID, "err", err)
			return chat.Refuse(refusalText(err))
		}
		return a.h.Submit(ctx, caller, sub)
	}
	finish := func(ctx context.Context, msg chat.Message) {
		if !msg.Refusal && len(msg.Errors) == 0 && m.ResponseURL != "" {
			// A copy where /mfa was typed, so the request id is not lost when the
			// modal closes.
			a.respond(ctx, m.ResponseURL, msg)
		}
	}
	answer := func(msg chat.Message) *goslack.ViewSubmissionResponse {
		if len(msg.Errors) > 0 {
			if shown := viewErrors(m, msg.Errors); len(shown) == len(msg.Errors) {
				return goslack.NewErrorsViewSubmissionResponse(shown)
			}
			return goslack.NewUpdateViewSubmissionResponse(ptr(requestView(m, ic.View.PrivateMetadata, s, msg.Errors)))
		}
		return goslack.NewUpdateViewSubmissionResponse(ptr(infoView(title, msg)))
	}
	late := func(ctx context.Context, msg chat.Message) {
		view := infoView(title, msg)
		if len(msg.Errors) > 0 {
			view = requestView(m, ic.View.PrivateMetadata, s, msg.Errors)
		}
		a.updateView(ctx, ic.View.ID, view)
	}
	return a.withinBudget("file request", title, ":hourglass_flowing_sand: Filing your request…", work, answer, late, finish)
}

// ownForm reads a submitted modal's signed metadata and refuses, in one line, a form
// that is not of kind (or no longer valid) or that someone else opened: the modal's
// metadata, not the submission, says whose and what it is. what names the form in logs.
func (a *Adapter) ownForm(ic goslack.InteractionCallback, kind, what string) (formMeta, *reply) {
	m, err := decodeMeta(a.metaKey, ic.View.PrivateMetadata, a.now())
	if err != nil || m.Kind != kind {
		a.log.Warn("refused "+what+" form", "user", ic.User.ID, "err", err)
		r := staleForm("This form is not valid any more.")
		return m, &r
	}
	if m.User != ic.User.ID {
		a.log.Warn("refused "+what+" form submitted by someone else", "opened_by", m.User, "user", ic.User.ID)
		r := staleForm("This form was opened by someone else.")
		return m, &r
	}
	return m, nil
}

// onDenySubmit records a denial with its reason.
func (a *Adapter) onDenySubmit(ic goslack.InteractionCallback) reply {
	m, refused := a.ownForm(ic, metaDeny, "deny")
	if refused != nil {
		return *refused
	}
	why := readJustification(ic.View)
	switch {
	case why == "":
		return reply{ack: goslack.NewErrorsViewSubmissionResponse(map[string]string{fieldJustify: "Say why you deny the request."})}
	case len([]rune(why)) > maxJustify:
		return reply{ack: goslack.NewErrorsViewSubmissionResponse(map[string]string{fieldJustify: fmt.Sprintf("Keep it under %d characters.", maxJustify)})}
	}
	work := func(ctx context.Context) chat.Message {
		caller, err := a.ids.caller(ctx, ic.User.ID)
		if err != nil {
			a.log.InfoContext(ctx, "refused denier", "user", ic.User.ID, "request", m.RequestID, "err", err)
			return chat.Refuse(refusalText(err))
		}
		return a.h.Decide(ctx, caller, chat.Decision{RequestID: m.RequestID, Approve: false, Justification: why,
			Card: chat.CardRef{Platform: chat.PlatformSlack, Channel: m.Channel, ID: m.MessageTs}})
	}
	answer := func(msg chat.Message) *goslack.ViewSubmissionResponse {
		if e, ok := msg.Errors["justification"]; ok {
			return goslack.NewErrorsViewSubmissionResponse(map[string]string{fieldJustify: clipRunes(e, 150)})
		}
		return goslack.NewUpdateViewSubmissionResponse(ptr(infoView("Deny request", msg)))
	}
	late := func(ctx context.Context, msg chat.Message) {
		a.updateView(ctx, ic.View.ID, infoView("Deny request", msg))
	}
	finish := func(ctx context.Context, msg chat.Message) {
		if msg.Refusal && m.ResponseURL != "" {
			a.respond(ctx, m.ResponseURL, msg)
		}
	}
	return a.withinBudget("deny "+m.RequestID, "Deny request", ":hourglass_flowing_sand: Recording your decision…", work, answer, late, finish)
}

// withinBudget runs work in the background and waits up to SubmitBudget for it: an
// answer that is ready goes into the ack itself (field errors on their block, or the
// result view), so it cannot race a later views.update. Past the budget the ack
// shows "pending" and the result replaces it when it comes; the ack always leaves
// inside Slack's 3 seconds.
func (a *Adapter) withinBudget(
	what, title, pending string,
	work func(context.Context) chat.Message,
	answer func(chat.Message) *goslack.ViewSubmissionResponse,
	late func(context.Context, chat.Message),
	finish func(context.Context, chat.Message),
) reply {
	done := make(chan chat.Message, 1)
	a.spawn(what, func(ctx context.Context) { done <- work(ctx) })
	t := time.NewTimer(a.submitBudget)
	defer t.Stop()
	select {
	case msg := <-done:
		return reply{what: what, ack: answer(msg), follow: func(ctx context.Context) { finish(ctx, msg) }}
	case <-t.C:
	}
	return reply{
		what: what,
		ack:  goslack.NewUpdateViewSubmissionResponse(ptr(infoView(title, chat.Message{Text: pending}))),
		follow: func(ctx context.Context) {
			select {
			case msg := <-done:
				late(ctx, msg)
				finish(ctx, msg)
			case <-ctx.Done():
			}
		},
	}
}

func (a *Adapter) updateView(ctx context.Context, viewID string, view goslack.ModalViewRequest) {
	cctx, cancel := context.WithTimeout(ctx, a.callTimeout)
	defer cancel()
	if _, err := a.api.UpdateViewContext(cctx, view, "", "", viewID); err != nil {
		a.log.WarnContext(ctx, "update modal", "view", viewID, "err", err)
	}
}

// approxJSONSize is the encoded size of an ack, for Socket Mode's 20 KB limit.
func approxJSONSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 1 << 30
	}
	return len(b)
}
