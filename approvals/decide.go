package approvals

// Deciding a pending request: approve (running it once the last approval is in) or deny.

import (
	"context"
	"fmt"
	"slices"

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
	const notApprover = "Only members of the approvers group can decide requests."
	var (
		prot   Protection
		needed = 1
		shared *sharedAnswers
	)
	if verdict == VerdictApprove {
		// One question for the decision and the claim this approval may lead to: the
		// approver's standing, the target's protection (it may have gained a role since
		// the request was filed), and what the claim re-checks, asked of the request as
		// this approval would leave it. The claim uses the answers only if it follows
		// at once (sharedAnswers). A bulk request's question has no target: each of its
		// users is re-read just before it runs.
		probe := pre
		probe.Decisions = append(slices.Clone(pre.Decisions), Decision{By: by, Verdict: VerdictApprove})
		q := s.claimQuestion(probe)
		at := s.now()
		ans := s.ask(ctx, q)
		self := ans.Members[len(ans.Members)-1] // the approver is the last question
		if err := memberRefusal(self.OK, self.Err, ErrNotApprover, notApprover); err != nil {
			return pre, err
		}
		if pre.Bulk == nil {
			if prot, needed, err = s.targetAssessment(ans.Protection, ans.ProtectionErr, pre.Target, pre.Verification); err != nil {
				return pre, err
			}
		}
		shared = &sharedAnswers{id: pre.ID, q: q, ans: ans, at: at}
	} else if err := s.requireMember(ctx, by.ObjectID, s.policy.ApproversGroupID, ErrNotApprover, notApprover); err != nil {
		return pre, err
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
			// The rules apply to the request as this approval would leave it (an
			// approver who attested as the manager is refused here).
			probe := cur
			probe.Decisions = append(slices.Clone(cur.Decisions), Decision{By: by, At: w.now, Verdict: verdict})
			if err := s.targetRefusal(w, probe); err != nil {
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
		return s.executeShared(ctx, r.ID, false, shared)
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
