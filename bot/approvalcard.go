package bot

// Rendering a request: the approval card, in the tense of its state.

import (
	"fmt"
	"strings"
	"time"

	"github.com/mfadesk/mfadesk/approvals"
)

// actionWarning says honestly what each action does.
var actionWarning = map[string]string{
	string(approvals.ActionReregister): "On approval mfadesk deletes the user's phone, Microsoft Authenticator and software OATH methods (the default last), then signs them out everywhere. They must register MFA again at their next sign-in. If a method is added or changed before it runs, nothing is deleted; one already removed is reported as already gone.",
	string(approvals.ActionRevoke):     "On approval mfadesk signs the user out everywhere: every refresh token and browser session is revoked, so they must sign in again, with MFA, on every device. This is broader than the portal's \"Revoke MFA sessions\", which Graph cannot do.",
}

var actionTitle = map[approvals.Action]string{
	approvals.ActionReregister: "Require re-register MFA",
	approvals.ActionRevoke:     "Revoke sessions (sign out everywhere)",
	approvals.ActionTAP:        "Issue a Temporary Access Pass",
}

func stateWords(req approvals.Request) string {
	switch req.State {
	case approvals.StatePending:
		if n := approvalsGiven(req); n > 0 {
			return fmt.Sprintf("pending (%d of %d approvals)", n, req.ApprovalsNeeded)
		}
		return "pending"
	default:
		return req.State.Word()
	}
}

func approvalsGiven(req approvals.Request) int {
	n := 0
	for _, d := range req.Decisions {
		if d.Verdict == approvals.VerdictApprove {
			n++
		}
	}
	return n
}

// render renders a request's card with the risk context kept on the request, so
// every rendering (after each decision, in show) shows what the first approver saw.
func (r *Router) render(req approvals.Request) Message {
	return RenderApproval(req, req.Risk, func(t string) bool { return r.deletes[t] })
}

// RenderApproval renders the approval card: exactly what will run (or, by the
// request's state, what ran or that nothing ran, and who closed it), on whom, asked
// by whom and why, how the identity was verified, the decisions and the results. deletes
// says which method types a re-register deletes: the card lists those as deleted and
// every other method of the snapshot as kept, so the approver sees the truth.
func RenderApproval(req approvals.Request, risk []string, deletes func(methodType string) bool) Message {
	if req.Bulk != nil {
		return renderBulk(req, risk)
	}
	title := actionTitle[req.Action]
	facts := []Fact{
		{Label: "Request", Value: req.ID},
		{Label: "State", Value: stateWords(req)},
		{Label: "Target", Value: fmt.Sprintf("%s — %s (object id %s)", req.Target.DisplayName, req.Target.UPN, req.Target.ObjectID)},
		{Label: "Requested by", Value: fmt.Sprintf("%s (%s)", req.Requester.String(), req.Requester.Platform)},
		{Label: "Reason", Value: maskPhones(req.Reason)},
		{Label: "Identity verified by", Value: verificationLabel(req.Verification.Method) + detailSuffix(maskPhones(req.Verification.Detail))},
		{Label: "Ticket", Value: orDash(req.Ticket)},
		{Label: "Filed", Value: fmtTime(req.Created)},
		{Label: "Expires", Value: fmtTime(req.Expires)},
	}
	facts = append(facts, evidenceFact(req))
	if req.ApprovalsNeeded > 1 {
		facts = append(facts, Fact{Label: "Approvals needed", Value: fmt.Sprintf("%d distinct approvers", req.ApprovalsNeeded)})
	}
	if req.Protection.Protected {
		facts = append(facts, Fact{Label: "Protected target", Value: strings.Join(req.Protection.Reasons, "; ")})
	}
	sections := []Section{{Facts: facts}}

	sections = append(sections, closedFacts(req)...)
	w := runWordsFor(req)
	will := Section{Heading: w.heading, Text: w.text}
	if req.Action == approvals.ActionReregister {
		t := &Table{Columns: []string{"Method", "Type", w.column}}
		deleted := 0
		for _, m := range req.Methods {
			what := w.kept
			if deletes(m.Type) {
				what = w.deleted
				deleted++
			}
			t.Rows = append(t.Rows, []string{orDash(m.Label), m.Type, what})
		}
		if len(t.Rows) > 0 {
			will.Table = t
		}
		if deleted == 0 {
			will.Note = "The user has no phone, Authenticator or OATH method: only the sign-out " + w.signOutOnly + "."
		}
	}
	if req.Action == approvals.ActionTAP {
		// Before it runs the card says which pass and what replacing one does; after,
		// the state's own words.
		t := tapSection(req)
		t.Heading = w.heading
		if req.State != approvals.StatePending && req.State != approvals.StateApproved {
			t.Text = w.text
		}
		will = t
	}
	sections = append(sections, will)
	if len(risk) > 0 {
		sections = append(sections, Section{Heading: "Risk context", Text: "• " + strings.Join(risk, "\n• ")})
	}
	if s, ok := decisionsSection(req); ok {
		sections = append(sections, s)
	}
	if len(req.Steps) > 0 {
		t := &Table{Columns: []string{"Step", "On", "Outcome", "Detail"}}
		for _, s := range req.Steps {
			t.Rows = append(t.Rows, []string{s.Name, orDash(s.Target), s.Outcome, s.Detail})
		}
		sections = append(sections, Section{Heading: "Result", Table: t})
	}
	if req.Error != "" {
		sections = append(sections, Section{Note: "Failed: " + req.Error})
	}
	m := Message{
		Title:     fmt.Sprintf("%s: %s", title, req.Target.DisplayName),
		Text:      fmt.Sprintf("%s for %s (%s), requested by %s — %s.", title, req.Target.DisplayName, req.Target.UPN, req.Requester.String(), stateWords(req)),
		Sections:  sections,
		RequestID: req.ID,
	}
	if req.State == approvals.StatePending {
		m.Buttons = []Button{
			{Kind: ButtonApprove, Label: "Approve", Value: req.ID},
			{Kind: ButtonDeny, Label: "Deny", Value: req.ID},
		}
	}
	if req.State == approvals.StateFailed && req.Retryable {
		// The service refuses a retry once the approval is too old, and says so.
		m.Buttons = []Button{{Kind: ButtonRetry, Label: "Retry", Value: req.ID}}
	}
	return m
}

// decisionsSection lists who approved or denied, when and why.
func decisionsSection(req approvals.Request) (Section, bool) {
	if len(req.Decisions) == 0 {
		return Section{}, false
	}
	var lines []string
	for _, d := range req.Decisions {
		l := fmt.Sprintf("%s by %s at %s", map[approvals.Verdict]string{approvals.VerdictApprove: "Approved", approvals.VerdictDeny: "Denied"}[d.Verdict], d.By.String(), fmtTime(d.At))
		if d.Justification != "" {
			l += ": " + maskPhones(d.Justification)
		}
		lines = append(lines, l)
	}
	return Section{Heading: "Decisions", Text: strings.Join(lines, "\n")}, true
}

// closedFacts says who closed a request that never ran, and when: the card of a
// cancelled or expired request is read later by people who did not see it happen.
// A denial is in the Decisions section, with its justification.
func closedFacts(req approvals.Request) []Section {
	switch req.State {
	case approvals.StateCancelled:
		// The requester cancels, or the target by "This is not me"; the cancellation
		// is the request's last write.
		if req.NotMe {
			return []Section{{Facts: []Fact{{Label: "Cancelled", Value: fmt.Sprintf("at %s because %s said they did not ask for it (This is not me); nothing ran", fmtTime(req.Updated), req.Target.String())}}}}
		}
		return []Section{{Facts: []Fact{{Label: "Cancelled", Value: fmt.Sprintf("by %s at %s; nothing ran", req.Requester.String(), fmtTime(req.Updated))}}}}
	case approvals.StateExpired:
		return []Section{{Facts: []Fact{{Label: "Expired", Value: fmt.Sprintf("at %s, before an approver decided; nothing ran", fmtTime(req.Expires))}}}}
	}
	return nil
}

// runWords is how a card speaks of the action in a given state: before the run it
// promises, during it reports, after it tells what happened, and once closed without
// a run it says that nothing ran. A card is read long after the click.
type runWords struct {
	heading, text     string
	column, deleted   string
	kept, signOutOnly string
}

// actionDoes says what each action does, as a verb phrase in three tenses.
var actionDoes = map[approvals.Action]struct{ future, present, past, plan string }{
	approvals.ActionReregister: {
		future:  actionWarning[string(approvals.ActionReregister)],
		present: "mfadesk is deleting the user's phone, Microsoft Authenticator and software OATH methods (the default last), then signs them out everywhere.",
		past:    "mfadesk deleted the user's phone, Microsoft Authenticator and software OATH methods and signed them out everywhere. They must register MFA again at their next sign-in.",
		plan:    "delete the user's phone, Microsoft Authenticator and software OATH methods and sign them out everywhere",
	},
	approvals.ActionRevoke: {
		future:  actionWarning[string(approvals.ActionRevoke)],
		present: "mfadesk is signing the user out everywhere: every refresh token and browser session is being revoked.",
		past:    "mfadesk signed the user out everywhere: every refresh token and browser session was revoked, so they must sign in again, with MFA, on every device.",
		plan:    "sign the user out everywhere (revoke every refresh token and browser session)",
	},
	approvals.ActionTAP: {
		present: "mfadesk is replacing the user's Temporary Access Pass and sending the new one to the requester privately.",
		past:    "mfadesk issued a Temporary Access Pass and sent it to the requester privately, once; it is shown nowhere else.",
		plan:    "issue a Temporary Access Pass and send it to the requester privately",
	},
}

func runWordsFor(req approvals.Request) runWords {
	d := actionDoes[req.Action]
	if d.plan == "" {
		d.plan = "run " + string(req.Action)
		d.future, d.present, d.past = "On approval mfadesk will "+d.plan+".", "mfadesk is running "+string(req.Action)+".", "mfadesk ran "+string(req.Action)+"."
	}
	switch req.State {
	case approvals.StatePending, approvals.StateApproved:
		return runWords{"What will run", d.future, "On approval", "deleted", "kept", "will run"}
	case approvals.StateExecuting:
		return runWords{"What is running", d.present, "Now", "being deleted", "kept", "runs"}
	case approvals.StateSucceeded:
		return runWords{"What ran", d.past, "Outcome", "deleted", "kept", "ran"}
	case approvals.StateFailed:
		return runWords{"What was attempted", "mfadesk set out to " + d.plan + ", and failed: the result below says which steps ran.", "Planned", "delete", "keep", "was attempted"}
	}
	why := map[approvals.State]string{
		approvals.StateDenied:    "the request was denied",
		approvals.StateExpired:   "the request expired before an approver decided",
		approvals.StateCancelled: "the requester cancelled the request",
	}[req.State]
	if req.NotMe {
		why = "the user said they did not ask for it"
	}
	if why == "" {
		why = "the request is " + string(req.State)
	}
	return runWords{"Nothing ran", "Nothing ran: " + why + ". It asked mfadesk to " + d.plan + ".", "Asked for", "delete", "keep", "was asked for"}
}

func detailSuffix(s string) string {
	if s == "" {
		return ""
	}
	return " — " + s
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func fmtTime(t time.Time) string { return when(t) }
