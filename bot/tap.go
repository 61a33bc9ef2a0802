package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
)

// Step names and the outcome of a temporary-access-pass run, as recorded in the
// request. The pass itself is in none of them.
const (
	stepDeleteTAP  = "delete temporary access pass"
	stepIssueTAP   = "issue temporary access pass"
	stepDeliverTAP = "deliver temporary access pass"
	// outcomeStarted is recorded before the pass is asked for, so that a run that
	// stops before its outcome is recorded is known to have maybe issued one.
	outcomeStarted = "started"
)

// A tap form carries its options in the form's action, "tap:<minutes>:once" or
// "tap:<minutes>:multi", so that every platform's form returns them unchanged; Submit
// checks them again, as it checks everything a form sends back.
func tapFormAction(lifetime time.Duration, once bool) string {
	use := "multi"
	if once {
		use = "once"
	}
	return fmt.Sprintf("%s:%d:%s", VerbTAP, int(lifetime/time.Minute), use)
}

// parseFormAction reads a submitted form's action: reregister, revoke, or tap with its
// options. Anything else is refused with one line.
func parseFormAction(s string, platform Platform) (approvals.Action, *approvals.TAPOptions, error) {
	p := Prefix(platform)
	switch approvals.Action(s) {
	case approvals.ActionReregister, approvals.ActionRevoke:
		return approvals.Action(s), nil, nil
	}
	parts := strings.Split(s, ":")
	if len(parts) == 3 && parts[0] == string(VerbTAP) && (parts[2] == "once" || parts[2] == "multi") {
		if n, err := strconv.Atoi(parts[1]); err == nil {
			d := time.Duration(n) * time.Minute
			if err := actions.CheckTAPLifetime(d); err != nil {
				return "", nil, fmt.Errorf("The form asks for a pass outside Graph's range: %s; start again with %stap.", actions.Explain(err), p)
			}
			return approvals.ActionTAP, &approvals.TAPOptions{LifetimeMinutes: n, UsableOnce: parts[2] == "once"}, nil
		}
	}
	return "", nil, fmt.Errorf("That form is not for a known request; start again with %sreregister, %srevoke or %stap.", p, p, p)
}

// tapUse names the pass's use in words.
func tapUse(once bool) string {
	if once {
		return "one-time"
	}
	return "usable more than once"
}

// tapWarning says what a tap request does on approval.
func tapWarning(lifetime time.Duration, once bool) string {
	return fmt.Sprintf("On approval mfadesk issues a Temporary Access Pass (%s, valid %s) and sends it to you, the requester, privately and once: it is never shown on a card, in the audit log or in mfadesk's logs, and cannot be shown again. "+
		"Graph keeps one pass per user: a pass the user already has is deleted first, which also signs them out.",
		tapUse(once), actions.FormatLifetime(lifetime))
}

// tapForm turns a request form into a tap form: the options travel with it.
func tapForm(m *Message, cmd Command) {
	m.Form.Action = tapFormAction(cmd.Lifetime, cmd.Once)
	m.Form.Warning = tapWarning(cmd.Lifetime, cmd.Once)
	m.Text = fmt.Sprintf("Fill in the form to request a %s Temporary Access Pass valid %s for %s.", tapUse(cmd.Once), actions.FormatLifetime(cmd.Lifetime), m.Form.TargetLabel)
}

// hasTAP reports whether the user has a temporary access pass now.
func hasTAP(ev actions.Evidence) bool {
	for _, m := range ev.Methods {
		if m.Type == actions.MethodTemporaryAccess {
			return true
		}
	}
	return false
}

// tapSection is the approval card's "What will run" for a tap request.
func tapSection(req approvals.Request) Section {
	s := Section{Heading: "What will run"}
	if req.TAP == nil {
		s.Note = "This request carries no pass options, so nothing will run."
		return s
	}
	s.Text = tapWarning(req.TAP.Lifetime(), req.TAP.UsableOnce)
	if req.TAP.Replaces {
		s.Note = "The user has a Temporary Access Pass now: it will be replaced (deleted first, which signs the user out)."
	}
	return s
}

// executeTAP replaces the target's pass and delivers the new one to the requester
// privately. Each step is recorded before the next: a recorded issue (done, or started
// with no outcome) is never issued again, so a resumed run cannot hand out a second
// pass; it says instead that the pass was not delivered. The pass lives only in this
// function and in the one private message.
func (e Executor) executeTAP(ctx context.Context, req approvals.Request, resume bool, record func(context.Context, approvals.Step) error) (approvals.Result, error) {
	var out approvals.Result
	rec := func(st approvals.Step) error {
		out.Steps = append(out.Steps, st)
		if err := record(ctx, st); err != nil {
			return fmt.Errorf("record step %q: %w", st.Name, err)
		}
		return nil
	}
	if req.TAP == nil {
		return out, errors.New("the request carries no pass options; nothing was issued")
	}
	if resume {
		issued, delivered := tapProgress(req.Steps)
		switch {
		case delivered:
			return out, nil // carried out; only its result was not saved
		case issued:
			return out, errors.New("a Temporary Access Pass was issued, or its issue was interrupted, but it was never delivered to you; mfadesk does not keep passes and will not issue a second one from this request: file a new tap request")
		}
	}
	if e.Deliver == nil {
		return out, errors.New("this mfadesk has no private channel to deliver a pass to you; nothing was issued")
	}
	replacer, ok := e.W.(actions.TAPReplacer)
	if !ok {
		return out, errors.New("this directory back end cannot delete an existing pass, so it cannot issue one; nothing was issued")
	}
	now := time.Now().UTC()
	steps, err := replacer.DeleteTAPs(ctx, req.Target.ObjectID)
	for _, s := range steps {
		if rerr := rec(approvals.Step{Name: stepDeleteTAP, Target: s.Method.Label, Outcome: string(s.Outcome), Detail: s.Reason, At: s.At}); rerr != nil {
			return out, rerr
		}
	}
	if err != nil {
		return out, err
	}
	if err := rec(approvals.Step{Name: stepIssueTAP, Outcome: outcomeStarted, At: now}); err != nil {
		// Without the record a restart could not know a pass may exist: issue none.
		return out, err
	}
	tap, err := e.W.IssueTAP(ctx, req.Target.ObjectID, req.TAP.Lifetime(), req.TAP.UsableOnce)
	if err != nil {
		// Graph answered with a refusal: no pass exists, a retry may issue one.
		if rerr := rec(approvals.Step{Name: stepIssueTAP, Outcome: string(actions.OutcomeFailed), Detail: actions.Explain(err), At: time.Now().UTC()}); rerr != nil {
			return out, errors.Join(err, rerr)
		}
		return out, err
	}
	start := tap.Start
	if start.IsZero() {
		start = time.Now().UTC()
	}
	lifetime := tap.Lifetime
	if lifetime == 0 {
		lifetime = req.TAP.Lifetime()
	}
	expires := start.Add(lifetime)
	// The lifetime and expiry go into the step's target, which the audit event keeps.
	what := fmt.Sprintf("%s, valid %s until %s", tapUse(tap.UsableOnce), actions.FormatLifetime(lifetime), fmtTime(expires))
	recErr := rec(approvals.Step{Name: stepIssueTAP, Target: what, Outcome: string(actions.OutcomeDone), At: time.Now().UTC()})
	// Deliver even when the record failed: the pass exists and the requester needs it;
	// the "started" record already keeps a resumed run from issuing another.
	msg := Message{
		Private: true,
		Title:   "Temporary Access Pass for " + req.Target.DisplayName,
		Text: fmt.Sprintf("Temporary Access Pass for %s (%s), request %s: %s\n%s, valid from %s until %s. Give it to the user over the channel you verified them on. mfadesk will not show it again.",
			req.Target.DisplayName, req.Target.UPN, req.ID, tap.Reveal(), capitalize(tapUse(tap.UsableOnce)), fmtTime(start), fmtTime(expires)),
	}
	if derr := e.Deliver(ctx, req.Requester, msg); derr != nil {
		rerr := rec(approvals.Step{Name: stepDeliverTAP, Target: req.Requester.String(), Outcome: string(actions.OutcomeFailed), Detail: "could not be sent privately", At: time.Now().UTC()})
		return out, errors.Join(fmt.Errorf("the pass was issued but could not be sent to you privately (%w); mfadesk does not keep passes: file a new tap request", derr), recErr, rerr)
	}
	if err := rec(approvals.Step{Name: stepDeliverTAP, Target: req.Requester.String(), Outcome: string(actions.OutcomeDone), At: time.Now().UTC()}); err != nil {
		return out, errors.Join(recErr, err)
	}
	return out, recErr
}

// tapProgress reads a tap run's recorded steps: whether a pass was (or may have been)
// issued, and whether it was delivered. An issue whose last record is a failure
// issued nothing.
func tapProgress(steps []approvals.Step) (issued, delivered bool) {
	for _, s := range steps {
		switch s.Name {
		case stepIssueTAP:
			issued = s.Outcome != string(actions.OutcomeFailed)
		case stepDeliverTAP:
			delivered = delivered || s.Outcome == string(actions.OutcomeDone)
		}
	}
	return issued, delivered
}

// tellPrivately sends msg to a person on the platform they filed from: a Slack direct
// message, a Teams 1:1 chat, the web chat's private inbox.
func (r *Router) tellPrivately(ctx context.Context, to approvals.Actor, msg Message) error {
	n, ok := r.notifiers[Platform(to.Platform)]
	if !ok {
		return fmt.Errorf("no %q adapter to reach %s", to.Platform, to.String())
	}
	msg.Private = true
	return n.Tell(ctx, Caller{Platform: Platform(to.Platform), ChatID: to.ChatID, ObjectID: to.ObjectID, Name: to.DisplayName}, msg)
}
