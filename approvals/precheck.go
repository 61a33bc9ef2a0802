package approvals

import (
	"context"
	"fmt"
	"time"
)

// Precheck runs, when an agent asks for a request form, the checks of filing that
// do not depend on what the form will say: the requester is linked, in the helpdesk
// group and eligible, the request is not about themself, the target is not a
// protected account the policy refuses, no request about the target is open, and
// the requester is under the rate limit. The agent then learns before filling in
// the form, not after. Submit runs the very same checks again (anything may change
// while the form is open). It returns the target's protection, so the form can offer
// only the verification methods the policy accepts for it. A refusal is audited like
// a refused Submit.
func (s *Service) Precheck(ctx context.Context, action Action, requester Actor, target Target) (Protection, error) {
	requester, target = requester.normalized(), target.normalized()
	prot, err := s.precheck(ctx, action, requester, target)
	if err != nil {
		s.recordRefusal(ctx, "open a "+string(action)+" form", requester, "", action, target, err)
		return Protection{}, fmt.Errorf("check a %s request for %s: %w", action, target, err)
	}
	return prot, nil
}

func (s *Service) precheck(ctx context.Context, action Action, requester Actor, target Target) (Protection, error) {
	if !action.valid() {
		return Protection{}, refusef(ErrInvalid, "%q is not an action that needs approval; use reregister or revoke.", clip(string(action), 40))
	}
	if _, ok := normOID(target.ObjectID); !ok {
		return Protection{}, refusef(ErrInvalid, "The target user has no valid directory object id, so no request can be filed.")
	}
	prot, _, err := s.checkFiling(ctx, action, requester, target, Verification{})
	if err != nil {
		return Protection{}, err
	}
	err = s.store.View(ctx, func(tx Tx) error {
		now := s.now().UTC()
		open, found, err := openRequest(tx, target.ObjectID)
		if err != nil {
			return err
		}
		if found && !stalePending(open, now) {
			return openRequestRefusal(open)
		}
		return s.checkRate(tx, now, requester.ObjectID)
	})
	return prot, err
}

// checkFiling is the part of filing that asks who files and about whom: shared by
// Submit and Precheck so that both refuse for exactly the same reasons.
func (s *Service) checkFiling(ctx context.Context, action Action, requester Actor, target Target, v Verification) (Protection, int, error) {
	if _, ok := normOID(requester.ObjectID); !ok {
		return Protection{}, 0, refusef(ErrNotRequester, "Your chat account is not linked to a directory user, so you cannot file requests.")
	}
	if sameOID(requester.ObjectID, target.ObjectID) {
		return Protection{}, 0, refusef(ErrTargetIsActor, "You cannot file a request about your own account; ask a colleague to file it.")
	}
	if err := s.requireMember(ctx, requester.ObjectID, s.policy.HelpdeskGroupID, ErrNotRequester,
		"Only members of the helpdesk group can file requests."); err != nil {
		return Protection{}, 0, err
	}
	return s.assessTarget(ctx, action, target, v)
}

// openRequest returns the request recorded as open about a target, if any. A
// pending one past its expiry is returned too: see stalePending.
func openRequest(tx Tx, targetOID string) (Request, bool, error) {
	id := tx.Get(bucketOpen, []byte(targetOID))
	if id == nil {
		return Request{}, false, nil
	}
	r, err := loadRequest(tx, string(id))
	if err != nil {
		return Request{}, false, err
	}
	if !r.State.Open() {
		return Request{}, false, nil
	}
	return r, true, nil
}

// stalePending: a pending request past its expiry no longer blocks a new one (a
// writer expires it on the way).
func stalePending(r Request, now time.Time) bool {
	return r.State == StatePending && !now.Before(r.Expires)
}
