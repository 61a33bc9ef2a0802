package approvals

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mfadesk/mfadesk/actions"
)

// Manager attestation. A target who lost every device cannot confirm in chat; their
// manager usually can vouch for them: mfadesk asks the manager (read from the
// directory, not named by the agent) privately to attest, with a line saying how they
// checked. The manager must be a third person: not the requester, not an approver of
// the request, not the target; otherwise one person would both vouch and act. The
// attestation is single-use, expires like a confirmation, is bound to one request and
// one manager object id, and is recorded in the audit chain as performed evidence.

// Audit event kinds of the manager-attestation flow.
const (
	EventAttestSent EventKind = "manager_attestation_sent"
	EventAttested   EventKind = "manager_attested"
)

// Refusal codes of the manager-attestation flow.
const (
	// ErrNotManager: someone other than the manager asked answered an attestation,
	// or said "This is not them" about a user they do not manage.
	ErrNotManager Code = "not_manager"
	// ErrManagerConflict: the manager is the requester, an approver of the request
	// or its target, or an approver attested.
	ErrManagerConflict Code = "manager_conflict"
)

// MethodManagerAttestation is the Performed.Method of a manager's attestation.
const MethodManagerAttestation = "manager_attestation"

const attestPrefix = "M-"

// Attestation is one request to a manager to vouch for the target of a request.
type Attestation struct {
	ID        string       `json:"id"`
	RequestID string       `json:"request_id"`
	Action    Action       `json:"action"`
	Ticket    string       `json:"ticket,omitempty"`
	Target    Target       `json:"target"`
	Agent     Actor        `json:"agent"`
	Manager   Target       `json:"manager"`
	Created   time.Time    `json:"created"`
	Expires   time.Time    `json:"expires"`
	State     ConfirmState `json:"state"`
	By        Actor        `json:"by,omitzero"`
	Line      string       `json:"line,omitempty"` // how the manager verified, phone numbers masked
	Answered  time.Time    `json:"answered,omitzero"`
}

// NewAttestation is what the bot asks for: the manager of the target of a pending
// request, as the directory names them, asked on behalf of the request's requester.
type NewAttestation struct {
	RequestID string
	Agent     Actor
	Manager   Target
}

// StartAttestation creates an attestation for a pending request. Only its requester
// may ask; the manager must not be the requester, the target or an approver of the
// request; a frozen target gets none. An open attestation of the same request is
// withdrawn, so only the latest message counts.
func (s *Service) StartAttestation(ctx context.Context, in NewAttestation) (Attestation, error) {
	in.Agent, in.Manager = in.Agent.normalized(), in.Manager.normalized()
	a, err := s.startAttestation(ctx, in)
	if err != nil {
		s.recordRefusal(ctx, "ask the manager to attest", in.Agent, in.RequestID, a.Action, a.Target, err)
		return a, fmt.Errorf("start a manager attestation for %s: %w", clip(in.RequestID, 40), err)
	}
	return a, nil
}

// Attestable refuses a request no manager can attest for: a bulk request names many
// users and has no one manager (its second approver stands in, see submitBulk). The
// bot asks it before it looks the target up, so the answer names the real cause.
func Attestable(r Request) *Error {
	if r.Bulk != nil {
		return refusef(ErrInvalid, "Request %s names %d users; a manager attests for one user's request, so this one needs its approvers instead.", r.ID, len(r.Bulk.Users))
	}
	return nil
}

func (s *Service) startAttestation(ctx context.Context, in NewAttestation) (Attestation, error) {
	id, err := ParseID(in.RequestID)
	if err != nil {
		return Attestation{}, err
	}
	if _, ok := normOID(in.Manager.ObjectID); !ok {
		return Attestation{}, refusef(ErrInvalid, "The manager to ask has no directory object id.")
	}
	rnd, err := newID()
	if err != nil {
		return Attestation{}, err
	}
	var a Attestation
	err = s.update(ctx, func(w *wtx) error {
		r, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		a = Attestation{RequestID: r.ID, Action: r.Action, Target: r.Target}
		if r.State != StatePending || !w.now.Before(r.Expires) {
			return refusef(ErrAlreadyDecided, "Request %s is no longer pending; there is nothing left to attest.", r.ID)
		}
		if !sameOID(r.Requester.ObjectID, in.Agent.ObjectID) {
			return refusef(ErrNotRequester, "Only the requester of %s can ask the manager to attest.", r.ID)
		}
		if e := Attestable(r); e != nil {
			return e
		}
		if e, err := frozenRefusal(w.tx, r.Target, w.now); e != nil || err != nil {
			return firstErr(e, err)
		}
		if e := managerConflict(r, in.Manager.ObjectID, in.Manager.String()); e != nil {
			return e
		}
		open, err := openAttestations(w.tx, r.Target.ObjectID)
		if err != nil {
			return err
		}
		for _, o := range open {
			if o.RequestID == r.ID {
				o.State = ConfirmWithdrawn
				if err := putAttestation(w.tx, o); err != nil {
					return err
				}
			}
		}
		a = Attestation{
			ID: attestPrefix + strings.TrimPrefix(rnd, idPrefix), RequestID: r.ID, Action: r.Action, Ticket: r.Ticket,
			Target: r.Target, Agent: r.Requester, Manager: in.Manager,
			Created: w.now, Expires: w.now.Add(s.policy.ConfirmTTL), State: ConfirmOpen,
		}
		if err := putAttestation(w.tx, a); err != nil {
			return err
		}
		return w.audit(Event{Kind: EventAttestSent, RequestID: r.ID, Action: r.Action, Actor: in.Agent, Target: r.Target,
			Detail: clip(fmt.Sprintf("the manager, %s, was asked to attest; expires %s", in.Manager, fmtTime(a.Expires)), maxShort)})
	})
	return a, err
}

// managerConflict is the one home of the third-person rule: the manager who attests
// is not the requester, not the target and not an approver (any decision) of r.
func managerConflict(r Request, managerOID, name string) *Error {
	switch {
	case sameOID(managerOID, r.Requester.ObjectID):
		return refusef(ErrManagerConflict, "The manager of %s, %s, is the requester of %s, so they cannot also vouch for the user.", r.Target, name, r.ID)
	case sameOID(managerOID, r.Target.ObjectID):
		return refusef(ErrManagerConflict, "The manager named for %s, %s, is that user, who cannot vouch for themselves.", r.ID, name)
	}
	for _, d := range r.Decisions {
		if sameOID(managerOID, d.By.ObjectID) {
			return refusef(ErrManagerConflict, "The manager of %s, %s, decided %s as an approver, so they cannot also vouch for the user.", r.Target, name, r.ID)
		}
	}
	return nil
}

// Attest records the manager's attestation. It counts only when by (the clicker's
// chat identity, resolved by the caller rule) is the manager it was sent to, while it
// is open, unexpired and its request pending, and when the manager is still a third
// person. line says how they verified; phone numbers are masked before it is stored.
func (s *Service) Attest(ctx context.Context, id string, by Actor, line string) (Attestation, Request, error) {
	by = by.normalized()
	a, r, err := s.attest(ctx, id, by, line)
	if err != nil {
		s.recordRefusal(ctx, "attest "+clip(id, 40), by, a.RequestID, a.Action, a.Target, err)
		return a, r, fmt.Errorf("attest %s: %w", clip(id, 40), err)
	}
	return a, r, nil
}

func (s *Service) attest(ctx context.Context, id string, by Actor, line string) (Attestation, Request, error) {
	line = actions.MaskPhones(clip(strings.Join(strings.Fields(line), " "), maxShort))
	if line == "" {
		return Attestation{}, Request{}, refusef(ErrInvalid, "Say how you verified it is them.")
	}
	var (
		a Attestation
		r Request
	)
	err := s.update(ctx, func(w *wtx) error {
		cur, err := loadAttestation(w.tx, id)
		if err != nil {
			return err
		}
		a = cur
		if _, ok := normOID(by.ObjectID); !ok || !sameOID(by.ObjectID, cur.Manager.ObjectID) {
			return refusef(ErrNotManager, "Only %s, who was asked, can attest for %s; nothing was changed.", cur.Manager, cur.Target)
		}
		if cur.State != ConfirmOpen {
			return refusef(ErrConfirmationUsed, "This attestation was already %s; nothing was changed.", cur.State)
		}
		if !w.now.Before(cur.Expires) {
			return refusef(ErrExpired, "This attestation expired at %s; ask the helpdesk agent to send a new one.", fmtTime(cur.Expires))
		}
		if r, err = loadRequest(w.tx, cur.RequestID); err != nil {
			return err
		}
		if r.State != StatePending || !w.now.Before(r.Expires) {
			return refusef(ErrConfirmationUsed, "Request %s is no longer waiting for your attestation; nothing was changed.", r.ID)
		}
		if e, err := frozenRefusal(w.tx, r.Target, w.now); e != nil || err != nil {
			return firstErr(e, err)
		}
		if e := managerConflict(r, by.ObjectID, cur.Manager.String()); e != nil {
			return e
		}
		cur.State, cur.By, cur.Line, cur.Answered = ConfirmConfirmed, by, line, w.now
		if err := putAttestation(w.tx, cur); err != nil {
			return err
		}
		a = cur
		r.Performed = append(r.Performed, Performed{Method: MethodManagerAttestation, At: w.now, Platform: by.Platform,
			ChatID: by.ChatID, ObjectID: by.ObjectID, Name: cur.Manager.DisplayName + " (" + cur.Manager.UPN + ")", Line: line})
		if err := w.save(&r); err != nil {
			return err
		}
		return w.audit(Event{Kind: EventAttested, RequestID: r.ID, Action: r.Action, Actor: by, Target: r.Target,
			Detail: clip(fmt.Sprintf("the manager, %s, attested in %s: %q", cur.Manager, by.Platform, line), maxText)})
	})
	return a, r, err
}

// Attestation returns a stored attestation.
func (s *Service) Attestation(ctx context.Context, id string) (Attestation, error) {
	var a Attestation
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		a, err = loadAttestation(tx, id)
		return err
	})
	return a, err
}

// attestedRefusal applies the attestation rules the chain holds to r: an approver of
// r who attested for it makes the approval not count (at approval, with the approval
// being given, and at the claim). ok reports whether a valid attestation, by a
// manager who is neither requester, target nor approver, is in events.
func attestedRefusal(r Request, events []Event) (ok bool, e *Error) {
	for _, ev := range events {
		if ev.Kind != EventAttested {
			continue
		}
		if c := managerConflict(r, ev.Actor.ObjectID, ev.Actor.String()); c != nil {
			for _, d := range r.Approvals() {
				if sameOID(d.By.ObjectID, ev.Actor.ObjectID) {
					return false, refusef(ErrManagerConflict, "The approval of %s by %s does not count: they attested for %s as the manager, and one person cannot both vouch and approve.", r.ID, d.By, r.Target)
				}
			}
			continue // a conflicted attestation is no evidence
		}
		ok = true
	}
	return ok, nil
}

func putAttestation(tx Tx, a Attestation) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode attestation %s: %w", a.ID, err)
	}
	if err := tx.Put(bucketConfirm, []byte(a.ID), b); err != nil {
		return fmt.Errorf("store attestation %s: %w", a.ID, err)
	}
	return nil
}

func loadAttestation(tx Tx, id string) (Attestation, error) {
	id = strings.TrimSpace(id)
	if !strings.HasPrefix(id, attestPrefix) || len(id) != len(attestPrefix)+idChars {
		return Attestation{}, refusef(ErrInvalid, "That is not an attestation id.")
	}
	b := tx.Get(bucketConfirm, []byte(id))
	if b == nil {
		return Attestation{}, refusef(ErrNotFound, "There is no attestation %s.", id)
	}
	var a Attestation
	if err := json.Unmarshal(b, &a); err != nil {
		return Attestation{}, fmt.Errorf("load attestation %s: %w", id, err)
	}
	return a, nil
}

// openAttestations lists the open attestations about a target.
func openAttestations(tx Tx, targetOID string) ([]Attestation, error) {
	var out []Attestation
	err := tx.Scan(bucketConfirm, []byte(attestPrefix), func(k, v []byte) (bool, error) {
		if !strings.HasPrefix(string(k), attestPrefix) {
			return false, nil
		}
		var a Attestation
		if err := json.Unmarshal(v, &a); err != nil {
			return false, fmt.Errorf("load attestation %s: %w", k, err)
		}
		if a.State == ConfirmOpen && sameOID(a.Target.ObjectID, targetOID) {
			out = append(out, a)
		}
		return true, nil
	})
	return out, err
}
