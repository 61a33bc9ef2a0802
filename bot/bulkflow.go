package bot

// Bulk re-register through chat: `reregister --group <group>` or a pasted list opens
// the usual request form; submitting it checks each user (BulkCheck) and files one
// bulk request; the approval card shows the counts and a sample; after approval the
// card shows the canary's results with Continue and Stop, then the run's progress.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/guid"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot/chat"
)

// BulkGroups reads the users of a group; the Graph client implements it.
type BulkGroups interface {
	GroupUsers(ctx context.Context, groupID string, max int) ([]actions.UserRef, error)
	GroupByName(ctx context.Context, name string) (string, error)
}

// bulkRequests is the part of the approvals service a bulk run's buttons need.
type bulkRequests interface {
	BulkContinue(ctx context.Context, id string, by approvals.Actor) (approvals.Request, error)
	BulkStop(ctx context.Context, id string, by approvals.Actor) (approvals.Request, error)
}

// bulkTargetPrefix marks a form's target as a bulk draft: the users were named in
// the command, and the form carries only a key to them.
const bulkTargetPrefix = "bulk:"

// bulkListTarget is the target of a bulk form whose users are pasted into it.
const bulkListTarget = bulkTargetPrefix + "list"

// bulkDraftTTL bounds how long a bulk form may stay open.
const bulkDraftTTL = 30 * time.Minute

// bulkSample is how many users a card names.
const bulkSample = 5

type bulkDraft struct {
	owner   string // the requester's object id: only they may submit it
	refs    []actions.UserRef
	source  string
	expires time.Time
}

type bulkState struct {
	groups     BulkGroups
	protection func(ctx context.Context, objectID string) (approvals.Protection, error)
	mu         sync.Mutex
	drafts     map[string]bulkDraft
}

// enableBulk lets the router file bulk requests (Assemble calls it).
func (r *Router) enableBulk(groups BulkGroups, protection func(context.Context, string) (approvals.Protection, error)) {
	r.bulk = &bulkState{groups: groups, protection: protection, drafts: map[string]bulkDraft{}}
}

// bulkTooMany is the one-line refusal of a set over the maximum.
func bulkTooMany(max, n int) string {
	return fmt.Sprintf("A bulk request may name at most %d users; this one names %d. Split it.", max, n)
}

// bulkForm answers `reregister --group <g>` and a pasted list: the users are read
// now (a paste over the platform's limit, or more than the maximum, is refused in
// one line before the form), kept for the requester, and the form asks the same
// reason, ticket and verification as for one user.
func (r *Router) bulkForm(ctx context.Context, c Caller, cmd Command, roles callerRoles) Message {
	if r.req == nil || r.bulk == nil {
		return Refuse("Bulk requests are not enabled on this mfadesk.")
	}
	p := Prefix(c.Platform)
	if !roles.helpdesk {
		const msg = "Only members of the helpdesk group can file requests."
		r.refused(ctx, namedActor(c, roles.user), "/mfa reregister (bulk)", approvals.Target{}, approvals.ErrNotRequester, msg)
		return Refuse(msg)
	}
	if lim := chat.PasteLimit(c.Platform); cmd.PasteChars > lim {
		return Refuse(fmt.Sprintf("A pasted list may take at most %d characters in %s (about %d object ids); this one takes %d. For more users, use %sreregister --group <group>.",
			lim, c.Platform.Title(), chat.PasteFits(c.Platform), cmd.PasteChars, p))
	}
	if cmd.List {
		lim := chat.PasteLimit(c.Platform)
		return Message{
			Private: true,
			Title:   actionTitle[approvals.ActionReregister] + ": a pasted list",
			Text:    fmt.Sprintf("Paste the users into the form (one per line, or separated by spaces or commas; at most %d characters in %s, about %d object ids) and fill in the rest.", lim, c.Platform.Title(), chat.PasteFits(c.Platform)),
			Form: &Form{
				Action:        string(approvals.ActionReregister),
				Target:        bulkListTarget,
				TargetLabel:   "a pasted list of users",
				Warning:       bulkWarning(c.Platform),
				Verifications: VerificationChoices(r.req.Policy(), approvals.Protection{}),
				Limits:        formLimits(),
				Users:         &FieldLimit{Min: 1, Max: lim},
			},
		}
	}
	max := r.req.Policy().BulkMax
	refs, source := cmd.Users, "pasted list"
	if cmd.Group != "" {
		id, ok := guid.Canonical(cmd.Group)
		if !ok {
			var err error
			if id, err = r.bulk.groups.GroupByName(ctx, cmd.Group); err != nil {
				return r.bulkLookupFailed(ctx, err)
			}
		}
		var err error
		if refs, err = r.bulk.groups.GroupUsers(ctx, id, max); actions.KindOf(err) == actions.KindInvalidInput {
			return Refuse(fmt.Sprintf("Group %s has more than %d users; a bulk request may name at most %d. Split it.", clip(cmd.Group, 64), max, max))
		} else if err != nil {
			return r.bulkLookupFailed(ctx, err)
		}
		source = "group " + clip(cmd.Group, 64)
		if len(refs) == 0 {
			return Refuse(fmt.Sprintf("Group %s has no user members, so there is nothing to re-register.", clip(cmd.Group, 64)))
		}
	}
	if len(refs) > max {
		return Refuse(bulkTooMany(max, len(refs)))
	}
	token, err := bulkToken()
	if err != nil {
		r.log.ErrorContext(ctx, "bulk form token", "err", err)
		return Refuse("The form could not be prepared; try again.")
	}
	r.bulk.mu.Lock()
	now := r.now()
	for k, d := range r.bulk.drafts {
		// One open bulk form per requester, and none past its time: memory stays bounded.
		if d.expires.Before(now) || strings.EqualFold(d.owner, c.ObjectID) {
			delete(r.bulk.drafts, k)
		}
	}
	r.bulk.drafts[token] = bulkDraft{owner: c.ObjectID, refs: refs, source: source, expires: now.Add(bulkDraftTTL)}
	r.bulk.mu.Unlock()

	label := fmt.Sprintf("%d users (%s)", len(refs), source)
	return Message{
		Private: true,
		Title:   actionTitle[approvals.ActionReregister] + ": " + label,
		Text: fmt.Sprintf("Fill in the form to request re-register for %s. Each user is checked when you submit; the approval card shows who is eligible, who is skipped and why.",
			label),
		Form: &Form{
			Action:        string(approvals.ActionReregister),
			Target:        bulkTargetPrefix + token,
			TargetLabel:   label,
			Warning:       bulkWarning(c.Platform),
			Verifications: VerificationChoices(r.req.Policy(), approvals.Protection{}),
			Limits:        formLimits(),
		},
	}
}

func (r *Router) bulkLookupFailed(ctx context.Context, err error) Message {
	if actions.KindOf(err) == actions.KindNotFound || actions.KindOf(err) == actions.KindInvalidInput {
		return Refuse(actions.Explain(err))
	}
	r.log.WarnContext(ctx, "read the users of a bulk request", "err", err)
	return Refuse("The group's users could not be read, so no form was opened: " + actions.Explain(err))
}

// bulkWarning says what a bulk re-register does, and how many users a pasted list
// holds on the platform.
func bulkWarning(p Platform) string {
	return fmt.Sprintf("For each eligible user, mfadesk deletes their phone, Microsoft Authenticator and software OATH methods, then signs them out everywhere: the first 2 users first, then it waits for Continue or Stop. "+
		"A pasted list holds up to %d characters in %s (about %d object ids); for more, name a group with --group.",
		chat.PasteLimit(p), p.Title(), chat.PasteFits(p))
}

func bulkToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate a form key: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// submitBulk files the bulk request of a submitted bulk form: only its requester may,
// once; each user is checked now, and the approver approves exactly that set.
func (r *Router) submitBulk(ctx context.Context, c Caller, f FormSubmission) Message {
	p := Prefix(c.Platform)
	if r.bulk == nil {
		return Refuse("Bulk requests are not enabled on this mfadesk.")
	}
	if f.Target == bulkListTarget {
		// The list was pasted into the form: the same grammar and limits as typed.
		refs, n, err := chat.ParseUserList(f.Users)
		msg := ""
		switch lim, max := chat.PasteLimit(c.Platform), r.req.Policy().BulkMax; {
		case err != nil:
			msg = err.Error()
		case len(refs) == 0:
			msg = "Paste at least one user: UPN, mail or object id."
		case n > lim:
			msg = fmt.Sprintf("A pasted list may take at most %d characters in %s (about %d object ids); this one takes %d. For more users, use %sreregister --group <group>.", lim, c.Platform.Title(), chat.PasteFits(c.Platform), n, p)
		case len(refs) > max:
			msg = bulkTooMany(max, len(refs))
		}
		if msg != "" {
			m := Refuse(msg)
			m.Errors = FieldErrors{"users": msg}
			return m
		}
		return r.fileBulk(ctx, c, f, refs, "pasted list")
	}
	token := strings.TrimPrefix(f.Target, bulkTargetPrefix)
	var (
		d  bulkDraft
		ok bool
	)
	{
		r.bulk.mu.Lock()
		d, ok = r.bulk.drafts[token]
		ok = ok && strings.EqualFold(d.owner, c.ObjectID) && r.now().Before(d.expires)
		if ok {
			delete(r.bulk.drafts, token) // one request per form
		}
		r.bulk.mu.Unlock()
	}
	if !ok {
		return Refuse("That bulk form has expired or is not yours, so no request was filed; start again with " + p + "reregister --group <group>.")
	}
	return r.fileBulk(ctx, c, f, d.refs, d.source)
}

// fileBulk checks each user and files the bulk request.
func (r *Router) fileBulk(ctx context.Context, c Caller, f FormSubmission, refs []actions.UserRef, source string) Message {
	p := Prefix(c.Platform)
	requester, err := r.directoryActor(ctx, c)
	if err != nil {
		if m, ok := r.ineligible(ctx, c, actions.User{}, "file a bulk reregister request", approvals.Target{}, err); ok {
			return m
		}
		r.log.WarnContext(ctx, "identify requester", "err", err)
		return Refuse(directoryFailure(c, "Your directory identity could not be read, so no request was filed.", err))
	}
	if r.gather == nil {
		return Refuse("This mfadesk cannot read methods, so it cannot file re-register requests.")
	}
	var scope []actions.MethodType
	for t := range r.deletes {
		scope = append(scope, actions.MethodType(t))
	}
	plan, err := BulkCheck{Gather: r.gather, Protection: r.bulk.protection, InScope: scope,
		Requester: requester.ObjectID, Max: r.req.Policy().BulkMax}.Check(ctx, refs)
	if err != nil {
		return Refuse(err.Error())
	}
	req, err := r.req.Submit(ctx, approvals.NewRequest{
		Action:       approvals.ActionReregister,
		Bulk:         &approvals.BulkSet{Source: source, Users: plan.Eligible, Skipped: plan.Skipped},
		Requester:    requester,
		Reason:       strings.TrimSpace(f.Reason),
		Verification: approvals.Verification{Method: approvals.VerificationMethod(f.Verification), Detail: strings.TrimSpace(f.VerificationDetail)},
		Ticket:       strings.TrimSpace(f.Ticket),
	})
	if err != nil {
		if approvals.CodeOf(err) == "" {
			r.log.ErrorContext(ctx, "submit bulk request", "err", err)
		}
		return Refuse(approvals.UserMessage(err))
	}
	posted := r.postCard(ctx, c.Platform, req.ID, r.render(req))
	ack := fmt.Sprintf("Request %s filed: re-register %s — %s. It waits for approval until %s.", req.ID, req.Target.DisplayName, req.Bulk.Counts(), fmtTime(req.Expires))
	if !posted {
		ack += " The approval card could not be posted; approvers can find it with " + p + "pending."
	}
	return filedAnswer(Message{Private: true, Text: ack, RequestID: req.ID})
}

// bulkPress handles Continue and Stop on a bulk run's card: from that card only,
// and (the service decides) from the requester or an approver of that request only.
func (r *Router) bulkPress(ctx context.Context, c Caller, d Decision) Message {
	br, ok := r.req.(bulkRequests)
	if !ok || (d.Bulk != chat.BulkContinue && d.Bulk != chat.BulkStop) {
		return Refuse("That button does not belong to mfadesk; nothing was done.")
	}
	by, err := r.directoryActor(ctx, c)
	if err != nil {
		if m, ok := r.ineligible(ctx, c, actions.User{}, d.Bulk+" "+clip(d.RequestID, 40), approvals.Target{}, err); ok {
			return m
		}
		r.log.WarnContext(ctx, "identify the presser", "err", err)
		return Refuse(directoryFailure(c, "Your directory identity could not be read, so nothing was changed.", err))
	}
	if ok, err := r.postedCard(ctx, d.RequestID, c, d.Card); !ok {
		if err != nil {
			r.log.ErrorContext(ctx, "read approval cards", "request", d.RequestID, "err", err)
			return Refuse("The approval cards could not be read, so nothing was changed. Try again shortly.")
		}
		const msg = "That button is not on the card of this request, so nothing was changed: use the card in the approvals channel."
		r.req.Refused(ctx, d.Bulk, by, d.RequestID, approvals.Target{}, approvals.ErrWrongCard, msg)
		return Refuse(msg)
	}
	press, word := br.BulkContinue, "continued"
	if d.Bulk == chat.BulkStop {
		press, word = br.BulkStop, "stopped"
	}
	req, err := press(ctx, d.RequestID, by)
	if err != nil {
		if approvals.CodeOf(err) == "" {
			r.log.ErrorContext(ctx, "bulk "+d.Bulk, "request", d.RequestID, "err", err)
		}
		return Refuse(approvals.UserMessage(err))
	}
	text := fmt.Sprintf("You %s %s: the remaining users run now; the card shows the progress.", word, req.ID)
	if d.Bulk == chat.BulkStop {
		text = fmt.Sprintf("You stopped %s: the users not run yet will not be run.", req.ID)
	}
	return Message{Private: true, Text: text, RequestID: req.ID}
}

// OnBulkProgress is the approvals hook of a running bulk request: its cards show the
// count so far (the service calls it at most every few seconds).
func (r *Router) OnBulkProgress(req approvals.Request) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.updateCards(ctx, req)
}

// renderBulk is the card of a bulk request: the counts, a sample of the users, how to
// see them all, the canary's results, the progress and the end.
func renderBulk(req approvals.Request, risk []string) Message {
	b := req.Bulk
	facts := []Fact{
		{Label: "Request", Value: req.ID},
		{Label: "State", Value: stateWords(req)},
		{Label: "Users", Value: req.Target.DisplayName},
		{Label: "Requested by", Value: fmt.Sprintf("%s (%s)", req.Requester.String(), req.Requester.Platform)},
		{Label: "Reason", Value: maskPhones(req.Reason)},
		{Label: "Identity verified by", Value: verificationLabel(req.Verification.Method) + detailSuffix(maskPhones(req.Verification.Detail))},
		{Label: "Ticket", Value: orDash(req.Ticket)},
		{Label: "Filed", Value: fmtTime(req.Created)},
		{Label: "Expires", Value: fmtTime(req.Expires)},
	}
	if req.ApprovalsNeeded > 1 {
		facts = append(facts, Fact{Label: "Approvals needed", Value: fmt.Sprintf("%d distinct approvers", req.ApprovalsNeeded)})
	}
	if p := req.BulkRun; p != nil {
		v := fmt.Sprintf("%d of %d users: %d done, %d failed, %d stale (methods changed since filing: nothing deleted)", p.Done+p.Failed+p.Stale, p.Total, p.Done, p.Failed, p.Stale)
		if p.Throttled > 0 {
			v += fmt.Sprintf("; Graph throttled %d times, the pace follows it", p.Throttled)
		}
		facts = append(facts, Fact{Label: "Progress", Value: v})
	}
	sections := []Section{{Facts: facts}}
	names := make([]string, 0, bulkSample)
	for i, u := range b.Users {
		if i == bulkSample {
			break
		}
		names = append(names, u.Label())
	}
	sample := strings.Join(names, ", ")
	if more := len(b.Users) - len(names); more > 0 {
		sample += fmt.Sprintf(" and %d more", more)
	}
	sections = append(sections, Section{Heading: "Users", Text: b.Counts() + ".\nEligible: " + sample + ".",
		Note: fmt.Sprintf("The whole list: show %s in chat; every user's result after the run: mfadesk approvals show --results %s (JSON lines).", req.ID, req.ID)})
	rest := len(b.Users) - len(req.Steps)
	what := map[approvals.State]Section{
		approvals.StatePending:   {Heading: "What will run", Text: "On approval mfadesk re-registers the first 2 users (deletes their phone, Microsoft Authenticator and software OATH methods, then signs them out everywhere), posts their results here and waits for Continue or Stop from the requester or an approver. Continue runs the rest, paced to what Graph allows. Each user's methods are read again just before: a user whose methods changed since filing is left untouched (stale), one who became protected is not changed."},
		approvals.StateApproved:  {Heading: "What will run", Text: "Approved: the first 2 users run now."},
		approvals.StateExecuting: {Heading: "What is running", Text: "mfadesk is re-registering the users, each exactly once; this card shows the progress."},
		approvals.StatePaused:    {Heading: "Continue or Stop", Text: fmt.Sprintf("The first users are done: their results are below. Continue runs the remaining %d users; Stop ends the run here and they are never run.", rest)},
		approvals.StateSucceeded: {Heading: "What ran", Text: "Every eligible user was re-registered: they must register MFA again at their next sign-in."},
		approvals.StateFailed:    {Heading: "What ran", Text: "The run ended; not every user was re-registered (see the progress and the per-user results)."},
		approvals.StateStopped:   {Heading: "Stopped", Text: fmt.Sprintf("The run was stopped after the first users; the other %d were never run.", rest)},
	}[req.State]
	if what.Heading == "" {
		what = Section{Heading: "Nothing ran", Text: "Nothing ran: the request is " + req.State.Word() + "."}
	}
	sections = append(sections, what)
	sections = append(sections, closedFacts(req)...)
	if len(risk) > 0 {
		sections = append(sections, Section{Heading: "Risk context", Text: "• " + strings.Join(risk, "\n• ")})
	}
	if s, ok := decisionsSection(req); ok {
		sections = append(sections, s)
	}
	if len(req.Steps) > 0 {
		t := &Table{Columns: []string{"User", "Outcome", "Detail"}}
		for _, s := range req.Steps {
			t.Rows = append(t.Rows, []string{orDash(s.Target), s.Outcome, s.Detail})
		}
		sections = append(sections, Section{Heading: "First users (canary)", Table: t})
	}
	if req.Error != "" {
		sections = append(sections, Section{Note: "Failed: " + req.Error})
	}
	title := actionTitle[req.Action]
	m := Message{
		Title:     fmt.Sprintf("%s: %s", title, req.Target.DisplayName),
		Text:      fmt.Sprintf("%s for %s, requested by %s — %s.", title, req.Target.DisplayName, req.Requester.String(), stateWords(req)),
		Sections:  sections,
		RequestID: req.ID,
	}
	switch req.State {
	case approvals.StatePending:
		m.Buttons = []Button{{Kind: ButtonApprove, Label: "Approve", Value: req.ID}, {Kind: ButtonDeny, Label: "Deny", Value: req.ID}}
	case approvals.StatePaused:
		m.Buttons = []Button{{Kind: chat.ButtonContinue, Label: "Continue", Value: req.ID}, {Kind: chat.ButtonStop, Label: "Stop", Value: req.ID}}
	}
	return m
}

// bulkShowRows is how many users `show` lists on a platform; the count of the rest
// follows.
func bulkShowRows(p Platform) int {
	if p == PlatformWeb {
		return 200
	}
	return 40 // Slack and Teams cards have little room
}

// bulkShowSection lists the set of a bulk request for `show`, clipped to the
// platform, with the skipped users by reason.
func bulkShowSection(req approvals.Request, p Platform) []Section {
	b := req.Bulk
	n := bulkShowRows(p)
	t := &Table{Columns: []string{"User", "Name", "Methods in snapshot"}}
	for i, u := range b.Users {
		if i == n {
			break
		}
		t.Rows = append(t.Rows, []string{u.Label(), orDash(u.DisplayName), fmt.Sprint(len(u.Methods))})
	}
	out := []Section{{Heading: fmt.Sprintf("Eligible users (%d)", len(b.Users)), Table: t}}
	if more := len(b.Users) - len(t.Rows); more > 0 {
		out[0].Note = fmt.Sprintf("And %d more: mfadesk approvals show --json %s lists them all.", more, req.ID)
	}
	reasons := make([]string, 0, len(b.Skipped))
	for k := range b.Skipped {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	var lines []string
	for _, k := range reasons {
		l := b.Skipped[k]
		shown := l
		if len(shown) > bulkSample {
			shown = shown[:bulkSample]
		}
		line := fmt.Sprintf("%s (%d): %s", k, len(l), strings.Join(shown, ", "))
		if len(l) > len(shown) {
			line += fmt.Sprintf(" and %d more", len(l)-len(shown))
		}
		lines = append(lines, line)
	}
	if len(lines) > 0 {
		out = append(out, Section{Heading: "Skipped", Text: strings.Join(lines, "\n")})
	}
	return out
}
