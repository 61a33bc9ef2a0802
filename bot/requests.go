package bot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
)

// Requests is what the router needs from approvals.
type Requests interface {
	Submit(ctx context.Context, in approvals.NewRequest) (approvals.Request, error)
	Decide(ctx context.Context, id string, by approvals.Actor, verdict approvals.Verdict, justification string) (approvals.Request, error)
	Cancel(ctx context.Context, id string, by approvals.Actor) (approvals.Request, error)
	Retry(ctx context.Context, id string, by approvals.Actor) (approvals.Request, error)
	Get(ctx context.Context, id string) (approvals.Request, error)
	OpenRequests(ctx context.Context) ([]approvals.Request, error)
	History(ctx context.Context, id string) ([]approvals.Event, error)
}

// verificationLabels say in words what each verification method means; phone_kba is
// labelled weak because it is what the 2023 help-desk attacks defeated.
var verificationLabels = map[approvals.VerificationMethod]string{
	approvals.VerifyInPerson:           "In person, photo ID checked",
	approvals.VerifyVideoWithID:        "Video call, photo ID shown",
	approvals.VerifyCallbackOnRecord:   "Called back on the number on record (HR)",
	approvals.VerifyManagerAttestation: "Manager attested (out of band)",
	approvals.VerifyExistingFactor:     "Approved a challenge on an existing factor",
	approvals.VerifyPhoneKBA:           "Phone call, knowledge questions only (weak)",
}

// VerificationChoices lists the identity-verification methods a form offers.
func VerificationChoices() []Choice {
	var out []Choice
	for _, m := range approvals.VerificationMethods() {
		out = append(out, Choice{Value: string(m), Label: verificationLabels[m]})
	}
	return out
}

func verificationLabel(m approvals.VerificationMethod) string {
	if l, ok := verificationLabels[m]; ok {
		return l
	}
	return string(m)
}

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

func actorOf(c Caller) approvals.Actor {
	return approvals.Actor{Platform: c.Platform, ChatID: c.ChatID, ObjectID: c.ObjectID, DisplayName: c.Name}
}

// directoryActor names the caller as the directory knows them, not as their chat
// profile says (a Slack display name is the user's to edit): what approvers and the
// audit log read must not be spoofable. A caller the directory cannot read is refused.
func (r *Router) directoryActor(ctx context.Context, c Caller) (approvals.Actor, error) {
	a := actorOf(c)
	if c.ObjectID == "" {
		return a, errors.New("caller has no directory identity")
	}
	ref, err := actions.ParseUserRef(c.ObjectID)
	if err != nil || ref.Kind != actions.RefObjectID {
		return a, fmt.Errorf("caller's object id %q is malformed", clip(c.ObjectID, 40))
	}
	u, err := r.dir.User(ctx, ref)
	if err != nil {
		return a, fmt.Errorf("read caller %s: %w", c.ObjectID, err)
	}
	a.DisplayName = fmt.Sprintf("%s (%s)", u.DisplayName, u.UPN)
	return a, nil
}

// maskPhones masks phone-number-like runs in free text bound for a channel: an agent
// who verified by calling back may well type the number.
func maskPhones(s string) string { return actions.MaskPhones(s) }

// requestForm answers `reregister <u>` / `revoke <u>` with the form for the details.
// The target is resolved now and the form carries its object id, so what is approved is
// bound to one directory object, whatever names change meanwhile.
func (r *Router) requestForm(ctx context.Context, c Caller, cmd Command, roles callerRoles) Message {
	if r.req == nil {
		return Refuse("Requests are not enabled on this mfadesk.")
	}
	if !roles.helpdesk {
		return Refuse("Only members of the helpdesk group can file requests.")
	}
	u, err := r.dir.User(ctx, cmd.User)
	if err != nil {
		return r.lookupFailed(ctx, cmd, err)
	}
	if strings.EqualFold(u.ID, c.ObjectID) {
		return Refuse("You cannot file a request about your own account; ask a colleague.")
	}
	label := fmt.Sprintf("%s (%s)", u.DisplayName, u.UPN)
	msg := Message{
		Private: true,
		Title:   actionTitle[approvals.Action(cmd.Verb)] + ": " + label,
		Text:    fmt.Sprintf("Fill in the form to request %s for %s.", cmd.Verb, label),
		Form: &Form{
			Action:        string(cmd.Verb),
			Target:        u.ID,
			TargetLabel:   label,
			Warning:       actionWarning[string(cmd.Verb)],
			Verifications: VerificationChoices(),
		},
	}
	if cmd.Verb == VerbTAP {
		tapForm(&msg, cmd)
	}
	return msg
}

var ticketRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._#/:-]{1,63}$`)

// checkForm validates a submitted form field by field.
func checkForm(f FormSubmission) FieldErrors {
	errs := FieldErrors{}
	reason := strings.TrimSpace(f.Reason)
	switch n := utf8.RuneCountInString(reason); {
	case n < 10:
		errs["reason"] = "Say why, in at least 10 characters: approvers decide on it."
	case n > 500:
		errs["reason"] = "Keep the reason under 500 characters."
	}
	if _, ok := verificationLabels[approvals.VerificationMethod(f.Verification)]; !ok {
		errs["verification"] = "Choose how you verified the person's identity."
	}
	switch n := utf8.RuneCountInString(strings.TrimSpace(f.VerificationDetail)); {
	case n < 3:
		errs["verification_detail"] = "Describe the identity check in a few words (what was seen or who attested)."
	case n > 500:
		errs["verification_detail"] = "Keep the detail under 500 characters."
	}
	if !ticketRe.MatchString(strings.TrimSpace(f.Ticket)) {
		errs["ticket"] = "Give the ticket id (letters, digits and . _ # / : -)."
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// Submit files a request from a completed form. It returns the private answer to the
// submitter: an acknowledgement with the request id, a refusal, or field errors.
func (r *Router) Submit(ctx context.Context, c Caller, f FormSubmission) Message {
	if r.req == nil {
		return Refuse("Requests are not enabled on this mfadesk.")
	}
	action, tapOpts, err := parseFormAction(f.Action)
	if err != nil {
		return Refuse(err.Error())
	}
	if errs := checkForm(f); errs != nil {
		m := Refuse("Some fields need fixing: " + joinErrors(errs))
		m.Errors = errs
		return m
	}
	ref, err := actions.ParseUserRef(f.Target)
	if err != nil || ref.Kind != actions.RefObjectID {
		return Refuse("The form's target is not a directory object id; start again with /mfa " + string(action) + ".")
	}
	u, err := r.dir.User(ctx, ref)
	if err != nil {
		return r.lookupFailed(ctx, Command{Verb: Verb(action), User: ref}, err)
	}
	requester, err := r.directoryActor(ctx, c)
	if err != nil {
		r.log.WarnContext(ctx, "identify requester", "err", err)
		return Refuse("Your directory identity could not be read, so no request was filed. Try again shortly.")
	}
	in := approvals.NewRequest{
		Action:       action,
		Target:       approvals.Target{ObjectID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName},
		Requester:    requester,
		Reason:       strings.TrimSpace(f.Reason),
		Verification: approvals.Verification{Method: approvals.VerificationMethod(f.Verification), Detail: strings.TrimSpace(f.VerificationDetail)},
		Ticket:       strings.TrimSpace(f.Ticket),
		TAP:          tapOpts,
	}
	var risk []string
	if r.gather != nil {
		ev, err := r.gather.Gather(ctx, ref, actions.Query{Sources: actions.SourceMethods | actions.SourceSignIns, SignInLast: 20, SignInDays: 7})
		if err != nil {
			// A failed read must not look like an empty one: no methods, no failures.
			r.log.WarnContext(ctx, "read the target for a request", "target", u.ID, "err", err)
			if action == approvals.ActionReregister {
				return Refuse("The user's current methods could not be read, so no request was filed: " + actions.Explain(err))
			}
			risk = []string{"Risk context unavailable: " + actions.Explain(err)}
		} else {
			risk = riskContext(u, ev)
			if in.TAP != nil {
				in.TAP.Replaces = hasTAP(ev)
			}
		}
		if action == approvals.ActionReregister {
			// The snapshot is what the approver approves: without it, refuse rather
			// than let the executor delete whatever is there later.
			if !ev.Has(actions.SourceMethods) {
				return Refuse("The user's current methods could not be read, so no request was filed: " + ev.Note(actions.SourceMethods))
			}
			for _, m := range actions.Snapshot(ev.Methods) {
				if m.Type == actions.MethodPassword {
					continue
				}
				in.Methods = append(in.Methods, approvals.MethodRef{ID: m.ID, Type: string(m.Type), Label: m.Label})
			}
		}
	} else if action == approvals.ActionReregister {
		return Refuse("This mfadesk cannot read methods, so it cannot file re-register requests.")
	}
	req, err := r.req.Submit(ctx, in)
	if err != nil {
		if approvals.CodeOf(err) == "" {
			r.log.ErrorContext(ctx, "submit request", "action", action, "target", u.ID, "err", err)
		}
		return Refuse(approvals.UserMessage(err))
	}
	card := r.render(req, risk)
	posted := r.postCard(ctx, c.Platform, req.ID, card)
	ack := fmt.Sprintf("Request %s filed: %s for %s. It waits for an approver until %s.", req.ID, actionTitle[action], u.DisplayName, fmtTime(req.Expires))
	if !posted {
		ack += " The approval card could not be posted; approvers can find it with /mfa pending."
	}
	return Message{Private: true, Text: ack, RequestID: req.ID}
}

// riskContext is what an approver should weigh: admin rights, recent failures, the last
// reset, the methods at stake.
func riskContext(u actions.User, ev actions.Evidence) []string {
	var out []string
	if u.IsAdmin() {
		out = append(out, "Holds admin roles: "+strings.Join(u.Roles, ", "))
	}
	if len(u.MFAGroups) > 0 {
		out = append(out, "In MFA groups: "+strings.Join(u.MFAGroups, ", "))
	}
	if ev.Has(actions.SourceSignIns) {
		failed := 0
		for _, s := range ev.SignIns {
			if s.Failed() {
				failed++
			}
		}
		out = append(out, fmt.Sprintf("Sign-ins in the last 7 days: %d read, %d failed", len(ev.SignIns), failed))
	} else if n := ev.Note(actions.SourceSignIns); n != "" {
		out = append(out, n)
	}
	if !u.SessionsValidFrom.IsZero() {
		out = append(out, "Sessions last revoked or password last reset: "+fmtTime(u.SessionsValidFrom))
	}
	return out
}

func joinErrors(errs FieldErrors) string {
	var parts []string
	for _, k := range []string{"reason", "verification", "verification_detail", "ticket"} {
		if v, ok := errs[k]; ok {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " ")
}

// postCard posts the approval card on the requester's platform and remembers where.
func (r *Router) postCard(ctx context.Context, platform, id string, card Message) bool {
	n, ok := r.notifiers[platform]
	if !ok {
		r.log.WarnContext(ctx, "no notifier for platform; approval card not posted", "platform", platform, "request", id)
		return false
	}
	ref, err := n.PostApproval(ctx, card)
	if err != nil {
		r.log.ErrorContext(ctx, "post approval card", "request", id, "err", err)
		return false
	}
	ref.Platform = platform
	if err := r.cards.AddCard(ctx, id, ref); err != nil {
		r.log.ErrorContext(ctx, "record approval card", "request", id, "err", err)
	}
	return true
}

// Decide handles an Approve or Deny click. It returns the private answer to the clicker;
// the card itself is updated through the Notifier when the request changes.
func (r *Router) Decide(ctx context.Context, c Caller, d Decision) Message {
	if r.req == nil {
		return Refuse("Requests are not enabled on this mfadesk.")
	}
	if c.ObjectID == "" {
		return Refuse("Your directory identity could not be established, so nothing was decided.")
	}
	verdict := approvals.VerdictApprove
	if !d.Approve && !d.Retry {
		verdict = approvals.VerdictDeny
		if utf8.RuneCountInString(strings.TrimSpace(d.Justification)) < 5 {
			m := Refuse("Say why you deny the request.")
			m.Errors = FieldErrors{"justification": "Say why you deny the request."}
			return m
		}
	}
	by, err := r.directoryActor(ctx, c)
	if err != nil {
		r.log.WarnContext(ctx, "identify approver", "err", err)
		return Refuse("Your directory identity could not be read, so nothing was decided. Try again shortly.")
	}
	if d.Retry {
		req, err := r.req.Retry(ctx, d.RequestID, by)
		if err != nil {
			if approvals.CodeOf(err) == "" {
				r.log.ErrorContext(ctx, "retry request", "request", d.RequestID, "err", err)
			}
			return Refuse(approvals.UserMessage(err))
		}
		return Message{Private: true, Text: fmt.Sprintf("You retried %s: it is now %s.", req.ID, stateWords(req)), RequestID: req.ID}
	}
	req, err := r.req.Decide(ctx, d.RequestID, by, verdict, strings.TrimSpace(d.Justification))
	if err != nil {
		if approvals.CodeOf(err) == "" {
			r.log.ErrorContext(ctx, "decide request", "request", d.RequestID, "err", err)
		}
		return Refuse(approvals.UserMessage(err))
	}
	return Message{Private: true, Text: fmt.Sprintf("You %s %s: it is now %s.", map[bool]string{true: "approved", false: "denied"}[d.Approve], req.ID, stateWords(req)), RequestID: req.ID}
}

func (r *Router) cancel(ctx context.Context, c Caller, id string) Message {
	req, err := r.req.Cancel(ctx, id, actorOf(c))
	if err != nil {
		return Refuse(approvals.UserMessage(err))
	}
	return Message{Private: true, Text: fmt.Sprintf("Request %s is cancelled.", req.ID), RequestID: req.ID}
}

func (r *Router) show(ctx context.Context, id string) Message {
	req, err := r.req.Get(ctx, id)
	if err != nil {
		return Refuse(approvals.UserMessage(err))
	}
	m := r.render(req, nil)
	m.Private = true
	m.Buttons = nil // decisions are taken on the card, where the click is verified
	if hist, err := r.req.History(ctx, id); err == nil {
		t := &Table{Columns: []string{"When", "Event", "By", "Detail"}}
		for _, e := range hist {
			t.Rows = append(t.Rows, []string{fmtTime(e.Time), string(e.Kind), e.Actor.String(), e.Detail})
		}
		m.Sections = append(m.Sections, Section{Heading: "History", Table: t})
	}
	return m
}

// pending lists the open requests the caller may act on: those they may decide
// (not their own, not about them) and their own, which they may cancel.
func (r *Router) pending(ctx context.Context, c Caller, roles callerRoles) Message {
	open, err := r.req.OpenRequests(ctx)
	if err != nil {
		r.log.ErrorContext(ctx, "list open requests", "err", err)
		return Refuse("Open requests could not be read; the error was logged.")
	}
	t := &Table{Columns: []string{"Request", "Action", "Target", "Requested by", "State", "Expires", "You may"}}
	for _, q := range open {
		own := strings.EqualFold(q.Requester.ObjectID, c.ObjectID)
		var may string
		switch {
		case own && q.State == approvals.StatePending:
			may = "cancel"
		case roles.approver && !own && !strings.EqualFold(q.Target.ObjectID, c.ObjectID) && q.State == approvals.StatePending && !decidedBy(q, c.ObjectID):
			may = "approve or deny"
		default:
			continue
		}
		t.Rows = append(t.Rows, []string{q.ID, string(q.Action), q.Target.String(), q.Requester.String(), string(q.State), fmtTime(q.Expires), may})
	}
	if len(t.Rows) == 0 {
		return Message{Private: true, Text: "No open requests you can act on."}
	}
	return Message{Private: true, Title: "Open requests", Text: fmt.Sprintf("%d open request(s) you can act on.", len(t.Rows)), Sections: []Section{{Table: t}}}
}

func decidedBy(q approvals.Request, oid string) bool {
	for _, d := range q.Decisions {
		if strings.EqualFold(d.By.ObjectID, oid) {
			return true
		}
	}
	return false
}

// OnChange is the approvals hook: it updates every posted card of the request in
// place and, once the request is over, tells the requester.
func (r *Router) OnChange(req approvals.Request) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	refs, err := r.cards.Cards(ctx, req.ID)
	if err != nil {
		r.log.ErrorContext(ctx, "read approval cards", "request", req.ID, "err", err)
	}
	card := r.render(req, nil)
	for _, ref := range refs {
		n, ok := r.notifiers[ref.Platform]
		if !ok {
			continue
		}
		if err := n.UpdateApproval(ctx, ref, card); err != nil {
			r.log.ErrorContext(ctx, "update approval card", "request", req.ID, "platform", ref.Platform, "err", err)
		}
	}
	if !req.State.Open() {
		if n, ok := r.notifiers[req.Requester.Platform]; ok {
			to := Caller{Platform: req.Requester.Platform, ChatID: req.Requester.ChatID, ObjectID: req.Requester.ObjectID, Name: req.Requester.DisplayName}
			msg := Message{Private: true, Text: fmt.Sprintf("Your request %s (%s for %s) is %s.", req.ID, req.Action, req.Target.String(), stateWords(req)), Sections: card.Sections, RequestID: req.ID}
			if err := n.Tell(ctx, to, msg); err != nil {
				r.log.ErrorContext(ctx, "tell requester", "request", req.ID, "err", err)
			}
		}
	}
}

// OnAudit is the approvals hook that posts every audit event, with the chain head, to
// the audit channel of every platform: the chat history then witnesses the chain.
func (r *Router) OnAudit(ev approvals.Event, head approvals.Head) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	line := AuditLine(ev, head)
	for p, n := range r.notifiers {
		if err := n.PostAudit(ctx, line); err != nil {
			r.log.ErrorContext(ctx, "post audit event", "platform", p, "seq", ev.Seq, "err", err)
		}
	}
}

// AuditLine renders one audit event for the audit channel.
func AuditLine(ev approvals.Event, head approvals.Head) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s %s", ev.Seq, fmtTime(ev.Time), ev.Kind)
	if ev.RequestID != "" {
		fmt.Fprintf(&b, " %s", ev.RequestID)
	}
	if ev.Action != "" {
		fmt.Fprintf(&b, " %s", ev.Action)
	}
	if ev.Target.ObjectID != "" || ev.Target.UPN != "" {
		fmt.Fprintf(&b, " target %s", ev.Target.String())
	}
	if ev.Actor.ObjectID == "" && ev.Actor.ChatID == "" {
		b.WriteString(" by mfadesk")
	} else {
		fmt.Fprintf(&b, " by %s", ev.Actor.String())
		if ev.Actor.ObjectID != "" {
			fmt.Fprintf(&b, " (%s)", ev.Actor.ObjectID)
		}
	}
	if ev.State != "" {
		fmt.Fprintf(&b, " → %s", ev.State)
	}
	if ev.Code != "" {
		fmt.Fprintf(&b, " [%s]", ev.Code)
	}
	if ev.Detail != "" {
		fmt.Fprintf(&b, ": %s", clip(ev.Detail, 300))
	}
	h := head.Hash
	if len(h) > 16 {
		h = h[:16]
	}
	fmt.Fprintf(&b, " · chain head #%d %s", head.Seq, h)
	return b.String()
}

func stateWords(req approvals.Request) string {
	switch req.State {
	case approvals.StatePending:
		if n := approvalsGiven(req); n > 0 {
			return fmt.Sprintf("pending (%d of %d approvals)", n, req.ApprovalsNeeded)
		}
		return "pending"
	case approvals.StateSucceeded:
		return "done"
	default:
		return string(req.State)
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

func (r *Router) render(req approvals.Request, risk []string) Message {
	return RenderApproval(req, risk, func(t string) bool { return r.deletes[t] })
}

// RenderApproval renders the approval card: exactly what will run, on whom, asked by
// whom and why, how the identity was verified, the decisions and the results. deletes
// says which method types a re-register deletes: the card lists those as deleted and
// every other method of the snapshot as kept, so the approver sees the truth.
func RenderApproval(req approvals.Request, risk []string, deletes func(methodType string) bool) Message {
	title := actionTitle[req.Action]
	facts := []Fact{
		{"Request", req.ID},
		{"State", stateWords(req)},
		{"Target", fmt.Sprintf("%s — %s (object id %s)", req.Target.DisplayName, req.Target.UPN, req.Target.ObjectID)},
		{"Requested by", fmt.Sprintf("%s (%s)", req.Requester.String(), req.Requester.Platform)},
		{"Reason", maskPhones(req.Reason)},
		{"Identity verified by", verificationLabel(req.Verification.Method) + detailSuffix(maskPhones(req.Verification.Detail))},
		{"Ticket", orDash(req.Ticket)},
		{"Filed", fmtTime(req.Created)},
		{"Expires", fmtTime(req.Expires)},
	}
	if req.ApprovalsNeeded > 1 {
		facts = append(facts, Fact{"Approvals needed", fmt.Sprintf("%d distinct approvers", req.ApprovalsNeeded)})
	}
	if req.Protection.Protected {
		facts = append(facts, Fact{"Protected target", strings.Join(req.Protection.Reasons, "; ")})
	}
	sections := []Section{{Facts: facts}}

	will := Section{Heading: "What will run"}
	switch req.Action {
	case approvals.ActionReregister:
		t := &Table{Columns: []string{"Method", "Type", "On approval"}}
		deleted := 0
		for _, m := range req.Methods {
			what := "kept"
			if deletes(m.Type) {
				what = "deleted"
				deleted++
			}
			t.Rows = append(t.Rows, []string{orDash(m.Label), m.Type, what})
		}
		will.Text = actionWarning[string(req.Action)]
		if len(t.Rows) > 0 {
			will.Table = t
		}
		if deleted == 0 {
			will.Note = "The user has no phone, Authenticator or OATH method: only the sign-out will run."
		}
	case approvals.ActionTAP:
		will = tapSection(req)
	default:
		will.Text = actionWarning[string(req.Action)]
	}
	sections = append(sections, will)
	if len(risk) > 0 {
		sections = append(sections, Section{Heading: "Risk context", Text: "• " + strings.Join(risk, "\n• ")})
	}
	if len(req.Decisions) > 0 {
		var lines []string
		for _, d := range req.Decisions {
			l := fmt.Sprintf("%s by %s at %s", map[approvals.Verdict]string{approvals.VerdictApprove: "Approved", approvals.VerdictDeny: "Denied"}[d.Verdict], d.By.String(), fmtTime(d.At))
			if d.Justification != "" {
				l += ": " + maskPhones(d.Justification)
			}
			lines = append(lines, l)
		}
		sections = append(sections, Section{Heading: "Decisions", Text: strings.Join(lines, "\n")})
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
