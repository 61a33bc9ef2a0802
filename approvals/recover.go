package approvals

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mfadesk/mfadesk/actions"
)

// claimLocal marks id as being executed by this process; false if it already is.
func (s *Service) claimLocal(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[id] {
		return false
	}
	s.running[id] = true
	return true
}

func (s *Service) releaseLocal(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.running, id)
}

// resultSaveAttempts bounds how often execute tries to record the result of a run
// before leaving the request executing for the next start to resume.
const resultSaveAttempts = 3

// resultSaveBackoff is the pause before the second attempt (doubled before the third).
var resultSaveBackoff = 50 * time.Millisecond

// errLeftExecuting: the record left the executing state while it ran; retrying the
// save cannot help.
var errLeftExecuting = errors.New("the request left the executing state while it ran")

// claimable reports whether r may be claimed for a run now.
func claimable(r Request, recovering bool) bool {
	return r.State == StateApproved || (r.State == StateExecuting && recovering)
}

// execute claims an approved request (approved → executing, one transaction: only
// the caller whose transaction makes that move runs the Executor), runs it, and
// records the result (executing → succeeded | failed). With recovering set it also
// re-claims a request left executing by a process that died, and tells the Executor
// to resume. If someone else holds the claim it returns the current record.
//
// Before claiming, it checks again everything the approval rested on (see
// recheck): a request that no longer passes is failed with the reason, audited, and
// never reaches the Executor.
func (s *Service) execute(ctx context.Context, id string, recovering bool) (Request, error) {
	return s.executeShared(ctx, id, recovering, nil)
}

// executeShared is execute with the answers of the decision that approved the
// request, if any (see sharedAnswers).
func (s *Service) executeShared(ctx context.Context, id string, recovering bool, shared *sharedAnswers) (Request, error) {
	// From here on the approval has been given: finishing must not hinge on the
	// caller still waiting.
	ctx = context.WithoutCancel(ctx)
	if !s.claimLocal(id) {
		return s.get(ctx, id)
	}
	defer s.releaseLocal(id)

	// The directory is asked outside any transaction (it is a network call); the
	// checks of the stored record and its chain run again in the claiming one.
	var (
		pre     Request
		refusal *Error
	)
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if pre, err = loadRequest(tx, id); err != nil || !claimable(pre, recovering) {
			return err
		}
		if pre.Bulk != nil {
			// A bulk request runs only through runBulk, user by user, exactly once.
			return fmt.Errorf("request %s is a bulk request", id)
		}
		refusal, err = s.checkStored(tx, pre, s.now())
		return err
	})
	if err != nil {
		return pre, fmt.Errorf("check %s before execution: %w", id, err)
	}
	if !claimable(pre, recovering) {
		return pre, nil
	}
	if refusal == nil {
		refusal = s.recheckDirectory(ctx, pre, shared)
	}

	var (
		r       Request
		claimed bool
		resume  bool
		prior   int
	)
	err = s.update(ctx, func(w *wtx) error {
		claimed = false
		cur, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		r = cur
		if !claimable(cur, recovering) {
			return nil
		}
		if cur.State == StateExecuting && !s.runnerGone(w.tx, cur.Runner) {
			return nil // another replica is still running it
		}
		e, err := s.claimRefusal(w, cur, pre, refusal)
		if err != nil {
			return err
		}
		if e != nil {
			cur.State = StateFailed
			cur.Error = e.Msg
			// A directory that could not be asked may answer later; nothing ran.
			cur.Retryable = e.Code == ErrDirectoryUnavailable
			if err := w.save(&cur); err != nil {
				return err
			}
			r = cur
			return w.audit(Event{Kind: EventFailed, RequestID: cur.ID, Action: cur.Action, State: cur.State,
				Target: cur.Target, Code: e.Code, Detail: "not carried out: " + e.Msg})
		}
		// Steps on an approved record are those of an earlier run sent back by Retry.
		resume = cur.State == StateExecuting || len(cur.Steps) > 0
		runner, err := s.runnerFor(w.tx)
		if err != nil {
			return err
		}
		cur.State = StateExecuting
		cur.Attempts++
		cur.Runner = runner
		if err := w.save(&cur); err != nil {
			return err
		}
		r, claimed, prior = cur, true, len(cur.Steps)
		detail := fmt.Sprintf("attempt %d", cur.Attempts)
		switch {
		case resume && recovering:
			detail += ", resuming after a restart"
		case resume:
			detail += ", resuming after a retry"
		case recovering:
			detail += ", started after a restart"
		}
		return w.audit(Event{Kind: EventExecuting, RequestID: cur.ID, Action: cur.Action, State: cur.State,
			Target: cur.Target, Detail: detail})
	})
	if err != nil {
		return r, fmt.Errorf("claim %s for execution: %w", id, err)
	}
	if !claimed {
		return r, nil
	}

	res, xerr := s.run(ctx, r, resume)

	claim, ranAt := r, time.Now()
	for attempt := 1; ; attempt++ {
		err = s.update(ctx, func(w *wtx) error {
			cur, err := loadRequest(w.tx, id)
			if err != nil {
				return err
			}
			if attempt > 1 && cur.Attempts == claim.Attempts && cur.Runner == claim.Runner &&
				(cur.State == StateSucceeded || cur.State == StateFailed) {
				r = cur // an earlier try landed although its answer was lost
				return nil
			}
			if cur.State != StateExecuting || cur.Attempts != claim.Attempts || cur.Runner != claim.Runner {
				// Only the claimer moves a request out of executing; anything else is a
				// bug, an edit of the file, or (shared store) another replica that
				// re-claimed it after this one lost its lease, whose claim must not be
				// overwritten.
				return fmt.Errorf("%w (now %s, attempt %d; this run was attempt %d)", errLeftExecuting, cur.State, cur.Attempts, claim.Attempts)
			}
			cur.Steps = mergeSteps(cur.Steps, prior, res.Steps)
			ev := Event{RequestID: cur.ID, Action: cur.Action, Target: cur.Target, Detail: summarizeSteps(cur.Steps[prior:])}
			if xerr != nil {
				cur.State = StateFailed
				// Stored and hashed into the chain: no full phone number, whatever the
				// directory's error text held.
				cur.Error = clip(actions.MaskPhones(xerr.Error()), maxText)
				cur.Retryable = isTransient(xerr)
				ev.Kind = EventFailed
				ev.Detail = joinDetail(ev.Detail, "error: "+cur.Error)
				if cur.Retryable {
					ev.Detail = joinDetail(ev.Detail, "temporary: an approver may retry")
				}
			} else {
				cur.State = StateSucceeded
				ev.Kind = EventSucceeded
			}
			ev.State = cur.State
			if err := w.save(&cur); err != nil {
				return err
			}
			// A failed run may have removed methods part-way, so it is watched too.
			if err := s.startWatch(w, cur, claim.Updated); err != nil {
				return err
			}
			r = cur
			return w.audit(ev)
		})
		// An unreachable shared store delays recording work already done, up to the
		// executor timeout, rather than leaving it for the next leader to redo.
		outage := CodeOf(err) == ErrStoreUnavailable && time.Since(ranAt) < s.execTimeout
		if err == nil || errors.Is(err, errLeftExecuting) || (attempt >= resultSaveAttempts && !outage) {
			break
		}
		s.log.Warn("record the result of a run; trying again", "request", id, "attempt", attempt, "err", err)
		time.Sleep(min(resultSaveBackoff<<min(attempt-1, 6), 2*time.Second))
	}
	if err != nil {
		// The request stays executing with the steps recorded so far; Recover on the
		// next start resumes from them (or fails it, as the policy says).
		return r, fmt.Errorf("record the result of %s: %w", id, err)
	}
	return r, nil
}

// mergeSteps returns the stored steps (the first prior of them recorded before this
// run) followed by those of ran that this run did not record already.
func mergeSteps(stored []Step, prior int, ran []Step) []Step {
	key := func(st Step) string {
		return st.Name + "\x00" + st.Target + "\x00" + st.Outcome + "\x00" + st.Detail + "\x00" + st.At.UTC().Format(time.RFC3339Nano)
	}
	recorded := map[string]bool{}
	for _, st := range stored[prior:] {
		recorded[key(st)] = true
	}
	out := slices.Clone(stored)
	for _, st := range ran {
		if st = maskStep(st); !recorded[key(st)] {
			out = append(out, st)
		}
	}
	return out
}

// maskStep masks phone numbers in a step's free text: steps are stored, audited and
// shown on cards. Executors mask method labels themselves; this catches the rest.
func maskStep(st Step) Step {
	st.Target = actions.MaskPhones(st.Target)
	st.Detail = actions.MaskPhones(st.Detail)
	return st
}

// recordStep returns the Executor's record function for the run that claimed the
// request: each call appends one step to the stored record in its own transaction,
// and fails (stopping the Executor) once the record is no longer that run's claim,
// such as after another replica re-claimed it when this one lost its lease.
func (s *Service) recordStep(claim Request) func(context.Context, Step) error {
	id := claim.ID
	return func(ctx context.Context, st Step) error {
		err := s.update(context.WithoutCancel(ctx), func(w *wtx) error {
			cur, err := loadRequest(w.tx, id)
			if err != nil {
				return err
			}
			if cur.State != StateExecuting || cur.Attempts != claim.Attempts || cur.Runner != claim.Runner {
				return fmt.Errorf("%w (now %s, attempt %d; this run was attempt %d)", errLeftExecuting, cur.State, cur.Attempts, claim.Attempts)
			}
			cur.Steps = append(cur.Steps, maskStep(st))
			return w.save(&cur)
		})
		if err != nil {
			return fmt.Errorf("record step %q of %s: %w", st.Name, id, err)
		}
		return nil
	}
}

// checkStored checks what the store can tell about a request about to be claimed:
// its record matches its digest, its approval as derived from the audit chain agrees
// with the record (see checkChain), and an approval not yet acted on is still within
// its validity bound (the policy TTL from the last approval). A refusal is an *Error;
// err is a failure to read.
func (s *Service) checkStored(tx Tx, r Request, now time.Time) (*Error, error) {
	var e *Error
	digest, err := checkIntegrity(tx, r)
	if errors.As(err, &e) {
		return e, nil
	} else if err != nil {
		return nil, err
	}
	ca, err := checkChain(tx, r, digest)
	if errors.As(err, &e) {
		return e, nil
	} else if err != nil {
		return nil, err
	}
	if e, err := s.targetRefusalTx(tx, r, now); e != nil || err != nil {
		return e, err
	}
	if r.State == StateApproved {
		if until := ca.approvedAt.Add(s.policy.TTL); !now.Before(until) {
			return refusef(ErrExpired, "Request %s was not carried out: approval too old (given %s, valid until %s); file it again.",
				r.ID, fmtTime(ca.approvedAt), fmtTime(until)), nil
		}
	}
	return nil, nil
}

// claimRefusal is why the claim of cur (as stored now) must not run: what the store
// says (checkStored), approvers that differ from pre's, whom the directory was just
// asked about (nothing else moves an approved record, so a difference is an edit of
// the file), or the directory's refusal. Single and bulk claims share it.
func (s *Service) claimRefusal(w *wtx, cur, pre Request, refusal *Error) (*Error, error) {
	e, err := s.checkStored(w.tx, cur, w.now)
	if err != nil || e != nil {
		return e, err
	}
	if !sameApprovers(cur, pre) {
		return tamperedError(cur), nil
	}
	return refusal, nil
}

// recheckDirectory asks the directory again, at execution, what the approval rested
// on: the requester is still an eligible helpdesk member, every approver whose
// approval counts is still an eligible approver, and the target's protection (read
// now) still lets the request run with the approvals it has. A directory that cannot
// be asked refuses (fail closed) with ErrDirectoryUnavailable. The questions are put
// as one (see ask), so the claim waits for one answer; the decision that led here may
// hand over the answers it got for exactly this question moments ago (see
// sharedAnswers). The refusal reported is the first in that order.
func (s *Service) recheckDirectory(ctx context.Context, r Request, shared *sharedAnswers) *Error {
	q := s.claimQuestion(r)
	ans, ok := shared.answersFor(q, r.ID, s.now())
	if !ok {
		ans = s.ask(ctx, q)
	}
	for i, m := range q.Members {
		if e := s.memberRecheck(r, m.User, m.Group, ans.Members[i].OK, ans.Members[i].Err); e != nil {
			return e
		}
	}
	needed, err := 0, error(nil)
	if r.Bulk == nil {
		// Each user of a bulk request is re-read just before it runs instead.
		_, needed, err = s.targetAssessment(ans.Protection, ans.ProtectionErr, r.Target, r.Verification)
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Code == ErrDirectoryUnavailable {
			return unavailableAtClaim(r, e.Err)
		}
		return &Error{Code: e.Code, Msg: fmt.Sprintf("Request %s was not carried out because it no longer passes the policy: %s", r.ID, lowerFirst(e.Msg))}
	}
	distinct := map[string]bool{}
	for _, d := range r.Approvals() {
		oid, _ := normOID(d.By.ObjectID)
		distinct[oid] = true
	}
	if needed = max(needed, r.ApprovalsNeeded); len(distinct) < needed {
		return refusef(ErrProtectedTarget, "Request %s was not carried out because %s is now a protected account and needs %d distinct approvals, but has %d; file it again.", r.ID, r.Target, needed, len(distinct))
	}
	return nil
}

// memberRecheck weighs the directory's answer to whether user is still in group, for the claim of r: the
// requester in the helpdesk group, an approver in the approvers group.
func (s *Service) memberRecheck(r Request, user, group string, ok bool, err error) *Error {
	// A disabled, guest or deleted account is an answer, not an outage: the request
	// fails with that cause rather than waiting for a retry.
	cause := ""
	if ie := (*IneligibleError)(nil); errors.As(err, &ie) {
		ok, err, cause = false, nil, " (the directory account "+ie.Why+")"
	}
	switch {
	case err != nil:
		return unavailableAtClaim(r, err)
	case ok:
		return nil
	case sameOID(user, r.Requester.ObjectID) && group == s.policy.HelpdeskGroupID:
		return refusef(ErrNotRequester, "Request %s was not carried out because its requester, %s, is no longer an eligible member of the helpdesk group%s; file it again if it is still needed.", r.ID, r.Requester, cause)
	}
	who := user
	for _, d := range r.Approvals() {
		if sameOID(d.By.ObjectID, user) {
			who = d.By.String()
		}
	}
	return refusef(ErrNotApprover, "Request %s was not carried out because the approval by %s no longer counts: they are no longer an eligible approver%s; file it again if it is still needed.", r.ID, who, cause)
}

func unavailableAtClaim(r Request, err error) *Error {
	return &Error{Code: ErrDirectoryUnavailable, Err: err, Msg: fmt.Sprintf(
		"Request %s was not carried out because the directory could not be asked whether it may still run; nothing was changed, and an approver may retry it shortly.", r.ID)}
}

// lowerFirst lowers the first letter of a sentence that continues another.
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// sameApprovers reports whether a and b record the same approvers, in order.
func sameApprovers(a, b Request) bool {
	x, y := a.Approvals(), b.Approvals()
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !sameOID(x[i].By.ObjectID, y[i].By.ObjectID) {
			return false
		}
	}
	return true
}

// run calls the Executor with a deadline, turning a panic into a failure so the
// request is recorded as failed rather than left executing until the next restart.
func (s *Service) run(ctx context.Context, r Request, resume bool) (res Result, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.execTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("executor panicked", "request", r.ID, "panic", fmt.Sprint(p))
			err = fmt.Errorf("the executor panicked: %v", p)
		}
	}()
	return s.exec.Execute(ctx, r, resume, s.recordStep(r))
}

// Recover deals with requests a previous process left approved or executing: for an
// action the policy resumes, it claims and runs each once more (Execute with resume
// true if it was executing); otherwise it marks them failed with the reason. It
// never starts a request this process is already running, so calling it again while
// the service runs is safe. It returns the requests it changed.
func (s *Service) Recover(ctx context.Context) ([]Request, error) {
	var stuck, bulk []Request
	err := s.store.View(ctx, func(tx Tx) error {
		open, err := loadOpen(tx)
		if err != nil {
			return err
		}
		for _, r := range open {
			if r.Bulk != nil {
				// A bulk run resumes where it stopped whatever the policy says of
				// resuming: its runner never runs a user twice.
				if m, err := readBulkMeta(tx, r.ID); err != nil {
					return err
				} else if bulkClaimable(r, m, true) {
					bulk = append(bulk, r)
				}
				continue
			}
			if r.State == StateApproved || r.State == StateExecuting {
				stuck = append(stuck, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recover: find interrupted requests: %w", err)
	}
	var (
		out  []Request
		errs []error
	)
	for _, r := range bulk {
		s.startBulk(r.ID, true) // in the background: WaitBulk or Shutdown waits for it
		out = append(out, r)
	}
	for _, r := range stuck {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		var (
			got Request
			err error
		)
		if s.policy.Resume[r.Action] {
			got, err = s.execute(ctx, r.ID, true)
		} else {
			got, err = s.abandon(ctx, r.ID)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("recover %s: %w", r.ID, err))
			continue
		}
		if got.State != r.State || got.Attempts != r.Attempts {
			out = append(out, got)
		}
	}
	return out, errors.Join(errs...)
}

// abandon marks an interrupted request failed, saying what a person must check.
func (s *Service) abandon(ctx context.Context, id string) (Request, error) {
	if !s.claimLocal(id) {
		return s.get(ctx, id) // running here, not interrupted
	}
	defer s.releaseLocal(id)
	var r Request
	err := s.update(ctx, func(w *wtx) error {
		cur, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		r = cur
		switch cur.State {
		case StateApproved:
			cur.Error = "mfadesk restarted after the approval and before carrying it out, and this action is not resumed after a restart: nothing was done; file a new request if it is still needed"
		case StateExecuting:
			cur.Error = "mfadesk restarted while carrying it out, and this action is not resumed after a restart: the user may be partly changed; check their methods and sessions, and file a new request if needed"
		default:
			return nil
		}
		cur.State = StateFailed
		if err := w.save(&cur); err != nil {
			return err
		}
		r = cur
		return w.audit(Event{Kind: EventFailed, RequestID: cur.ID, Action: cur.Action, State: cur.State,
			Target: cur.Target, Detail: cur.Error})
	})
	return r, err
}

// summarizeSteps renders steps for an audit line: "name target: outcome", bounded.
func summarizeSteps(steps []Step) string {
	parts := make([]string, 0, len(steps))
	for _, st := range steps {
		p := st.Name
		if st.Target != "" {
			p += " " + st.Target
		}
		parts = append(parts, p+": "+st.Outcome)
	}
	return clip(strings.Join(parts, "; "), maxText)
}
