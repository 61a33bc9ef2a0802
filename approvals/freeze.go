package approvals

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mfadesk/mfadesk/actions"
)

// "This is not me". Every message mfadesk sends a target carries that button. A
// target who presses it is telling us someone is impersonating them: every open
// request about them is cancelled, open confirmations are withdrawn, and the account
// is frozen for a while, so the impersonator cannot simply ask again. Only a member of
// the approvers group lifts a freeze, with a justification.

// DefaultFreezeFor is how long "This is not me" freezes a target.
const DefaultFreezeFor = 24 * time.Hour

// Audit event kinds of freezes.
const (
	EventTargetDenied EventKind = "target_denied"
	EventFrozen       EventKind = "target_frozen"
	EventUnfrozen     EventKind = "target_unfrozen"
)

const bucketFrozen = "frozen"

// Freeze is a target's freeze after "This is not me".
type Freeze struct {
	Target Target    `json:"target"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	By     Actor     `json:"by"`
}

// NotMeOutcome is what "This is not me" did, for the bot to tell people.
type NotMeOutcome struct {
	Cancelled []Request      // requests cancelled (the agent of each is told)
	Withdrawn []Confirmation // confirmations withdrawn
	Freeze    Freeze
}

// NotMe records that the target denies asking: it must be pressed by the target
// (by resolves to target's object id). It cancels the target's pending request,
// withdraws open confirmations and freezes the target for Policy.FreezeFor, all in
// one transaction with their audit events. A request already approved and being
// carried out cannot be stopped here; the freeze refuses the next one.
func (s *Service) NotMe(ctx context.Context, target Target, by Actor, about string) (NotMeOutcome, error) {
	target, by = target.normalized(), by.normalized()
	out, err := s.notMe(ctx, target, by, about)
	if err != nil {
		s.recordRefusal(ctx, "say \"This is not me\"", by, "", "", target, err)
		return out, fmt.Errorf("deny on behalf of %s: %w", target, err)
	}
	return out, nil
}

func (s *Service) notMe(ctx context.Context, target Target, by Actor, about string) (NotMeOutcome, error) {
	if _, ok := normOID(by.ObjectID); !ok || !sameOID(by.ObjectID, target.ObjectID) {
		return NotMeOutcome{}, refusef(ErrNotTarget, "Only %s can say this was not them; nothing was changed.", target)
	}
	return s.deny(ctx, target, by, "the user", about)
}

// ManagerDirectory is the optional part of a Directory that reads a user's manager:
// "This is not them" from a manager's copy of a notice is checked against it, live.
type ManagerDirectory interface {
	// ManagerOf returns the object id of the user's manager, "" when they have none.
	ManagerOf(ctx context.Context, userObjectID string) (string, error)
}

// NotThem records that the target's manager denies the target asked. The clicker
// must be the manager: the manager an attestation was sent to (attestationID set),
// or the target's manager as the directory says now (a copy of a notice). It then
// does what "This is not me" does: cancel, withdraw, freeze.
func (s *Service) NotThem(ctx context.Context, target Target, by Actor, attestationID, about string) (NotMeOutcome, error) {
	target, by = target.normalized(), by.normalized()
	out, err := s.notThem(ctx, target, by, attestationID, about)
	if err != nil {
		s.recordRefusal(ctx, "say \"This is not them\"", by, "", "", target, err)
		return out, fmt.Errorf("deny as the manager of %s: %w", target, err)
	}
	return out, nil
}

func (s *Service) notThem(ctx context.Context, target Target, by Actor, attestationID, about string) (NotMeOutcome, error) {
	if _, ok := normOID(by.ObjectID); !ok {
		return NotMeOutcome{}, refusef(ErrNotManager, "Your chat account is not linked to a directory user; nothing was changed.")
	}
	if attestationID != "" {
		a, err := s.Attestation(ctx, attestationID)
		if err != nil {
			return NotMeOutcome{}, err
		}
		if !sameOID(a.Manager.ObjectID, by.ObjectID) {
			return NotMeOutcome{}, refusef(ErrNotManager, "Only %s, who was asked, can say this was not %s; nothing was changed.", a.Manager, a.Target)
		}
		return s.deny(ctx, a.Target, by, "their manager", about)
	}
	md, ok := s.dir.(ManagerDirectory)
	if !ok {
		return NotMeOutcome{}, refusef(ErrDirectoryUnavailable, "The directory cannot say who manages %s here; nothing was changed.", target)
	}
	mgr, err := md.ManagerOf(ctx, target.ObjectID)
	if err != nil {
		return NotMeOutcome{}, &Error{Code: ErrDirectoryUnavailable, Err: err,
			Msg: fmt.Sprintf("The directory could not be asked who manages %s; nothing was changed. Try again shortly.", target)}
	}
	if mgr == "" || !sameOID(mgr, by.ObjectID) {
		return NotMeOutcome{}, refusef(ErrNotManager, "Only the manager of %s can say this was not them; nothing was changed.", target)
	}
	if sameOID(by.ObjectID, target.ObjectID) {
		return NotMeOutcome{}, refusef(ErrManagerConflict, "You manage yourself in the directory; use This is not me instead.")
	}
	return s.deny(ctx, target, by, "their manager", about)
}

// deny is the one home of what a denial does, in one transaction with its audit
// events: cancel the target's pending request, withdraw open confirmations and
// attestations, freeze the target for Policy.FreezeFor. who is "the user" or
// "their manager", for the audit log.
func (s *Service) deny(ctx context.Context, target Target, by Actor, who, about string) (NotMeOutcome, error) {
	var out NotMeOutcome
	err := s.update(ctx, func(w *wtx) error {
		out = NotMeOutcome{}
		if err := w.audit(Event{Kind: EventTargetDenied, Actor: by, Target: target,
			Detail: clip(who+" said this is not them ("+about+")", maxShort)}); err != nil {
			return err
		}
		open, found, err := openRequest(w.tx, target.ObjectID)
		if err != nil {
			return err
		}
		if found && open.State == StatePending {
			open.State, open.NotMe = StateCancelled, true
			if err := w.save(&open); err != nil {
				return err
			}
			out.Cancelled = append(out.Cancelled, open)
			if err := w.audit(Event{Kind: EventCancelled, RequestID: open.ID, Action: open.Action, State: open.State,
				Actor: by, Target: open.Target, Detail: "cancelled because " + who + " said this is not them"}); err != nil {
				return err
			}
		}
		confs, err := openConfirmations(w.tx, target.ObjectID)
		if err != nil {
			return err
		}
		for _, c := range confs {
			c.State = ConfirmDenied
			if err := putConfirmation(w.tx, c); err != nil {
				return err
			}
			out.Withdrawn = append(out.Withdrawn, c)
		}
		atts, err := openAttestations(w.tx, target.ObjectID)
		if err != nil {
			return err
		}
		for _, a := range atts {
			a.State = ConfirmDenied
			if err := putAttestation(w.tx, a); err != nil {
				return err
			}
		}
		f := Freeze{Target: target, Since: w.now, Until: w.now.Add(s.policy.FreezeFor), By: by}
		b, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("encode freeze of %s: %w", target, err)
		}
		if err := w.tx.Put(bucketFrozen, []byte(target.ObjectID), b); err != nil {
			return fmt.Errorf("store freeze of %s: %w", target, err)
		}
		out.Freeze = f
		return w.audit(Event{Kind: EventFrozen, Actor: by, Target: target, Detail: "frozen until " + fmtTime(f.Until)})
	})
	return out, err
}

// Unfreeze lifts a freeze; only a member of the approvers group who is not the
// target may, with a justification.
func (s *Service) Unfreeze(ctx context.Context, target Target, by Actor, justification string) error {
	target, by = target.normalized(), by.normalized()
	err := s.unfreeze(ctx, target, by, justification)
	if err != nil {
		s.recordRefusal(ctx, "unfreeze", by, "", "", target, err)
		return fmt.Errorf("unfreeze %s: %w", target, err)
	}
	return nil
}

func (s *Service) unfreeze(ctx context.Context, target Target, by Actor, justification string) error {
	justification = clip(justification, maxText)
	if justification == "" {
		return refusef(ErrInvalid, "Say why the freeze can be lifted: unfreeze <user> <justification>.")
	}
	if _, ok := normOID(by.ObjectID); !ok {
		return refusef(ErrNotApprover, "Your chat account is not linked to a directory user, so you cannot lift a freeze.")
	}
	if sameOID(by.ObjectID, target.ObjectID) {
		return refusef(ErrTargetIsActor, "You cannot lift a freeze on your own account; another approver must.")
	}
	if err := s.requireMember(ctx, by.ObjectID, s.policy.ApproversGroupID, ErrNotApprover,
		"Only members of the approvers group can lift a freeze."); err != nil {
		return err
	}
	return s.update(ctx, func(w *wtx) error {
		if w.tx.Get(bucketFrozen, []byte(target.ObjectID)) == nil {
			return refusef(ErrNotFound, "%s is not frozen.", target)
		}
		if err := w.tx.Delete(bucketFrozen, []byte(target.ObjectID)); err != nil {
			return fmt.Errorf("lift freeze of %s: %w", target, err)
		}
		return w.audit(Event{Kind: EventUnfrozen, Actor: by, Target: target, Detail: actions.MaskPhones(justification)})
	})
}

// Frozen returns the target's freeze, if one is in force.
func (s *Service) Frozen(ctx context.Context, targetOID string) (Freeze, bool, error) {
	var (
		f  Freeze
		ok bool
	)
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		f, ok, err = loadFreeze(tx, targetOID, s.now())
		return err
	})
	return f, ok, err
}

func loadFreeze(tx Tx, targetOID string, now time.Time) (Freeze, bool, error) {
	oid, ok := normOID(targetOID)
	if !ok {
		return Freeze{}, false, nil
	}
	b := tx.Get(bucketFrozen, []byte(oid))
	if b == nil {
		return Freeze{}, false, nil
	}
	var f Freeze
	if err := json.Unmarshal(b, &f); err != nil {
		return Freeze{}, false, fmt.Errorf("load freeze of %s: %w", oid, err)
	}
	return f, now.Before(f.Until), nil
}

// frozenRefusal is the one home of the freeze rule: it refuses anything new about a
// frozen target, at filing, at a confirmation, at approval and at the claim.
func frozenRefusal(tx Tx, t Target, now time.Time) (*Error, error) {
	f, ok, err := loadFreeze(tx, t.ObjectID, now)
	if err != nil || !ok {
		return nil, err
	}
	return refusef(ErrFrozen, "The account %s is frozen until %s because they said a request was not them; only a member of the approvers group can lift it, with unfreeze %s and a justification.",
		t, fmtTime(f.Until), t), nil
}

// targetRefusal applies the freeze and evidence rules to an approval in w.
func (s *Service) targetRefusal(w *wtx, r Request) error {
	e, err := s.targetRefusalTx(w.tx, r, w.now)
	return firstErr(e, err)
}

// targetRefusalTx applies the freeze and evidence rules to r: at approval and again
// when the approved request is claimed.
func (s *Service) targetRefusalTx(tx Tx, r Request, now time.Time) (*Error, error) {
	if e, err := frozenRefusal(tx, r.Target, now); e != nil || err != nil {
		return e, err
	}
	return s.evidenceRefusal(tx, r)
}
