package bot

import (
	"context"
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
	// Precheck runs Submit's checks that need no form, when the form is asked for.
	Precheck(ctx context.Context, action approvals.Action, requester approvals.Actor, target approvals.Target) (approvals.Protection, error)
	// Refused audits an attempt the bot refused before calling the service (a caller
	// without rights, a click from the wrong card).
	Refused(ctx context.Context, attempt string, by approvals.Actor, requestID string, target approvals.Target, code approvals.Code, msg string)
	// Policy is the effective policy: the form offers only what it accepts.
	Policy() approvals.Policy
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

// VerificationChoices lists the identity-verification methods a form offers: those
// the policy accepts for this target, so no form offers what filing would refuse.
func VerificationChoices(p approvals.Policy, prot approvals.Protection) []Choice {
	var out []Choice
	for _, m := range approvals.VerificationMethods() {
		if p.Accepts(m, prot.Protected) {
			out = append(out, Choice{Value: string(m), Label: verificationLabels[m]})
		}
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

// namedActor names the caller as the directory knows them, not as their chat profile
// says (a Slack display name is the user's to edit): what approvers and the audit log
// read must not be spoofable. Without a directory account (u.ID empty) the chat name
// is all there is.
func namedActor(c Caller, u actions.User) approvals.Actor {
	a := actorOf(c)
	if u.ID != "" {
		a.DisplayName = fmt.Sprintf("%s (%s)", u.DisplayName, u.UPN)
	}
	return a
}

// directoryActor reads the caller's directory account and names them by it. A caller
// the directory cannot read is refused.
func (r *Router) directoryActor(ctx context.Context, c Caller) (approvals.Actor, error) {
	if c.ObjectID == "" {
		return actorOf(c), errUnlinked
	}
	ref, err := actions.ParseUserRef(c.ObjectID)
	if err != nil || ref.Kind != actions.RefObjectID {
		return actorOf(c), fmt.Errorf("caller's object id %q is malformed", clip(c.ObjectID, 40))
	}
	u, err := r.dir.User(ctx, ref)
	if actions.KindOf(err) == actions.KindNotFound {
		return actorOf(c), &approvals.IneligibleError{Why: "no longer exists in the directory"}
	}
	if err != nil {
		return actorOf(c), fmt.Errorf("read caller %s: %w", c.ObjectID, err)
	}
	return namedActor(c, u), nil
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
	requester := namedActor(c, roles.user)
	action := approvals.Action(cmd.Verb)
	u, err := r.dir.User(ctx, cmd.User)
	if err != nil {
		return r.lookupFailed(ctx, cmd, err)
	}
	// Refuse now what filing would refuse whatever the form says (not in the helpdesk
	// group, a protected target, an open request, the rate limit), rather than after
	// the agent filled it in.
	prot, err := r.req.Precheck(ctx, action, requester, approvals.Target{ObjectID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName})
	if err != nil {
		if approvals.CodeOf(err) == "" {
			r.log.ErrorContext(ctx, "check a request before its form", "action", action, "target", u.ID, "err", err)
		}
		return Refuse(approvals.UserMessage(err))
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
			Verifications: VerificationChoices(r.req.Policy(), prot),
			Limits:        formLimits(),
		},
	}
	if cmd.Verb == VerbTAP {
		tapForm(&msg, cmd)
	}
	return msg
}

// ticketRe: 2 to 64 characters, as FormLimit("ticket").
var ticketRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._#/:-]{1,63}$`)

// checkForm validates a submitted form field by field.
func checkForm(f FormSubmission) FieldErrors {
	errs := FieldErrors{}
	reason, detail := FormLimit("reason"), FormLimit("verification_detail")
	switch n := utf8.RuneCountInString(strings.TrimSpace(f.Reason)); {
	case n < reason.Min:
		errs["reason"] = fmt.Sprintf("Say why, in at least %d characters (now %d): approvers decide on it.", reason.Min, n)
	case n > reason.Max:
		errs["reason"] = fmt.Sprintf("Keep the reason to at most %d characters (now %d).", reason.Max, n)
	}
	if _, ok := verificationLabels[approvals.VerificationMethod(f.Verification)]; !ok {
		errs["verification"] = "Choose how you verified the person's identity."
	}
	switch n := utf8.RuneCountInString(strings.TrimSpace(f.VerificationDetail)); {
	case n < detail.Min:
		errs["verification_detail"] = fmt.Sprintf("Describe the identity check in at least %d characters (what was seen or who attested).", detail.Min)
	case n > detail.Max:
		errs["verification_detail"] = fmt.Sprintf("Keep the detail to at most %d characters (now %d).", detail.Max, n)
	}
	if !ticketRe.MatchString(strings.TrimSpace(f.Ticket)) {
		t := FormLimit("ticket")
		errs["ticket"] = fmt.Sprintf("Give the ticket id: %d to %d letters, digits and . _ # / : -, starting with a letter or digit.", t.Min, t.Max)
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
	action, tapOpts, err := parseFormAction(f.Action, c.Platform)
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
		return Refuse("The form's target is not a directory object id; start again with " + Prefix(c.Platform) + string(action) + ".")
	}
	u, err := r.dir.User(ctx, ref)
	if err != nil {
		return r.lookupFailed(ctx, Command{Verb: Verb(action), User: ref}, err)
	}
	requester, err := r.directoryActor(ctx, c)
	if err != nil {
		target := approvals.Target{ObjectID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName}
		if m, ok := r.ineligible(ctx, c, actions.User{}, "file a "+string(action)+" request", target, err); ok {
			return m
		}
		r.log.WarnContext(ctx, "identify requester", "err", err)
		return Refuse(directoryFailure(c, "Your directory identity could not be read, so no request was filed.", err))
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
	in.Risk = risk
	req, err := r.req.Submit(ctx, in)
	if err != nil {
		if approvals.CodeOf(err) == "" {
			r.log.ErrorContext(ctx, "submit request", "action", action, "target", u.ID, "err", err)
		}
		return Refuse(approvals.UserMessage(err))
	}
	card := r.render(req)
	posted := r.postCard(ctx, c.Platform, req.ID, card)
	ack := fmt.Sprintf("Request %s filed: %s for %s. It waits for an approver until %s.", req.ID, actionTitle[action], u.DisplayName, fmtTime(req.Expires))
	if !posted {
		ack += " The approval card could not be posted; approvers can find it with " + Prefix(c.Platform) + "pending."
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
		if m, ok := r.ineligible(ctx, c, actions.User{}, "decide "+clip(d.RequestID, 40), approvals.Target{}, err); ok {
			return m
		}
		r.log.WarnContext(ctx, "identify approver", "err", err)
		return Refuse(directoryFailure(c, "Your directory identity could not be read, so nothing was decided.", err))
	}
	if ok, err := r.postedCard(ctx, d.RequestID, c, d.Card); !ok {
		if err != nil {
			r.log.ErrorContext(ctx, "read approval cards", "request", d.RequestID, "err", err)
			return Refuse("The approval cards could not be read, so nothing was decided. Try again shortly.")
		}
		const msg = "That button is not on the approval card of this request, so nothing was decided: use the card in the approvals channel."
		r.log.WarnContext(ctx, "refused a decision from another card", "request", d.RequestID, "platform", c.Platform, "card_channel", d.Card.Channel, "card_id", d.Card.ID)
		r.req.Refused(ctx, "decide", by, d.RequestID, approvals.Target{}, approvals.ErrWrongCard, msg)
		return Refuse(msg)
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

// postedCard reports whether card — where a click came from — is one of the cards
// posted for request id, on the caller's platform. The request id in a button is the
// clicker's to change (another request's id on this card, a crafted click in a
// private chat); where the click came from is reported by the platform. An empty or
// unreadable card list refuses (fail closed).
func (r *Router) postedCard(ctx context.Context, id string, c Caller, card CardRef) (bool, error) {
	if card.Platform != c.Platform || card.Channel == "" || card.ID == "" {
		return false, nil
	}
	refs, err := r.cards.Cards(ctx, id)
	if err != nil {
		return false, err
	}
	for _, ref := range refs {
		if ref == card {
			return true, nil
		}
	}
	return false, nil
}

func (r *Router) cancel(ctx context.Context, c Caller, id string, roles callerRoles) Message {
	// The record names the canceller as the directory does, like a decision.
	req, err := r.req.Cancel(ctx, id, namedActor(c, roles.user))
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
	m := r.render(req)
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
	card := r.render(req)
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
			msg := OutcomeMessage(req, card)
			if err := n.Tell(ctx, to, msg); err != nil {
				r.log.ErrorContext(ctx, "tell requester", "request", req.ID, "err", err)
			}
		}
	}
}

// OutcomeMessage tells the requester how their request ended. The headline says it
// (Teams and Slack show a card's title, not its summary text) and so does the text,
// which is all the web chat's inbox and a notification show: for a denial, who denied
// it and why, as the deny box promises the approver.
func OutcomeMessage(req approvals.Request, card Message) Message {
	is := "is " + stateWords(req)
	if req.State == approvals.StateFailed {
		is = "failed"
	}
	text := fmt.Sprintf("Your request %s (%s for %s) %s", req.ID, req.Action, req.Target.String(), is)
	switch req.State {
	case approvals.StateDenied:
		for _, d := range req.Decisions {
			if d.Verdict == approvals.VerdictDeny {
				text += " by " + d.By.String()
				if j := strings.TrimSpace(d.Justification); j != "" {
					text += ": " + strings.TrimSuffix(maskPhones(j), ".")
				}
			}
		}
	case approvals.StateExpired:
		text += " (no approver decided by " + fmtTime(req.Expires) + "); nothing ran"
	case approvals.StateCancelled:
		text += " (cancelled by " + req.Requester.String() + " at " + fmtTime(req.Updated) + "); nothing ran"
	case approvals.StateFailed:
		if req.Error != "" {
			text += ": " + strings.TrimSuffix(req.Error, ".")
		}
	}
	return Message{
		Private:   true,
		Title:     fmt.Sprintf("Your request %s %s", req.ID, is),
		Text:      text + ".",
		Sections:  card.Sections,
		RequestID: req.ID,
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
		fmt.Fprintf(&b, " [%s]", string(ev.Code)) // not %s of the Code: its Error() adds "approvals: "
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

// closedFacts says who closed a request that never ran, and when: the card of a
// cancelled or expired request is read later by people who did not see it happen.
// A denial is in the Decisions section, with its justification.
func closedFacts(req approvals.Request) []Section {
	switch req.State {
	case approvals.StateCancelled:
		// Only the requester may cancel, and the cancellation is the request's last write.
		return []Section{{Facts: []Fact{{"Cancelled", fmt.Sprintf("by %s at %s; nothing ran", req.Requester.String(), fmtTime(req.Updated))}}}}
	case approvals.StateExpired:
		return []Section{{Facts: []Fact{{"Expired", fmt.Sprintf("at %s, before an approver decided; nothing ran", fmtTime(req.Expires))}}}}
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
