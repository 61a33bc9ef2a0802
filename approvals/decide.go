package approvals

// Deciding a pending request: approve (running it once the last approval is in) or deny.

import (
	"context"
	"fmt"

	"github.com/mfadesk/mfadesk/actions"
)

// Decide records an approver's verdict. Approvers must be in the approvers group
// (asked now), and be neither the requester nor the target; a protected target is
// re-assessed on approval. When the last needed approval lands, Decide carries out
// the request before returning, through the Executor, exactly once however many
// approvers click at the same moment, and returns the final record (succeeded or
// failed). A refusal returns the current record, if there is one, and an *Error.
//
// Once approved, execution does not depend on ctx being alive: a chat handler's
// deadline must not strand an approved request half-done.
func (s *Service) Decide(ctx context.Context, id string, by Actor, verdict Verdict, justification string) (Request, error) {
	by = by.normalized()
	r, err := s.decide(ctx, id, by, verdict, justification)
	if err != nil {
		rid := r.ID
		if rid == "" {
			rid, _ = ParseID(id)
		}
		s.recordRefusal(ctx, string(verdict), by, rid, r.Action, r.Target, err)
		return r, fmt.Errorf("%s %s: %w", verdict, clip(id, 40), err)
	}
	return r, nil
}

func (s *Service) decide(ctx context.Context, rawID string, by Actor, verdict Verdict, justification string) (Request, error) {
	id, err := ParseID(rawID)
	if err != nil {
		return Request{}, err
	}
	if verdict != VerdictApprove && verdict != VerdictDeny {
		return Request{}, refusef(ErrInvalid, "A decision is approve or deny.")
	}
	justification = clip(justification, maxText+1)
	if len(justification) > maxText {
		return Request{}, refusef(ErrInvalid, "The justification is longer than %d characters.", maxText)
	}
	if justification == "" && s.policy.RequireJustification {
		return Request{}, refusef(ErrInvalid, "A justification is required with every decision.")
	}
	// Masked before it is stored or hashed into the chain, which cannot be edited later.
	justification = actions.MaskPhones(justification)
	pre, err := s.get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if _, ok := normOID(by.ObjectID); !ok {
		return pre, refusef(ErrNotApprover, "Your chat account is not linked to a directory user, so you cannot decide requests.")
	}
	// The cheap checks first: a double click or a late click must not cost a Graph call.
	if e := checkDecision(pre, by, s.now()); e != nil {
		if e.Code == ErrExpired && pre.State == StatePending {
			return s.expireLate(ctx, id, fmt.Sprintf("%s by %s arrived after it expired", verdict, by))
		}
		return pre, e
	}
	if err := s.requireMember(ctx, by.ObjectID, s.policy.ApproversGroupID, ErrNotApprover,
		"Only members of the approvers group can decide requests."); err != nil {
		return pre, err
	}
	var prot Protection
	needed := 1
	if verdict == VerdictApprove && pre.Bulk == nil {
		// The target may have gained a role since the request was filed. (Each user
		// of a bulk request is re-read just before it runs.)
		if prot, needed, err = s.assessTarget(ctx, pre.Action, pre.Target, pre.Verification); err != nil {
			return pre, err
		}
	}
	r := pre
	err = s.update(ctx, func(w *wtx) error {
		cur, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		r = cur
		if cur.State == StatePending && !w.now.Before(cur.Expires) {
			r, err = w.expire(cur, fmt.Sprintf("%s by %s arrived after it expired", verdict, by))
			w.after = expiredError(cur)
			return err
		}
		if e := checkDecision(cur, by, w.now); e != nil {
			return e
		}
		digest, err := checkIntegrity(w.tx, cur)
		if err != nil {
			return err
		}
		if verdict == VerdictApprove {
			if err := s.targetRefusal(w, cur); err != nil {
				return err
			}
		}
		cur.Decisions = append(cur.Decisions, Decision{By: by, At: w.now, Verdict: verdict, Justification: justification})
		ev := Event{RequestID: cur.ID, Action: cur.Action, Actor: by, Target: cur.Target, Detail: justification}
		switch verdict {
		case VerdictDeny:
			cur.State = StateDenied
			ev.Kind = EventDenied
		case VerdictApprove:
			if prot.Protected {
				cur.Protection = prot
				cur.ApprovalsNeeded = max(cur.ApprovalsNeeded, needed)
			}
			n := len(cur.Approvals())
			if n >= cur.ApprovalsNeeded {
				cur.State = StateApproved
			}
			ev.Kind = EventApproved
			// The digest binds this approval, in the chain, to exactly what was filed:
			// execution counts only approvals that carry it.
			ev.Digest = digest
			ev.Detail = joinDetail(fmt.Sprintf("approval %d of %d", n, cur.ApprovalsNeeded), justification)
		}
		ev.State = cur.State
		if err := w.save(&cur); err != nil {
			return err
		}
		r = cur
		return w.audit(ev)
	})
	if err != nil {
		return r, err
	}
	if r.State == StateApproved && r.Bulk != nil {
		// Many users take a while: the run is the service's, not the click's.
		s.startBulk(r.ID, false)
		return r, nil
	}
	if r.State == StateApproved {
		return s.execute(ctx, r.ID, false)
	}
	return r, nil
}

// expireLate marks a pending request expired when a late click reveals it, so the
// card can say so at once instead of waiting for the sweeper.
func (s *Service) expireLate(ctx context.Context, id, detail string) (Request, error) {
	var r Request
	err := s.update(ctx, func(w *wtx) error {
		cur, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		r = cur
		switch {
		case cur.State == StatePending && !w.now.Before(cur.Expires):
			r, err = w.expire(cur, detail)
			w.after = expiredError(cur)
			return err
		case cur.State == StatePending:
			// The clock went back between the two reads; refuse rather than decide
			// without the checks this path skipped.
			return refusef(ErrExpired, "Request %s is about to expire; file a new request if it is still needed.", cur.ID)
		case cur.State == StateExpired:
			return expiredError(cur)
		}
		return alreadyDecided(cur)
	})
	return r, err
}
