package bot

import (
	"context"
	"fmt"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
)

// SelfServiceURL is where a user fixes their own security info.
const SelfServiceURL = "https://aka.ms/mysecurityinfo"

// me answers any employee who can reach the bot with their own status and diagnose
// findings, privately, and where to fix them. It never writes: a write on oneself
// would let a stolen chat session reset its own account.
func (r *Router) me(ctx context.Context, c Caller) Message {
	roles, err := r.roles(ctx, c)
	if err != nil {
		if m, ok := r.ineligible(ctx, c, roles.user, "/mfa me", approvals.Target{}, err); ok {
			return m
		}
		return Refuse(directoryFailure(c, "Your account could not be read in the directory, so nothing was shown.", err))
	}
	if r.gather == nil {
		return Refuse("me is not available on this mfadesk: it has no directory evidence source.")
	}
	cmd := Command{Verb: VerbDiagnose, User: actions.UserRef{Kind: actions.RefObjectID, Value: roles.user.ID}, Platform: c.Platform}
	if roles.user.ID == "" {
		cmd.User.Value = c.ObjectID
	}
	ev, err := r.gather.Gather(ctx, cmd.User, lookupQuery(cmd))
	if err != nil {
		return r.lookupFailed(ctx, cmd, err)
	}
	m := RenderDiagnosis(ev, actions.Diagnose(ev, r.now()), c.Platform)
	m.Private = true
	m.Title = "Your sign-in security"
	m.Sections = append(m.Sections, Section{Heading: "Fix it yourself",
		Text: fmt.Sprintf("Add or change your methods at %s. mfadesk makes no change to your own account; for a reset, call the IT helpdesk.", SelfServiceURL)})
	return m
}

// unfreeze lifts a freeze (approvers only, with a justification; approvals re-checks).
func (r *Router) unfreeze(ctx context.Context, c Caller, cmd Command, roles callerRoles) Message {
	ts, ok := r.targets()
	if !ok {
		return Refuse("Requests are not enabled on this mfadesk.")
	}
	u, err := r.dir.User(ctx, cmd.User)
	if err != nil {
		return r.lookupFailed(ctx, cmd, err)
	}
	target := approvals.Target{ObjectID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName}
	if err := ts.Unfreeze(ctx, target, namedActor(c, roles.user), cmd.Justification); err != nil {
		return Refuse(approvals.UserMessage(err))
	}
	line := fmt.Sprintf("%s lifted the freeze on %s: %s", namedActor(c, roles.user), target, actions.MaskPhones(cmd.Justification))
	for _, p := range r.platforms() {
		if err := r.notifiers[p].PostAudit(ctx, line); err != nil {
			r.log.WarnContext(ctx, "post unfreeze", "platform", p, "err", err)
		}
	}
	return Message{Private: true, Text: fmt.Sprintf("The freeze on %s is lifted; requests about the account can be filed again.", target)}
}
