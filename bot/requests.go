package bot

import (
	"context"
	"fmt"
	"regexp"
	"strings"
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

func actorOf(c Caller) approvals.Actor {
	return approvals.Actor{Platform: string(c.Platform), ChatID: c.ChatID, ObjectID: c.ObjectID, DisplayName: c.Name}
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
	if strings.HasPrefix(f.Action, attestFormPrefix) {
		return r.submitAttestation(ctx, c, f)
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
	if action == approvals.ActionReregister && strings.HasPrefix(f.Target, bulkTargetPrefix) {
		return r.submitBulk(ctx, c, f)
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
	ack += r.askTarget(ctx, requester, req.ID, req.Action, req.Ticket, u)
	if r.needsPerformed(req) {
		text, _ := r.askManager(ctx, requester, req, u)
		ack += text
	}
	return filedAnswer(Message{Private: true, Text: ack, RequestID: req.ID})
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
func (r *Router) postCard(ctx context.Context, platform Platform, id string, card Message) bool {
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
	if d.Bulk != "" {
		return r.bulkPress(ctx, c, d)
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

func (r *Router) show(ctx context.Context, id string, platform Platform) Message {
	req, err := r.req.Get(ctx, id)
	if err != nil {
		return Refuse(approvals.UserMessage(err))
	}
	m := r.render(req)
	m.Private = true
	m.Buttons = nil // decisions are taken on the card, where the click is verified
	if req.Bulk != nil {
		m.Sections = append(m.Sections, bulkShowSection(req, platform)...)
	}
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
