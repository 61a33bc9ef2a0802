package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
)

// The target in the loop: mfadesk asks the user a request is about, privately and on
// a chat session that user still has, to confirm that they are the one asking
// (number matching), and lets them say "This is not me". See approvals' confirmation
// and freeze rules; this file only carries messages and clicks.

// TargetService is the part of approvals the target flow uses; *approvals.Service
// implements it. It is separate from Requests so that existing fakes stay valid.
type TargetService interface {
	StartConfirmation(ctx context.Context, in approvals.NewConfirmation) (approvals.Confirmation, error)
	Answer(ctx context.Context, id string, by approvals.Actor, pick int) (approvals.Confirmation, approvals.Request, error)
	Confirmation(ctx context.Context, id string) (approvals.Confirmation, error)
	NotMe(ctx context.Context, target approvals.Target, by approvals.Actor, about string) (approvals.NotMeOutcome, error)
	MarkUnreachable(ctx context.Context, id, why string) (approvals.Request, error)
	Unfreeze(ctx context.Context, target approvals.Target, by approvals.Actor, justification string) error
}

func (r *Router) targets() (TargetService, bool) {
	ts, ok := r.req.(TargetService)
	return ts, ok && r.req != nil
}

// askTarget sends a confirmation to the user on every platform that can reach them
// and returns the sentence for the agent: the number to ask for, or why the user
// could not be asked. reqID is empty for `verify` before filing.
func (r *Router) askTarget(ctx context.Context, agent approvals.Actor, reqID string, action approvals.Action, ticket string, u actions.User) string {
	ts, ok := r.targets()
	if !ok {
		return ""
	}
	target := approvals.Target{ObjectID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName}
	conf, err := ts.StartConfirmation(ctx, approvals.NewConfirmation{RequestID: reqID, Action: action, Ticket: ticket, Target: target, Agent: agent})
	if err != nil {
		if approvals.CodeOf(err) == "" {
			r.log.ErrorContext(ctx, "start confirmation", "target", u.ID, "err", err)
		}
		return " " + approvals.UserMessage(err)
	}
	msg := confirmMessage(conf)
	var reached, why []string
	for _, p := range r.platforms() {
		tn, ok := r.notifiers[p].(TargetNotifier)
		if !ok {
			continue
		}
		err := tn.TellTarget(ctx, TargetUser{ObjectID: u.ID, UPN: u.UPN, Mail: u.Mail, DisplayName: u.DisplayName}, msg)
		var ue *UnreachableError
		switch {
		case err == nil:
			reached = append(reached, p.Title())
		case errors.As(err, &ue):
			why = append(why, ue.Error())
		default:
			r.log.WarnContext(ctx, "send confirmation", "platform", p, "target", u.ID, "err", err)
			why = append(why, p.Title()+": the message could not be sent")
		}
	}
	name := orDash(u.DisplayName)
	if len(reached) > 0 {
		return fmt.Sprintf(" %s was asked in %s to confirm: ask them to pick %d (valid until %s).", name, strings.Join(reached, " and "), conf.Answer, fmtTime(conf.Expires))
	}
	reason := strings.Join(why, "; ")
	if reason == "" {
		reason = "no chat platform here can message users first"
	}
	if reqID != "" {
		if _, err := ts.MarkUnreachable(ctx, reqID, reason); err != nil {
			r.log.ErrorContext(ctx, "mark target unreachable", "request", reqID, "err", err)
		}
		return fmt.Sprintf(" %s could not be asked to confirm (%s), so the request needs two approvers.", name, reason)
	}
	return fmt.Sprintf(" %s could not be asked to confirm (%s).", name, reason)
}

// platforms lists the configured platforms in a fixed order.
func (r *Router) platforms() []Platform {
	out := make([]Platform, 0, len(r.notifiers))
	for p := range r.notifiers {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// confirmMessage is what the target sees: who asks, for what, under which ticket, the
// three numbers and "This is not me". It never says which number is right.
func confirmMessage(c approvals.Confirmation) Message {
	what := "asked mfadesk to check it is really you on the line"
	if c.RequestID != "" {
		what = "filed " + c.RequestID + ": " + orDash(actionTitle[c.Action]) + " for your account"
	}
	text := fmt.Sprintf("%s from the IT helpdesk %s", c.Agent, what)
	if c.Ticket != "" {
		text += " (ticket " + c.Ticket + ")"
	}
	text += ". If you are talking to the helpdesk now, pick the number the agent tells you. If you did not ask, press This is not me."
	m := Message{Title: "Is this you?", Text: text, Private: true}
	for _, n := range c.Choices {
		m.Buttons = append(m.Buttons, Button{Kind: ButtonPick, Label: strconv.Itoa(n), Value: c.ID + ":" + strconv.Itoa(n)})
	}
	m.Buttons = append(m.Buttons, Button{Kind: ButtonNotMe, Label: "This is not me", Value: c.ID})
	return m
}

// TargetClick handles a click on a message to a target. The clicker is resolved by
// the caller rule like any caller, and approvals counts the click only when that
// directory user is the target.
func (r *Router) TargetClick(ctx context.Context, c Caller, tc TargetClick) Message {
	ts, ok := r.targets()
	if !ok {
		return Refuse("Requests are not enabled on this mfadesk.")
	}
	roles, err := r.roles(ctx, c)
	if err != nil {
		if m, ok := r.ineligible(ctx, c, roles.user, "answer a confirmation", approvals.Target{}, err); ok {
			return m
		}
		return Refuse(directoryFailure(c, "Your account could not be checked in the directory, so nothing was done.", err))
	}
	by := namedActor(c, roles.user)
	switch tc.Kind {
	case ButtonPick:
		id, num, ok := strings.Cut(tc.Value, ":")
		n, err := strconv.Atoi(num)
		if !ok || err != nil {
			return Refuse("That button does not belong to a valid mfadesk confirmation.")
		}
		conf, req, err := ts.Answer(ctx, id, by, n)
		if err != nil {
			return Refuse(approvals.UserMessage(err))
		}
		if conf.RequestID != "" {
			return Message{Private: true, Text: fmt.Sprintf("Thank you: you confirmed request %s. An approver decides it next.", req.ID)}
		}
		return Message{Private: true, Text: "Thank you: you confirmed it is you. The helpdesk agent can go on."}
	case ButtonNotMe:
		if strings.HasPrefix(tc.Value, "M-") || strings.HasPrefix(tc.Value, notThemPrefix) {
			return r.notThem(ctx, by, tc.Value)
		}
		return r.notMe(ctx, ts, by, tc.Value)
	}
	return Refuse("That button does not belong to a valid mfadesk confirmation.")
}

// notMe cancels and freezes, then tells the audit channel, every agent whose request
// was cancelled, and the user.
func (r *Router) notMe(ctx context.Context, ts TargetService, by approvals.Actor, value string) Message {
	target := approvals.Target{ObjectID: value}
	if ref, err := actions.ParseUserRef(value); err == nil && ref.Kind == actions.RefObjectID {
		// Names for the alert only; approvals compares object ids.
		if u, err := r.dir.User(ctx, ref); err == nil {
			target = approvals.Target{ObjectID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName}
		}
	} else if strings.HasPrefix(value, "C-") {
		conf, err := ts.Confirmation(ctx, value)
		if err != nil {
			return Refuse(approvals.UserMessage(err))
		}
		target = conf.Target
	}
	out, err := ts.NotMe(ctx, target, by, value)
	if err != nil {
		return Refuse(approvals.UserMessage(err))
	}
	r.denied(ctx, out, fmt.Sprintf("%s said \"This is not me\"", out.Freeze.Target), "the user")
	return Message{Private: true, Text: fmt.Sprintf("Thank you. Nothing will be changed on your account: %d request(s) were cancelled, new ones are refused until %s, and IT security was alerted.",
		len(out.Cancelled), fmtTime(out.Freeze.Until))}
}

// denied tells people what a denial did: an alert to the audit channel and, where
// one is configured, the security channel; each agent whose request was cancelled.
// who is "the user" or "their manager".
func (r *Router) denied(ctx context.Context, out approvals.NotMeOutcome, said, who string) {
	alert := fmt.Sprintf("ALERT: %s about a helpdesk request; %d request(s) cancelled, account %s frozen until %s.",
		said, len(out.Cancelled), out.Freeze.Target, fmtTime(out.Freeze.Until))
	for _, p := range r.platforms() {
		if err := r.notifiers[p].PostAudit(ctx, alert); err != nil {
			r.log.WarnContext(ctx, "post not-me alert", "platform", p, "err", err)
		}
		if sp, ok := r.notifiers[p].(SecurityPoster); ok {
			if err := sp.PostSecurity(ctx, alert); err != nil {
				r.log.WarnContext(ctx, "post not-me alert to the security channel", "platform", p, "err", err)
			}
		}
	}
	for _, q := range out.Cancelled {
		agent := Caller{Platform: Platform(q.Requester.Platform), ChatID: q.Requester.ChatID, ObjectID: q.Requester.ObjectID}
		n, ok := r.notifiers[agent.Platform]
		if !ok {
			continue
		}
		m := Message{Private: true, Text: fmt.Sprintf("Request %s was cancelled because %s said it was not them; the account is frozen until %s.", q.ID, whoOf(who, q.Target), fmtTime(out.Freeze.Until))}
		if err := n.Tell(ctx, agent, m); err != nil {
			r.log.WarnContext(ctx, "tell agent of not-me", "request", q.ID, "err", err)
		}
	}
}

// whoOf names who denied: the target, or the target's manager.
func whoOf(who string, t approvals.Target) string {
	if who == "the user" {
		return t.String()
	}
	return "the manager of " + t.String()
}

// notThem is "This is not them" from the manager: on an attestation (value is its
// id) or on the manager's copy of a notice (notThemPrefix and the target's object id).
func (r *Router) notThem(ctx context.Context, by approvals.Actor, value string) Message {
	as, _, ok := r.attestations()
	if !ok {
		return Refuse("Manager attestations are not enabled on this mfadesk.")
	}
	var target approvals.Target
	attID := ""
	if oid, ok := strings.CutPrefix(value, notThemPrefix); ok {
		ref, err := actions.ParseUserRef(oid)
		if err != nil || ref.Kind != actions.RefObjectID {
			return Refuse("That button does not belong to a valid mfadesk message.")
		}
		target = approvals.Target{ObjectID: ref.Value}
		if u, err := r.dir.User(ctx, ref); err == nil {
			target = approvals.Target{ObjectID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName}
		}
	} else {
		attID = value
	}
	out, err := as.NotThem(ctx, target, by, attID, value)
	if err != nil {
		return Refuse(approvals.UserMessage(err))
	}
	r.denied(ctx, out, fmt.Sprintf("the manager of %s, %s, said \"This is not them\"", out.Freeze.Target, by), "their manager")
	return Message{Private: true, Text: fmt.Sprintf("Thank you. Nothing will be changed on the account of %s: %d request(s) were cancelled, new ones are refused until %s, and IT security was alerted.",
		out.Freeze.Target, len(out.Cancelled), fmtTime(out.Freeze.Until))}
}

// verify asks a user to confirm before a request is filed (the `verify` command).
func (r *Router) verify(ctx context.Context, c Caller, cmd Command, roles callerRoles) Message {
	if _, ok := r.targets(); !ok {
		return Refuse("Requests are not enabled on this mfadesk.")
	}
	if !roles.helpdesk {
		return Refuse("Only members of the helpdesk group can ask a user to confirm.")
	}
	u, err := r.dir.User(ctx, cmd.User)
	if err != nil {
		return r.lookupFailed(ctx, cmd, err)
	}
	agent := namedActor(c, roles.user)
	text := strings.TrimSpace(r.askTarget(ctx, agent, "", "", "", u))
	return Message{Private: true, Text: text}
}

// evidenceFact says on a card how the caller's identity was checked: performed by
// mfadesk, or stated by the agent.
func evidenceFact(req approvals.Request) Fact {
	if len(req.Performed) > 0 {
		p := req.Performed[len(req.Performed)-1]
		if p.Method == approvals.MethodManagerAttestation {
			return Fact{Label: "Identity", Value: fmt.Sprintf("Verified by mfadesk: the manager, %s, attested in %s at %s — '%s'",
				p.Name, Platform(p.Platform).Title(), p.At.UTC().Format("15:04 UTC"), p.Line)}
		}
		return Fact{Label: "Identity", Value: fmt.Sprintf("Verified by mfadesk: the user confirmed in %s at %s (number match)", Platform(p.Platform).Title(), p.At.UTC().Format("15:04 UTC"))}
	}
	v := "Stated by the agent: " + orDash(verificationLabel(req.Verification.Method))
	if req.Unreachable != "" {
		v += "; the user could not be asked (" + req.Unreachable + ")"
	}
	return Fact{Label: "Identity", Value: v}
}

// wroteSomething reports whether a closed request changed the account: it succeeded,
// or failed after at least one step was done.
func wroteSomething(req approvals.Request) bool {
	if req.State == approvals.StateSucceeded {
		return true
	}
	for _, s := range req.Steps {
		if s.Outcome == string(actions.OutcomeDone) {
			return true
		}
	}
	return false
}

// noticeTarget tells the user, after a write to their account, what changed, who
// asked, who approved and when, with "This is not me": a victim learns within
// minutes, not at the next sign-in.
func (r *Router) noticeTarget(ctx context.Context, req approvals.Request) {
	if !wroteSomething(req) {
		return
	}
	u, err := r.dir.User(ctx, actions.UserRef{Kind: actions.RefObjectID, Value: req.Target.ObjectID})
	if err != nil {
		r.log.WarnContext(ctx, "read the target for the notice", "request", req.ID, "err", err)
		return
	}
	msg := NoticeMessage(req)
	sent := false
	for _, p := range r.platforms() {
		tn, ok := r.notifiers[p].(TargetNotifier)
		if !ok {
			continue
		}
		if err := tn.TellTarget(ctx, TargetUser{ObjectID: u.ID, UPN: u.UPN, Mail: u.Mail, DisplayName: u.DisplayName}, msg); err != nil {
			r.log.WarnContext(ctx, "send the notice to the target", "request", req.ID, "platform", p, "err", err)
			continue
		}
		sent = true
	}
	if !sent {
		r.log.WarnContext(ctx, "the target could not be told of the change on any platform", "request", req.ID)
	}
	if r.req.Policy().NotifyManager {
		r.noticeManager(ctx, req)
	}
}

// NoticeMessage is the notice to the target after a change to their account.
func NoticeMessage(req approvals.Request) Message { return noticeMessage(req, false) }

// noticeMessage is the notice to the target or, forManager, the manager's copy.
func noticeMessage(req approvals.Request, forManager bool) Message {
	var approvers []string
	for _, d := range req.Approvals() {
		approvers = append(approvers, d.By.String())
	}
	whose, ask, button, value := "Your", "If you did not ask for this, press This is not me now.", "This is not me", req.Target.ObjectID
	if forManager {
		whose = "As the manager of " + req.Target.String() + ", you get this copy: their"
		ask = "If " + req.Target.String() + " did not ask for this, press This is not them now."
		button, value = "This is not them", notThemPrefix+req.Target.ObjectID
	}
	text := fmt.Sprintf("%s sign-in security was changed at %s: %s (request %s). Asked by %s from the IT helpdesk, approved by %s. %s",
		whose, fmtTime(req.Updated), orDash(actionTitle[req.Action]), req.ID, req.Requester, orDash(strings.Join(approvers, " and ")), ask)
	var done []string
	for _, s := range req.Steps {
		if s.Outcome == string(actions.OutcomeDone) {
			done = append(done, strings.TrimSpace(s.Name+" "+s.Target))
		}
	}
	title := "Your account was changed"
	if forManager {
		title = "The account of " + req.Target.String() + " was changed"
	}
	m := Message{Title: title, Text: text, Private: true,
		Buttons: []Button{{Kind: ButtonNotMe, Label: button, Value: value}}}
	// The text is a section too: adapters show sections, and the summary only in
	// notifications.
	m.Sections = []Section{{Text: text}}
	if len(done) > 0 {
		m.Sections = append(m.Sections, Section{Heading: "What changed", Text: "• " + strings.Join(done, "\n• ")})
	}
	return m
}
