package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
)

// Manager attestation: when a request needs performed evidence, mfadesk also asks the
// target's manager (as the directory names them, never as the agent says) privately,
// on the same platforms that reach the target, to vouch for the caller and say how
// they checked. approvals holds the rules (third person, single use, expiry); this
// file carries the messages and the answer.

// AttestService is the part of approvals the manager flow uses; *approvals.Service
// implements it. Separate from TargetService so that existing fakes stay valid.
type AttestService interface {
	StartAttestation(ctx context.Context, in approvals.NewAttestation) (approvals.Attestation, error)
	Attest(ctx context.Context, id string, by approvals.Actor, line string) (approvals.Attestation, approvals.Request, error)
	Attestation(ctx context.Context, id string) (approvals.Attestation, error)
	NotThem(ctx context.Context, target approvals.Target, by approvals.Actor, attestationID, about string) (approvals.NotMeOutcome, error)
}

// managerReader is the directory's optional read of a user's manager (the Graph
// client: GET /users/{id}/manager).
type managerReader interface {
	Manager(ctx context.Context, userID string) (actions.User, error)
}

// attestFormPrefix starts the Action of the manager's form: "attest:<attestation id>".
const attestFormPrefix = "attest:"

// notThemPrefix starts the value of "This is not them" on the manager's copy of a
// notice: "manager-of:<target object id>". The clicker is checked against the
// target's manager as the directory says at the click.
const notThemPrefix = "manager-of:"

func (r *Router) attestations() (AttestService, managerReader, bool) {
	as, ok := r.req.(AttestService)
	mr, ok2 := r.dir.(managerReader)
	return as, mr, ok && ok2 && r.req != nil
}

// needsPerformed reports whether the policy wants performed evidence for req.
func (r *Router) needsPerformed(req approvals.Request) bool {
	return r.req.Policy().MinimumFor(req.Action, req.Protection.Protected) == approvals.MinimumPerformed
}

// targetManager reads the target's manager and applies the caller rule to them
// (exists, enabled, a member account; no group needed). why is the one-line reason
// for the agent when there is no manager to ask.
func (r *Router) targetManager(ctx context.Context, mr managerReader, u actions.User) (m actions.User, why string) {
	name := orDash(u.DisplayName)
	m, err := mr.Manager(ctx, u.ID)
	switch {
	case actions.KindOf(err) == actions.KindNotFound:
		return m, fmt.Sprintf("No manager is recorded for %s in the directory, so no manager can attest.", name)
	case err != nil:
		r.log.WarnContext(ctx, "read the target's manager", "target", u.ID, "err", err)
		return m, fmt.Sprintf("The manager of %s could not be read from the directory (%s), so no manager was asked to attest.", name, strings.TrimSuffix(actions.Explain(err), "."))
	case !m.Enabled:
		return m, fmt.Sprintf("The manager of %s, %s, has a disabled account, so they were not asked to attest.", name, m.DisplayName)
	case !strings.EqualFold(m.UserType, "Member"):
		return m, fmt.Sprintf("The manager of %s, %s, is not a member account, so they were not asked to attest.", name, m.DisplayName)
	}
	return m, ""
}

// askManager asks the target's manager to attest for a filed request and returns the
// sentence for the agent: who was asked where, or (asked false) why nobody was.
func (r *Router) askManager(ctx context.Context, agent approvals.Actor, req approvals.Request, u actions.User) (text string, asked bool) {
	as, mr, ok := r.attestations()
	if !ok {
		return "", false
	}
	m, why := r.targetManager(ctx, mr, u)
	if why != "" {
		return " " + why, false
	}
	att, err := as.StartAttestation(ctx, approvals.NewAttestation{RequestID: req.ID, Agent: agent,
		Manager: approvals.Target{ObjectID: m.ID, UPN: m.UPN, DisplayName: m.DisplayName}})
	if err != nil {
		if approvals.CodeOf(err) == "" {
			r.log.ErrorContext(ctx, "start attestation", "request", req.ID, "err", err)
		}
		return " " + approvals.UserMessage(err), false
	}
	reached, reason := r.tellUser(ctx, m, attestMessage(att))
	if len(reached) > 0 {
		return fmt.Sprintf(" The manager, %s, was asked in %s to attest (valid until %s).", orDash(m.DisplayName), strings.Join(reached, " and "), fmtTime(att.Expires)), true
	}
	return fmt.Sprintf(" The manager, %s, could not be asked to attest (%s).", orDash(m.DisplayName), reason), false
}

// tellUser sends msg privately to a directory user on every platform that can reach
// them; it returns the platforms reached, or why none was.
func (r *Router) tellUser(ctx context.Context, u actions.User, msg Message) (reached []string, why string) {
	var whys []string
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
			whys = append(whys, ue.Error())
		default:
			r.log.WarnContext(ctx, "send a private message", "platform", p, "user", u.ID, "err", err)
			whys = append(whys, p.Title()+": the message could not be sent")
		}
	}
	if len(whys) == 0 {
		whys = []string{"no chat platform here can message users first"}
	}
	return reached, strings.Join(whys, "; ")
}

// attestMessage is what the manager sees: who asks, for whom, what, the ticket, a
// form for how they verified it is them, and "This is not them".
func attestMessage(a approvals.Attestation) Message {
	text := fmt.Sprintf("%s from the IT helpdesk filed %s: %s for %s, who reports to you", a.Agent, a.RequestID, orDash(actionTitle[a.Action]), a.Target)
	if a.Ticket != "" {
		text += " (ticket " + a.Ticket + ")"
	}
	text += fmt.Sprintf(". If you have checked that it is really them asking, say how below (valid until %s). If they did not ask, press This is not them.", fmtTime(a.Expires))
	return Message{Title: "Can you vouch for " + a.Target.String() + "?", Text: text, Private: true,
		Sections: []Section{{Text: text}},
		Form: &Form{Action: attestFormPrefix + a.ID, Target: a.Target.ObjectID, TargetLabel: a.Target.String(),
			Limits: map[string]FieldLimit{"reason": FormLimit("reason")}},
		Buttons: []Button{{Kind: ButtonNotMe, Label: "This is not them", Value: a.ID}}}
}

// submitAttestation answers the manager's form: the line is the form's reason field,
// with its limits; approvals decides whether the clicker may attest.
func (r *Router) submitAttestation(ctx context.Context, c Caller, f FormSubmission) Message {
	as, _, ok := r.attestations()
	if !ok {
		return Refuse("Manager attestations are not enabled on this mfadesk.")
	}
	id := strings.TrimPrefix(f.Action, attestFormPrefix)
	lim := FormLimit("reason")
	switch n := utf8.RuneCountInString(strings.TrimSpace(f.Reason)); {
	case n < lim.Min:
		m := Refuse(fmt.Sprintf("Say how you verified it is them, in at least %d characters (now %d).", lim.Min, n))
		m.Errors = FieldErrors{"reason": m.Text}
		return m
	case n > lim.Max:
		m := Refuse(fmt.Sprintf("Keep it to at most %d characters (now %d).", lim.Max, n))
		m.Errors = FieldErrors{"reason": m.Text}
		return m
	}
	// The manager need not be in any group, only pass the caller rule.
	roles, err := r.roles(ctx, c)
	if err != nil {
		if m, ok := r.ineligible(ctx, c, roles.user, "attest "+clip(id, 40), approvals.Target{}, err); ok {
			return m
		}
		return Refuse(directoryFailure(c, "Your account could not be checked in the directory, so nothing was done.", err))
	}
	att, req, err := as.Attest(ctx, id, namedActor(c, roles.user), f.Reason)
	if err != nil {
		if approvals.CodeOf(err) == "" {
			r.log.ErrorContext(ctx, "attest", "attestation", clip(id, 40), "err", err)
		}
		return Refuse(approvals.UserMessage(err))
	}
	r.tellRequester(ctx, req, fmt.Sprintf("%s's manager, %s, attested for request %s.", att.Target, att.Manager, req.ID))
	return Message{Private: true, Text: fmt.Sprintf("Thank you: you vouched for %s on request %s. An approver decides it next.", att.Target, req.ID)}
}

// tellRequester sends a private line to a request's requester, where they filed it.
func (r *Router) tellRequester(ctx context.Context, req approvals.Request, text string) {
	if err := r.tellPrivately(ctx, req.Requester, Message{Private: true, Text: text}); err != nil {
		r.log.WarnContext(ctx, "tell the requester", "request", req.ID, "err", err)
	}
}

// attest is the agent's `attest <request-id>`: ask the target's manager again.
func (r *Router) attest(ctx context.Context, c Caller, cmd Command, roles callerRoles) Message {
	if _, _, ok := r.attestations(); !ok {
		return Refuse("Manager attestations are not enabled on this mfadesk.")
	}
	if !roles.helpdesk {
		return Refuse("Only members of the helpdesk group can ask a manager to attest.")
	}
	req, err := r.req.Get(ctx, cmd.ID)
	if err != nil {
		return Refuse(approvals.UserMessage(err))
	}
	if e := approvals.Attestable(req); e != nil {
		return Refuse(approvals.UserMessage(e))
	}
	u, err := r.dir.User(ctx, actions.UserRef{Kind: actions.RefObjectID, Value: req.Target.ObjectID})
	if err != nil {
		return r.lookupFailed(ctx, cmd, err)
	}
	text, asked := r.askManager(ctx, namedActor(c, roles.user), req, u)
	if !asked {
		return Refuse(strings.TrimSpace(text))
	}
	return Message{Private: true, Text: strings.TrimSpace(text)}
}

// noticeManager sends the target's manager a copy of the notice after a write (the
// policy's NotifyManager), with "This is not them".
func (r *Router) noticeManager(ctx context.Context, req approvals.Request) {
	_, mr, ok := r.attestations()
	if !ok {
		return
	}
	m, why := r.targetManager(ctx, mr, actions.User{ID: req.Target.ObjectID, DisplayName: req.Target.DisplayName})
	if why != "" {
		r.log.InfoContext(ctx, "no manager copy of the notice", "request", req.ID, "why", why)
		return
	}
	if reached, why := r.tellUser(ctx, m, noticeMessage(req, true)); len(reached) == 0 {
		r.log.WarnContext(ctx, "the manager could not be told of the change", "request", req.ID, "why", why)
	}
}
