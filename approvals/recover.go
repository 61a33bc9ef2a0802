package approvals

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// execute claims an approved request (approved → executing, one transaction: only
// the caller whose transaction makes that move runs the Executor), runs it, and
// records the result (executing → succeeded | failed). With recovering set it also
// re-claims a request left executing by a process that died, and tells the Executor
// to resume. If someone else holds the claim it returns the current record.
func (s *Service) execute(ctx context.Context, id string, recovering bool) (Request, error) {
	// From here on the approval has been given: finishing must not hinge on the
	// caller still waiting.
	ctx = context.WithoutCancel(ctx)
	if !s.claimLocal(id) {
		return s.get(ctx, id)
	}
	defer s.releaseLocal(id)

	var (
		r       Request
		claimed bool
		resume  bool
	)
	err := s.update(ctx, func(w *wtx) error {
		claimed = false
		cur, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		r = cur
		switch {
		case cur.State == StateApproved:
			resume = false
		case cur.State == StateExecuting && recovering && !s.runnerGone(w.tx, cur.Runner):
			return nil // another replica is still running it
		case cur.State == StateExecuting && recovering:
			resume = true
		default:
			return nil
		}
		if err := checkIntegrity(w.tx, cur); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				return err
			}
			cur.State = StateFailed
			cur.Error = e.Msg
			if err := w.save(&cur); err != nil {
				return err
			}
			r = cur
			return w.audit(Event{Kind: EventFailed, RequestID: cur.ID, Action: cur.Action, State: cur.State,
				Target: cur.Target, Code: e.Code, Detail: "not carried out: " + e.Msg})
		}
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
		r, claimed = cur, true
		detail := fmt.Sprintf("attempt %d", cur.Attempts)
		if resume {
			detail += ", resuming after a restart"
		} else if recovering {
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

	claim, retried := r, false
	record := func(w *wtx) error {
		cur, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		if retried && cur.Attempts == claim.Attempts && cur.Runner == claim.Runner &&
			(cur.State == StateSucceeded || cur.State == StateFailed) {
			r = cur // an earlier try landed although its answer was lost
			return nil
		}
		if cur.State != StateExecuting || cur.Attempts != claim.Attempts || cur.Runner != claim.Runner {
			// Only the claimer moves a request out of executing; anything else is a bug,
			// an edit of the file, or (shared store) another replica that re-claimed it
			// after this one lost its lease, whose claim must not be overwritten.
			return fmt.Errorf("request %s left the executing state of attempt %d while it ran (now %s, attempt %d)",
				id, claim.Attempts, cur.State, cur.Attempts)
		}
		cur.Steps = res.Steps
		ev := Event{RequestID: cur.ID, Action: cur.Action, Target: cur.Target, Detail: summarizeSteps(res.Steps)}
		if xerr != nil {
			cur.State = StateFailed
			cur.Error = clip(xerr.Error(), maxText)
			ev.Kind = EventFailed
			ev.Detail = joinDetail(ev.Detail, "error: "+cur.Error)
		} else {
			cur.State = StateSucceeded
			ev.Kind = EventSucceeded
		}
		ev.State = cur.State
		if err := w.save(&cur); err != nil {
			return err
		}
		r = cur
		return w.audit(ev)
	}
	// The work is done: an unreachable store delays recording it, not the outcome.
	err = s.retryUnavailable(ctx, func(try int) error {
		retried = try > 0
		return s.update(ctx, record)
	})
	if err != nil {
		// The request stays executing; Recover on the next start resumes or fails it.
		return r, fmt.Errorf("record the result of %s: %w", id, err)
	}
	return r, nil
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
	return s.exec.Execute(ctx, r, resume)
}

// Recover deals with requests a previous process left approved or executing: for an
// action the policy resumes, it claims and runs each once more (Execute with resume
// true if it was executing); otherwise it marks them failed with the reason. It
// never starts a request this process is already running, so calling it again while
// the service runs is safe. It returns the requests it changed.
func (s *Service) Recover(ctx context.Context) ([]Request, error) {
	var stuck []Request
	err := s.store.View(ctx, func(tx Tx) error {
		open, err := loadOpen(tx)
		if err != nil {
			return err
		}
		for _, r := range open {
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
