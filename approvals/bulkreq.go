package approvals

// A bulk request: one reregister request for a set of users, approved as a whole.
// The set (each user's method snapshot included) is under the request digest, so an
// approval binds exactly those users and those methods. After approval the run
// happens in the background, owned by the Service: the canary users first, then a
// pause (StatePaused) until the requester or an approver presses Continue or Stop.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Bulk defaults.
const (
	DefaultBulkTwoApproversAbove = 20
	DefaultBulkMax               = 1000
)

// Reasons filing itself skips a user of a bulk request; the directory's reasons
// (not found, protected, the rollback rule) are the bot's, checked before.
const (
	BulkSkipOpenRequest = "already has an open request"
	BulkSkipFrozen      = "frozen (said a request was not them)"
)

// Audit events of a bulk run.
const (
	EventBulkPaused    EventKind = "bulk_canary_done"
	EventBulkContinued EventKind = "bulk_continued"
	EventBulkStopped   EventKind = "bulk_stopped"
)

// BulkSet is the set of users of a bulk request.
type BulkSet struct {
	// Source says where the set came from: a group (name and id) or a pasted list.
	Source string     `json:"source,omitempty"`
	Users  []BulkUser `json:"users"`
	// Skipped maps a reason to the users it skipped (UPN, else what was given).
	Skipped map[string][]string `json:"skipped,omitempty"`
}

// Counts says in one line how many are eligible and how many each reason skips.
func (b BulkSet) Counts() string {
	reasons := make([]string, 0, len(b.Skipped))
	for r := range b.Skipped {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	parts := []string{fmt.Sprintf("%d eligible", len(b.Users))}
	for _, r := range reasons {
		parts = append(parts, fmt.Sprintf("%d skipped: %s", len(b.Skipped[r]), r))
	}
	return strings.Join(parts, "; ")
}

// Label names a user of the set for messages: UPN, else object id.
func (u BulkUser) Label() string {
	if u.UPN != "" {
		return u.UPN
	}
	return u.ObjectID
}

func (b *BulkSet) normalized() *BulkSet {
	out := &BulkSet{Source: clip(strings.TrimSpace(b.Source), maxShort), Skipped: map[string][]string{}}
	for _, u := range b.Users {
		oid, ok := normOID(u.ObjectID)
		if !ok {
			oid = u.ObjectID // refused by validateBulk
		}
		u.ObjectID = oid
		u.UPN = strings.TrimSpace(u.UPN)
		u.DisplayName = strings.TrimSpace(u.DisplayName)
		out.Users = append(out.Users, u)
	}
	for r, labels := range b.Skipped {
		r = clip(strings.TrimSpace(r), maxShort)
		for _, l := range labels {
			out.Skipped[r] = append(out.Skipped[r], clip(l, maxShort))
		}
	}
	return out
}

func (b BulkSet) skippedCount() int {
	n := 0
	for _, l := range b.Skipped {
		n += len(l)
	}
	return n
}

// validateBulk checks the set of a bulk request: reregister only, no single target,
// at most the policy's maximum, each user once with a well-formed snapshot.
func (in NewRequest) validateBulk(p Policy) *Error {
	b := in.Bulk
	if in.Action != ActionReregister {
		return refusef(ErrInvalid, "Only reregister can be requested for many users at once.")
	}
	if in.Target.ObjectID != "" || len(in.Methods) > 0 {
		return refusef(ErrInvalid, "A bulk request names its users in its set, not as one target.")
	}
	if n := len(b.Users) + b.skippedCount(); n > p.BulkMax {
		return refusef(ErrInvalid, "A bulk request may name at most %d users; this one names %d. Split it.", p.BulkMax, n)
	}
	if len(b.Users) == 0 {
		return refusef(ErrInvalid, "None of the users named can be re-registered, so no request was filed: %s.", b.Counts())
	}
	seen := map[string]bool{}
	for _, u := range b.Users {
		if _, ok := normOID(u.ObjectID); !ok || seen[u.ObjectID] {
			return refusef(ErrInvalid, "The bulk set names a user twice or without a valid object id, so no request was filed.")
		}
		seen[u.ObjectID] = true
		if len(u.UPN) > maxShort || len(u.DisplayName) > maxShort || len(u.Methods) == 0 || len(u.Methods) > maxMethods {
			return refusef(ErrInvalid, "The bulk set has a user with an over-long name or without a method snapshot, so no request was filed.")
		}
		for _, m := range u.Methods {
			if m.ID == "" || len(m.ID) > maxShort || len(m.Type) > maxShort || len(m.Label) > maxShort {
				return refusef(ErrInvalid, "The method snapshot of %s has an entry without an id or with an over-long field.", u.Label())
			}
		}
	}
	return nil
}

// check is the stored invariant of a bulk request.
func (b *BulkSet) check(a Action, t Target) error {
	if a != ActionReregister || t.ObjectID != "" || len(b.Users) == 0 {
		return errors.New("bad bulk request")
	}
	seen := map[string]bool{}
	for _, u := range b.Users {
		if oid, ok := normOID(u.ObjectID); !ok || oid != u.ObjectID || seen[oid] {
			return errors.New("bad or repeated user in the bulk set")
		}
		seen[u.ObjectID] = true
	}
	return nil
}

// subjects are the users a request is about: its target, or every user of its set.
func (r Request) subjects() []string {
	if r.Bulk == nil {
		return []string{r.Target.ObjectID}
	}
	out := make([]string, len(r.Bulk.Users))
	for i, u := range r.Bulk.Users {
		out[i] = u.ObjectID
	}
	return out
}

// concerns reports whether the request is about the user oid (its target, or a user
// of its set): nobody decides a request about their own account.
func (r Request) concerns(oid string) bool {
	for _, s := range r.subjects() {
		if sameOID(s, oid) {
			return true
		}
	}
	return false
}

// submitBulk files a bulk request: the requester's checks, then, in the filing
// transaction, each user's open request and freeze (a user who has one is skipped
// and counted, not the whole set refused).
func (s *Service) submitBulk(ctx context.Context, in NewRequest) (Request, error) {
	if s.bulkWork == nil {
		return Request{}, refusef(ErrInvalid, "This mfadesk cannot run bulk requests.")
	}
	if _, ok := normOID(in.Requester.ObjectID); !ok {
		return Request{}, refusef(ErrNotRequester, "Your chat account is not linked to a directory user, so you cannot file requests.")
	}
	if in.concernsRequester() {
		return Request{}, refusef(ErrTargetIsActor, "The set includes your own account; remove it, or ask a colleague to file the request.")
	}
	if err := s.requireMember(ctx, in.Requester.ObjectID, s.policy.HelpdeskGroupID, ErrNotRequester,
		"Only members of the helpdesk group can file requests."); err != nil {
		return Request{}, err
	}
	// Protected users were skipped before filing (and each is re-read before it
	// runs), so the set is held to the rule of unprotected accounts.
	if in.Verification.Method != "" && !s.policy.Accepts(in.Verification.Method, false) {
		return Request{}, weakVerification(false, "")
	}
	id, err := newID()
	if err != nil {
		return Request{}, err
	}
	var r Request
	err = s.update(ctx, func(w *wtx) error {
		set := &BulkSet{Source: in.Bulk.Source, Skipped: map[string][]string{}}
		for k, v := range in.Bulk.Skipped {
			set.Skipped[k] = append([]string(nil), v...)
		}
		for _, u := range in.Bulk.Users {
			if _, found, err := w.openFor(u.ObjectID); err != nil {
				return err
			} else if found {
				set.Skipped[BulkSkipOpenRequest] = append(set.Skipped[BulkSkipOpenRequest], u.Label())
				continue
			}
			if _, frozen, err := loadFreeze(w.tx, u.ObjectID, w.now); err != nil {
				return err
			} else if frozen {
				set.Skipped[BulkSkipFrozen] = append(set.Skipped[BulkSkipFrozen], u.Label())
				continue
			}
			set.Users = append(set.Users, u)
		}
		if len(set.Users) == 0 {
			return refusef(ErrInvalid, "None of the users named can be re-registered now, so no request was filed: %s.", set.Counts())
		}
		if err := s.checkRate(w.tx, w.now, in.Requester.ObjectID); err != nil {
			return err
		}
		needed, why := 1, ""
		switch {
		case len(set.Users) > s.policy.BulkTwoApproversAbove:
			needed, why = 2, fmt.Sprintf("more than %d users", s.policy.BulkTwoApproversAbove)
		case s.policy.minimumFor(ActionReregister, false) == MinimumPerformed:
			// The policy wants each user's confirmation, which a set cannot give: as
			// for a user who cannot be reached, a second approver stands in.
			needed, why = 2, "the users cannot each confirm"
		}
		if w.tx.Get(bucketRequests, []byte(id)) != nil {
			return fmt.Errorf("request id %s already exists", id)
		}
		r = Request{
			ID: id, Action: in.Action, Bulk: set, Target: Target{DisplayName: bulkTitle(set)},
			Requester: in.Requester, Reason: in.Reason, Verification: in.Verification,
			Ticket: in.Ticket, Created: w.now, Expires: w.now.Add(s.policy.TTL),
			State: StatePending, ApprovalsNeeded: needed, Risk: in.Risk,
		}
		if err := w.save(&r); err != nil {
			return err
		}
		if err := w.tx.Put(bucketByRequester, requesterKey(r.Requester.ObjectID, r.Created, r.ID), []byte{}); err != nil {
			return fmt.Errorf("index request %s: %w", r.ID, err)
		}
		digest, err := requestDigest(r)
		if err != nil {
			return err
		}
		detail := fmt.Sprintf("bulk: %s; from %s; reason: %s; ticket: %s; approvals needed: %d", set.Counts(), orWord(set.Source, "a pasted list"), r.Reason, r.Ticket, needed)
		if why != "" {
			detail += " (" + why + ")"
		}
		if r.Verification.Method != "" {
			detail += "; verified by " + string(r.Verification.Method)
		}
		return w.audit(Event{Kind: EventCreated, RequestID: r.ID, Action: r.Action, State: r.State,
			Actor: r.Requester, Target: r.Target, Detail: clip(detail, maxText), Digest: digest})
	})
	if err != nil {
		return Request{}, err
	}
	return r, nil
}

func (in NewRequest) concernsRequester() bool {
	for _, u := range in.Bulk.Users {
		if sameOID(u.ObjectID, in.Requester.ObjectID) {
			return true
		}
	}
	return false
}

// bulkTitle names a bulk request where a target's name goes (cards, audit lines).
func bulkTitle(b *BulkSet) string {
	return clip(fmt.Sprintf("%d users (%s)", len(b.Users), orWord(b.Source, "pasted list")), maxShort)
}

func orWord(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// bulkClaimable: an approved bulk request, one paused whose Continue was pressed, or
// (recovering) one a dead process left executing.
func bulkClaimable(r Request, m bulkMeta, recovering bool) bool {
	switch r.State {
	case StateApproved:
		return true
	case StatePaused:
		return m.Released && !m.Stopped
	case StateExecuting:
		return recovering
	}
	return false
}

func readBulkMeta(tx Tx, id string) (bulkMeta, error) { return (&BulkRunner{}).meta(tx, id) }

func putBulkMeta(tx Tx, id string, m bulkMeta) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := tx.Put(bucketBulk, bulkKey(id, "meta", ""), v); err != nil {
		return fmt.Errorf("store bulk run %s: %w", id, err)
	}
	return nil
}

// startBulk runs bulk request id in the background, under the service's context;
// Shutdown stops it at its next user and waits.
func (s *Service) startBulk(id string, recovering bool) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgCtx.Err() != nil {
		return // shutting down: Recover picks it up at the next start
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := s.runBulk(s.bgCtx, id, recovering); err != nil && s.bgCtx.Err() == nil {
			s.log.Error("bulk run", "request", id, "err", err)
		}
	}()
}

// Shutdown stops the bulk runs at their next user (the users in flight finish, each
// outcome stored) and waits for them, or for ctx. A run stopped so is left executing
// and Recover resumes it at the next start.
func (s *Service) Shutdown(ctx context.Context) error {
	s.bgMu.Lock()
	s.bgCancel()
	s.bgMu.Unlock()
	done := make(chan struct{})
	go func() { s.bg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for bulk runs: %w", ctx.Err())
	}
}

// WaitBulk waits for the bulk runs started so far to end or pause.
func (s *Service) WaitBulk() { s.bg.Wait() }

// BulkResults returns the stored per-user results of bulk request id.
func (s *Service) BulkResults(ctx context.Context, id string) ([]BulkResult, error) {
	return s.bulk.Results(ctx, id)
}

// runBulk claims a bulk request (approved, continued, or left executing) after the
// checks of any claim (record and chain intact, requester and approvers still
// eligible, approvals still enough), runs it, and records the pause or the end.
func (s *Service) runBulk(ctx context.Context, id string, recovering bool) error {
	if !s.claimLocal(id) {
		return nil
	}
	defer s.releaseLocal(id)
	var (
		pre     Request
		m       bulkMeta
		refusal *Error
	)
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if pre, err = loadRequest(tx, id); err != nil {
			return err
		}
		if m, err = readBulkMeta(tx, id); err != nil || !bulkClaimable(pre, m, recovering) {
			return err
		}
		refusal, err = s.checkStored(tx, pre, s.now())
		return err
	})
	if err != nil {
		return fmt.Errorf("check %s before its bulk run: %w", id, err)
	}
	if pre.Bulk == nil || !bulkClaimable(pre, m, recovering) {
		return nil
	}
	if refusal == nil {
		refusal = s.recheckDirectory(ctx, pre, nil)
	}
	var (
		r       Request
		claimed bool
	)
	err = s.update(context.WithoutCancel(ctx), func(w *wtx) error {
		claimed = false
		cur, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		cm, err := readBulkMeta(w.tx, id)
		if err != nil {
			return err
		}
		if !bulkClaimable(cur, cm, recovering) {
			return nil
		}
		if cur.State == StateExecuting && !s.runnerGone(w.tx, cur.Runner) {
			return nil
		}
		e, err := s.claimRefusal(w, cur, pre, refusal)
		if err != nil {
			return err
		}
		if e != nil {
			cur.State = StateFailed
			cur.Error = e.Msg
			if err := w.save(&cur); err != nil {
				return err
			}
			return w.audit(Event{Kind: EventFailed, RequestID: cur.ID, Action: cur.Action, State: cur.State,
				Target: cur.Target, Code: e.Code, Detail: "not carried out: " + e.Msg})
		}
		runner, err := s.runnerFor(w.tx)
		if err != nil {
			return err
		}
		detail := fmt.Sprintf("bulk run of %d users, attempt %d: ", len(cur.Bulk.Users), cur.Attempts+1)
		switch {
		case cur.State == StateExecuting:
			detail += "resuming after a restart where it stopped"
		case cur.State == StatePaused:
			detail += "the users after the canary"
		case recovering:
			detail += "started after a restart"
		default:
			detail += "the canary users first"
		}
		cur.State, cur.Runner = StateExecuting, runner
		cur.Attempts++
		if err := w.save(&cur); err != nil {
			return err
		}
		r, claimed = cur, true
		return w.audit(Event{Kind: EventExecuting, RequestID: cur.ID, Action: cur.Action, State: cur.State,
			Target: cur.Target, Detail: detail})
	})
	if err != nil || !claimed {
		return err
	}
	hook := func(p BulkProgress) {
		if s.onBulkProgress != nil {
			shown := r
			shown.BulkRun = &p
			s.onBulkProgress(shown)
		}
	}
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	p, rerr := s.bulk.Run(runCtx, id, r.Bulk.Users, s.userGate(r, stop, s.bulkWork), BulkOptions{OnProgress: hook})
	if cause := context.Cause(runCtx); errors.Is(cause, errLeftExecuting) {
		return fmt.Errorf("run %s: %w", id, cause) // another replica holds it now
	}
	switch {
	case errors.Is(rerr, ErrBulkAwaitingContinue):
		return s.endBulkLeg(ctx, r, p, true)
	case rerr == nil:
		return s.endBulkLeg(ctx, r, p, false)
	case ctx.Err() != nil:
		// Shut down: left executing, each finished user stored; Recover resumes.
		return nil
	}
	return fmt.Errorf("run %s: %w", id, rerr)
}

// userGate checks, for each user of a bulk run just before it runs, that this run
// still holds the claim (on a shared store another replica may have re-claimed it:
// the run stops, nothing recorded for that user) and applies the freeze rule (a user
// who said "This is not me" since filing fails alone, untouched).
func (s *Service) userGate(claim Request, stop context.CancelCauseFunc, work BulkWork) BulkWork {
	return func(ctx context.Context, u BulkUser) (BulkResult, error) {
		var frozen, lost bool
		err := s.store.View(ctx, func(tx Tx) error {
			cur, err := loadRequest(tx, claim.ID)
			if err != nil {
				return err
			}
			lost = cur.State != StateExecuting || cur.Attempts != claim.Attempts || cur.Runner != claim.Runner
			_, frozen, err = loadFreeze(tx, u.ObjectID, s.now())
			return err
		})
		if lost {
			stop(errLeftExecuting)
			return BulkResult{}, context.Cause(ctx)
		}
		switch {
		case err != nil && ctx.Err() != nil:
			return BulkResult{}, err
		case err != nil:
			return BulkResult{ObjectID: u.ObjectID, UPN: u.UPN, Outcome: BulkFailed, Detail: "Not re-registered: whether the user is frozen could not be read."}, nil
		case frozen:
			return BulkResult{ObjectID: u.ObjectID, UPN: u.UPN, Outcome: BulkFailed, Detail: "Not re-registered: the user is frozen (they said a request was not them)."}, nil
		}
		return work(ctx, u)
	}
}

// endBulkLeg records the canary's pause or the run's end, with the counts.
func (s *Service) endBulkLeg(ctx context.Context, claim Request, p BulkProgress, paused bool) error {
	results, err := s.bulk.Results(context.WithoutCancel(ctx), claim.ID)
	if err != nil {
		return err
	}
	return s.update(context.WithoutCancel(ctx), func(w *wtx) error {
		cur, err := loadRequest(w.tx, claim.ID)
		if err != nil {
			return err
		}
		if cur.State != StateExecuting || cur.Attempts != claim.Attempts || cur.Runner != claim.Runner {
			return fmt.Errorf("%w (now %s)", errLeftExecuting, cur.State)
		}
		cur.BulkRun = &p
		counts := fmt.Sprintf("%d of %d users: %d done, %d failed, %d stale", p.Done+p.Failed+p.Stale, p.Total, p.Done, p.Failed, p.Stale)
		ev := Event{RequestID: cur.ID, Action: cur.Action, Target: cur.Target}
		switch {
		case paused:
			// The canary's results go on the card as steps: the approver decides on them.
			cur.Steps = nil
			var parts []string
			for _, res := range results {
				cur.Steps = append(cur.Steps, Step{Name: "reregister", Target: orWord(res.UPN, res.ObjectID), Outcome: res.Outcome, Detail: res.Detail, At: res.At})
				parts = append(parts, orWord(res.UPN, res.ObjectID)+": "+res.Outcome)
			}
			cur.State = StatePaused
			ev.Kind = EventBulkPaused
			ev.Detail = clip("canary done, waiting for Continue or Stop; "+counts+"; "+strings.Join(parts, "; "), maxText)
		case p.Failed+p.Stale == 0:
			cur.State = StateSucceeded
			ev.Kind = EventSucceeded
			ev.Detail = "bulk run finished; " + counts
		default:
			cur.State = StateFailed
			cur.Error = fmt.Sprintf("%d of %d users were not re-registered (%d failed, %d stale); see the per-user results.", p.Failed+p.Stale, p.Total, p.Failed, p.Stale)
			ev.Kind = EventFailed
			ev.Detail = "bulk run finished; " + counts
		}
		ev.State = cur.State
		if err := w.save(&cur); err != nil {
			return err
		}
		return w.audit(ev)
	})
}

// BulkContinue lets a bulk run paused after its canary go on; BulkStop ends it there.
// Only the requester or an approver of that request may press either, and only while
// they still belong to their group; anyone else is refused (audited) and nothing
// changes.
func (s *Service) BulkContinue(ctx context.Context, id string, by Actor) (Request, error) {
	return s.bulkPress(ctx, id, by, true)
}

// BulkStop ends a bulk run paused after its canary: the users not run are never run.
func (s *Service) BulkStop(ctx context.Context, id string, by Actor) (Request, error) {
	return s.bulkPress(ctx, id, by, false)
}

func (s *Service) bulkPress(ctx context.Context, rawID string, by Actor, cont bool) (Request, error) {
	by = by.normalized()
	what := map[bool]string{true: "continue", false: "stop"}[cont]
	r, err := s.bulkPressChecked(ctx, rawID, by, cont)
	if err != nil {
		rid := r.ID
		if rid == "" {
			rid, _ = ParseID(rawID)
		}
		s.recordRefusal(ctx, what+" a bulk run", by, rid, r.Action, r.Target, err)
		return r, fmt.Errorf("%s %s: %w", what, clip(rawID, 40), err)
	}
	if cont {
		s.startBulk(r.ID, false)
	}
	return r, nil
}

func (s *Service) bulkPressChecked(ctx context.Context, rawID string, by Actor, cont bool) (Request, error) {
	id, err := ParseID(rawID)
	if err != nil {
		return Request{}, err
	}
	pre, err := s.get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if pre.Bulk == nil {
		return pre, refusef(ErrInvalid, "Request %s is not a bulk request; Continue and Stop belong to bulk runs.", id)
	}
	group, ok := s.pressGroup(pre, by)
	if !ok {
		return pre, refusef(ErrNotApprover, "Only the requester or an approver of request %s may continue or stop its run; nothing was changed.", id)
	}
	if err := s.requireMember(ctx, by.ObjectID, group, ErrNotApprover,
		fmt.Sprintf("You no longer belong to the group that let you act on request %s; nothing was changed.", id)); err != nil {
		return pre, err
	}
	r := pre
	err = s.update(ctx, func(w *wtx) error {
		cur, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		r = cur
		if cur.State != StatePaused {
			return refusef(ErrAlreadyDecided, "Request %s is %s, not waiting for Continue or Stop; nothing was changed.", id, cur.State.Word())
		}
		m, err := readBulkMeta(w.tx, id)
		if err != nil {
			return err
		}
		if m.Released || m.Stopped {
			return refusef(ErrAlreadyDecided, "Someone already pressed Continue or Stop on request %s; nothing was changed.", id)
		}
		ev := Event{RequestID: cur.ID, Action: cur.Action, Actor: by, Target: cur.Target, State: cur.State}
		if until := pauseEnds(cur, s.policy.TTL); cont && !w.now.Before(until) {
			// An approval is valid for the policy TTL; a pause must not stretch it.
			return refusef(ErrExpired, "Request %s has waited for Continue since %s, longer than an approval is valid, so nothing was run; press Stop and file the remaining users again.", id, fmtTime(cur.Updated))
		}
		if cont {
			m.Released = true
			ev.Kind = EventBulkContinued
			ev.Detail = "continued after the canary"
		} else {
			r, err = w.stopPaused(cur, m, by, "stopped after the canary")
			return err
		}
		if err := putBulkMeta(w.tx, id, m); err != nil {
			return err
		}
		return w.audit(ev)
	})
	return r, err
}

// pauseEnds is when a paused bulk run stops waiting for Continue: an approval is
// valid for the policy TTL, and a pause must not stretch it.
func pauseEnds(r Request, ttl time.Duration) time.Time { return r.Updated.Add(ttl) }

// stopPaused ends a paused bulk run (by a person's Stop, or by the sweeper when nobody
// pressed Continue in time) and audits what was left undone: its users are free for
// new requests again.
func (w *wtx) stopPaused(cur Request, m bulkMeta, by Actor, why string) (Request, error) {
	m.Stopped = true
	cur.State = StateStopped
	done := 0
	if cur.BulkRun != nil {
		done = cur.BulkRun.Done + cur.BulkRun.Failed + cur.BulkRun.Stale
	}
	if err := w.save(&cur); err != nil {
		return cur, err
	}
	if err := putBulkMeta(w.tx, cur.ID, m); err != nil {
		return cur, err
	}
	return cur, w.audit(Event{Kind: EventBulkStopped, RequestID: cur.ID, Action: cur.Action, Actor: by, Target: cur.Target, State: StateStopped,
		Detail: fmt.Sprintf("%s: %d of %d users run, %d never attempted", why, done, len(cur.Bulk.Users), len(cur.Bulk.Users)-done)})
}

// pressGroup says whether by may press Continue or Stop on r (its requester, or one
// of its approvers) and which group they must still be in.
func (s *Service) pressGroup(r Request, by Actor) (string, bool) {
	if _, ok := normOID(by.ObjectID); !ok {
		return "", false
	}
	if sameOID(by.ObjectID, r.Requester.ObjectID) {
		return s.policy.HelpdeskGroupID, true
	}
	for _, d := range r.Approvals() {
		if sameOID(d.By.ObjectID, by.ObjectID) {
			return s.policy.ApproversGroupID, true
		}
	}
	return "", false
}
