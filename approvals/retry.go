package approvals

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// transientError marks an execution failure as temporary (throttled, unavailable, a
// timeout) and safe to try again.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// Transient wraps err, returned by an Executor, to say that the failure was temporary
// and that running the request again is safe (nothing was changed yet, or the steps
// done are recorded and will not be repeated). The request is then failed with
// Retryable set, and an approver may Retry it while its approval is still valid.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &transientError{err: err}
}

func isTransient(err error) bool {
	var t *transientError
	return errors.As(err, &t)
}

// Retry sends a request whose execution failed on a temporary error back to approved
// and runs it again, with every check of execution repeated (the requester and the
// approvers still eligible, the target's protection re-read, the chain agreeing with
// the record). Only an approver may retry: a member of the approvers group who is
// neither the requester nor the target, and only while the approval is valid (the
// policy TTL from the last approval). The retry is audited as request_retried; a
// refusal is audited like any other.
func (s *Service) Retry(ctx context.Context, id string, by Actor) (Request, error) {
	by = by.normalized()
	r, err := s.retry(ctx, id, by)
	if err != nil {
		rid := r.ID
		if rid == "" {
			rid, _ = ParseID(id)
		}
		s.recordRefusal(ctx, "retry", by, rid, r.Action, r.Target, err)
		return r, fmt.Errorf("retry %s: %w", clip(id, 40), err)
	}
	return r, nil
}

func (s *Service) retry(ctx context.Context, rawID string, by Actor) (Request, error) {
	id, err := ParseID(rawID)
	if err != nil {
		return Request{}, err
	}
	pre, err := s.get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if _, ok := normOID(by.ObjectID); !ok {
		return pre, refusef(ErrNotApprover, "Your chat account is not linked to a directory user, so you cannot retry requests.")
	}
	if e := s.checkRetry(pre, by, s.now()); e != nil {
		return pre, e
	}
	if err := s.requireMember(ctx, by.ObjectID, s.policy.ApproversGroupID, ErrNotApprover,
		"Only members of the approvers group can retry requests."); err != nil {
		return pre, err
	}
	r := pre
	err = s.update(ctx, func(w *wtx) error {
		cur, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		r = cur
		if e := s.checkRetry(cur, by, w.now); e != nil {
			return e
		}
		// While it was failed, the target was free for a new request: one open
		// request per target still holds.
		if open, found, err := w.openFor(cur.Target.ObjectID); err != nil {
			return err
		} else if found && open.ID != cur.ID {
			return openRequestRefusal(open)
		}
		failure := cur.Error
		cur.State = StateApproved
		cur.Error = ""
		cur.Retryable = false
		if err := w.save(&cur); err != nil {
			return err
		}
		r = cur
		return w.audit(Event{Kind: EventRetried, RequestID: cur.ID, Action: cur.Action, State: cur.State,
			Actor: by, Target: cur.Target, Detail: clip("after: "+failure, maxText)})
	})
	if err != nil {
		return r, err
	}
	return s.execute(ctx, id, false)
}

// checkRetry applies the state, identity and validity rules of Retry at now.
func (s *Service) checkRetry(r Request, by Actor, now time.Time) *Error {
	if r.State != StateFailed || !r.Retryable {
		return refusef(ErrNotRetryable, "Request %s cannot be retried: only a request whose execution failed on a temporary error can, and this one is %s.", r.ID, r.State)
	}
	if sameOID(by.ObjectID, r.Requester.ObjectID) {
		return refusef(ErrSelfApproval, "You cannot retry request %s because you filed it; an approver must.", r.ID)
	}
	if r.concerns(by.ObjectID) {
		return refusef(ErrTargetIsActor, "You cannot retry request %s because it is about your own account.", r.ID)
	}
	var approvedAt time.Time
	for _, d := range r.Approvals() {
		if d.At.After(approvedAt) {
			approvedAt = d.At
		}
	}
	if until := approvedAt.Add(s.policy.TTL); !now.Before(until) {
		return refusef(ErrExpired, "The approval of request %s is too old to retry (valid until %s); file it again.", r.ID, fmtTime(until))
	}
	return nil
}
