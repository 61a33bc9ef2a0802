package approvals

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Target confirmation (number matching). The helpdesk's identity check is otherwise
// only what the agent says they did; a caller who talked an agent into a reset may not
// hold the target's signed-in chat session. mfadesk therefore asks the target
// privately, on a chat session the target still has, to pick from three numbers the
// one the agent sees. A correct pick by the target's own chat identity is performed
// evidence, recorded on the request and in the audit chain; three wrong picks refuse
// the request.

// Evidence strength a policy may require.
type Minimum string

// Minimums.
const (
	// MinimumClaimed accepts what the agent states (one of the verification methods).
	MinimumClaimed Minimum = "claimed"
	// MinimumPerformed requires evidence mfadesk gathered itself (target confirmation).
	MinimumPerformed Minimum = "performed"
)

// DefaultConfirmTTL is how long a target confirmation may be answered.
const DefaultConfirmTTL = 10 * time.Minute

// MaxConfirmFailures is how many wrong picks refuse the request.
const MaxConfirmFailures = 3

// Audit event kinds of the target-confirmation flow.
const (
	EventConfirmSent       EventKind = "target_confirmation_sent"
	EventConfirmed         EventKind = "target_confirmed"
	EventConfirmFailed     EventKind = "target_confirmation_failed"
	EventTargetUnreachable EventKind = "target_unreachable"
)

// Refusal codes of the target-confirmation flow.
const (
	// ErrNotTarget: someone other than the target answered a confirmation or said "This is not me".
	ErrNotTarget Code = "not_target"
	// ErrConfirmationUsed: the confirmation was already answered (a replay) or withdrawn.
	ErrConfirmationUsed Code = "confirmation_used"
	// ErrWrongNumber: the target picked a number the agent does not see.
	ErrWrongNumber Code = "wrong_number"
	// ErrNotConfirmed: the policy wants performed evidence and the request has none.
	ErrNotConfirmed Code = "not_confirmed"
	// ErrFrozen: the target said a request was not theirs and is frozen.
	ErrFrozen Code = "frozen"
)

// ConfirmState is where a confirmation is.
type ConfirmState string

// Confirmation states.
const (
	ConfirmOpen      ConfirmState = "open"
	ConfirmConfirmed ConfirmState = "confirmed"
	ConfirmFailed    ConfirmState = "failed"    // three wrong picks
	ConfirmDenied    ConfirmState = "denied"    // the target said "This is not me"
	ConfirmConsumed  ConfirmState = "consumed"  // an on-demand verification used by a filed request
	ConfirmWithdrawn ConfirmState = "withdrawn" // its request closed before it was answered
)

// Performed is evidence mfadesk gathered itself about who asked.
type Performed struct {
	Method   string    `json:"method"` // number_match or manager_attestation
	At       time.Time `json:"at"`
	Platform string    `json:"platform"`
	ChatID   string    `json:"chat_id,omitempty"`
	ObjectID string    `json:"object_id"`
	// Name and Line are a manager attestation's attester, as the directory names
	// them, and how they verified (phone numbers masked).
	Name string `json:"name,omitempty"`
	Line string `json:"line,omitempty"`
}

// Confirmation is one number-matching challenge sent to a target. Answer is the
// number the agent sees; it is stored (the challenge must be checkable after a
// restart) but never written to the audit log or to the target's message.
type Confirmation struct {
	ID        string       `json:"id"`
	RequestID string       `json:"request_id,omitempty"` // empty for `verify` before filing
	Action    Action       `json:"action,omitempty"`
	Ticket    string       `json:"ticket,omitempty"`
	Target    Target       `json:"target"`
	Agent     Actor        `json:"agent"`
	Choices   []int        `json:"choices"`
	Answer    int          `json:"answer"`
	Created   time.Time    `json:"created"`
	Expires   time.Time    `json:"expires"`
	Failures  int          `json:"failures,omitempty"`
	State     ConfirmState `json:"state"`
	By        Actor        `json:"by,omitzero"`
	Answered  time.Time    `json:"answered,omitzero"`
}

const (
	bucketConfirm  = "confirmations"
	confirmPrefix  = "C-"
	verifiedPrefix = "verified/"
)

// NewConfirmation is what the bot asks for: a challenge about a filed request, or
// (RequestID empty) an on-demand verification before filing.
type NewConfirmation struct {
	RequestID string
	Action    Action
	Ticket    string
	Target    Target
	Agent     Actor
}

// StartConfirmation creates a challenge. For a filed request the agent must be its
// requester and the request still pending; a frozen target gets none.
func (s *Service) StartConfirmation(ctx context.Context, in NewConfirmation) (Confirmation, error) {
	in.Target, in.Agent = in.Target.normalized(), in.Agent.normalized()
	c, err := s.startConfirmation(ctx, in)
	if err != nil {
		s.recordRefusal(ctx, "ask the user to confirm", in.Agent, in.RequestID, in.Action, in.Target, err)
		return Confirmation{}, fmt.Errorf("start a confirmation for %s: %w", in.Target, err)
	}
	return c, nil
}

func (s *Service) startConfirmation(ctx context.Context, in NewConfirmation) (Confirmation, error) {
	if _, ok := normOID(in.Target.ObjectID); !ok {
		return Confirmation{}, refusef(ErrInvalid, "The user to confirm has no directory object id.")
	}
	if _, ok := normOID(in.Agent.ObjectID); !ok {
		return Confirmation{}, refusef(ErrNotRequester, "Your chat account is not linked to a directory user, so you cannot ask a user to confirm.")
	}
	if sameOID(in.Agent.ObjectID, in.Target.ObjectID) {
		return Confirmation{}, refusef(ErrTargetIsActor, "You cannot verify yourself.")
	}
	if in.RequestID == "" {
		// A request's requester was checked when it was filed; an on-demand
		// verification is checked here.
		if err := s.requireMember(ctx, in.Agent.ObjectID, s.policy.HelpdeskGroupID, ErrNotRequester,
			"Only members of the helpdesk group can ask a user to confirm."); err != nil {
			return Confirmation{}, err
		}
	}
	choices, answer, err := numberChallenge()
	if err != nil {
		return Confirmation{}, err
	}
	rnd, err := newID()
	if err != nil {
		return Confirmation{}, err
	}
	var c Confirmation
	err = s.update(ctx, func(w *wtx) error {
		if e, err := frozenRefusal(w.tx, in.Target, w.now); e != nil || err != nil {
			return firstErr(e, err)
		}
		if in.RequestID == "" {
			// One open verification per agent and user: a user is not to be
			// flooded with prompts until they click one to make them stop.
			open, err := openConfirmations(w.tx, in.Target.ObjectID)
			if err != nil {
				return err
			}
			for _, o := range open {
				if o.RequestID == "" && sameOID(o.Agent.ObjectID, in.Agent.ObjectID) && w.now.Before(o.Expires) {
					return refusef(ErrRateLimited, "You already asked %s to confirm; that message is valid until %s.", in.Target, fmtTime(o.Expires))
				}
			}
		}
		if in.RequestID != "" {
			r, err := loadRequest(w.tx, in.RequestID)
			if err != nil {
				return err
			}
			if r.State != StatePending {
				return refusef(ErrAlreadyDecided, "Request %s is %s; there is nothing left to confirm.", r.ID, r.State)
			}
			if !sameOID(r.Target.ObjectID, in.Target.ObjectID) || !sameOID(r.Requester.ObjectID, in.Agent.ObjectID) {
				return refusef(ErrNotRequester, "Only the requester of %s can ask its user to confirm.", r.ID)
			}
			in.Action, in.Ticket, in.Target = r.Action, r.Ticket, r.Target
		}
		c = Confirmation{
			ID: confirmPrefix + strings.TrimPrefix(rnd, idPrefix), RequestID: in.RequestID, Action: in.Action,
			Ticket: clip(in.Ticket, maxShort), Target: in.Target, Agent: in.Agent, Choices: choices, Answer: answer,
			Created: w.now, Expires: w.now.Add(s.policy.ConfirmTTL), State: ConfirmOpen,
		}
		if err := putConfirmation(w.tx, c); err != nil {
			return err
		}
		what := "verification before filing"
		if c.RequestID != "" {
			what = "confirmation of " + string(c.Action)
		}
		return w.audit(Event{Kind: EventConfirmSent, RequestID: c.RequestID, Action: c.Action, Actor: c.Agent, Target: c.Target,
			Detail: fmt.Sprintf("%s sent, expires %s", what, fmtTime(c.Expires))})
	})
	return c, err
}

// numberChallenge returns three distinct two-digit numbers and the one the agent sees.
func numberChallenge() ([]int, int, error) {
	var out []int
	for len(out) < 3 {
		n, err := rand.Int(rand.Reader, big.NewInt(90))
		if err != nil {
			return nil, 0, fmt.Errorf("draw a confirmation number: %w", err)
		}
		v := int(n.Int64()) + 10
		dup := false
		for _, o := range out {
			dup = dup || o == v
		}
		if !dup {
			out = append(out, v)
		}
	}
	i, err := rand.Int(rand.Reader, big.NewInt(3))
	if err != nil {
		return nil, 0, fmt.Errorf("draw a confirmation number: %w", err)
	}
	return out, out[i.Int64()], nil
}

// Answer records the target's pick. It counts only when by (the clicker's chat
// identity, resolved by the caller rule) is the target. A wrong pick is a failed
// attempt, committed and audited; the third refuses the request. A confirmation is
// single-use and expires; a replay, a late answer or another person's click is
// refused and changes nothing. It returns the confirmation and, when it is bound to
// one, the request as it now is.
func (s *Service) Answer(ctx context.Context, id string, by Actor, pick int) (Confirmation, Request, error) {
	by = by.normalized()
	c, r, err := s.answer(ctx, id, by, pick)
	if err != nil {
		if CodeOf(err) != ErrWrongNumber { // a wrong pick was audited in its own commit
			s.recordRefusal(ctx, "answer confirmation "+clip(id, 40), by, c.RequestID, c.Action, c.Target, err)
		}
		return c, r, fmt.Errorf("answer confirmation %s: %w", clip(id, 40), err)
	}
	return c, r, nil
}

func (s *Service) answer(ctx context.Context, id string, by Actor, pick int) (Confirmation, Request, error) {
	var (
		c Confirmation
		r Request
	)
	err := s.update(ctx, func(w *wtx) error {
		cur, err := loadConfirmation(w.tx, id)
		if err != nil {
			return err
		}
		c = cur
		if e := checkAnswerer(cur, by, w.now); e != nil {
			return e
		}
		if cur.RequestID != "" {
			if r, err = loadRequest(w.tx, cur.RequestID); err != nil {
				return err
			}
			if r.State != StatePending || !w.now.Before(r.Expires) {
				return refusef(ErrConfirmationUsed, "Request %s is no longer waiting for your confirmation; nothing was changed.", r.ID)
			}
		}
		if pick != cur.Answer {
			cur.Failures++
			left := MaxConfirmFailures - cur.Failures
			detail := fmt.Sprintf("wrong number picked (%d of %d)", cur.Failures, MaxConfirmFailures)
			if left <= 0 {
				cur.State = ConfirmFailed
			}
			if err := putConfirmation(w.tx, cur); err != nil {
				return err
			}
			c = cur
			if err := w.audit(Event{Kind: EventConfirmFailed, RequestID: cur.RequestID, Action: cur.Action, Actor: by, Target: cur.Target,
				Code: ErrWrongNumber, Detail: detail}); err != nil {
				return err
			}
			if left > 0 {
				w.after = refusef(ErrWrongNumber, "That is not the number the helpdesk agent sees; %d tries left.", left)
				return nil
			}
			if cur.RequestID != "" {
				r.State = StateDenied
				if err := w.save(&r); err != nil {
					return err
				}
				if err := w.audit(Event{Kind: EventDenied, RequestID: r.ID, Action: r.Action, State: r.State, Target: r.Target,
					Detail: fmt.Sprintf("refused by mfadesk: the user picked the wrong number %d times", MaxConfirmFailures)}); err != nil {
					return err
				}
			}
			w.after = refusef(ErrWrongNumber, "That was the last try, so the request was refused; call the helpdesk if you did ask for it.")
			return nil
		}
		cur.State, cur.By, cur.Answered = ConfirmConfirmed, by, w.now
		if err := putConfirmation(w.tx, cur); err != nil {
			return err
		}
		c = cur
		detail := fmt.Sprintf("the user confirmed in %s (number match)", by.Platform)
		if cur.RequestID == "" {
			// Bound to this agent and target, for the next request the agent files.
			if err := w.tx.Put(bucketConfirm, verifiedKey(cur.Target.ObjectID, cur.Agent.ObjectID), []byte(cur.ID)); err != nil {
				return fmt.Errorf("store verification %s: %w", cur.ID, err)
			}
		} else {
			r.Performed = append(r.Performed, performedBy(by, w.now))
			if err := w.save(&r); err != nil {
				return err
			}
		}
		return w.audit(Event{Kind: EventConfirmed, RequestID: cur.RequestID, Action: cur.Action, Actor: by, Target: cur.Target, Detail: detail})
	})
	return c, r, err
}

func performedBy(by Actor, at time.Time) Performed {
	return Performed{Method: "number_match", At: at, Platform: by.Platform, ChatID: by.ChatID, ObjectID: by.ObjectID}
}

// checkAnswerer applies the rules every answer (and "This is not me" from a
// confirmation) must pass: the clicker is the target, the confirmation is open and
// not expired.
func checkAnswerer(c Confirmation, by Actor, now time.Time) *Error {
	if _, ok := normOID(by.ObjectID); !ok || !sameOID(by.ObjectID, c.Target.ObjectID) {
		return refusef(ErrNotTarget, "Only %s can answer this confirmation; nothing was changed.", c.Target)
	}
	if c.State != ConfirmOpen {
		return refusef(ErrConfirmationUsed, "This confirmation was already %s; nothing was changed.", c.State)
	}
	if !now.Before(c.Expires) {
		return refusef(ErrExpired, "This confirmation expired at %s; ask the helpdesk agent to send a new one.", fmtTime(c.Expires))
	}
	return nil
}

// consumeVerification attaches an on-demand verification of target by requester,
// confirmed within the confirmation TTL, to a request being filed, and uses it up.
func consumeVerification(w *wtx, target, requester string, ttl time.Duration) (*Performed, error) {
	key := verifiedKey(target, requester)
	id := w.tx.Get(bucketConfirm, key)
	if id == nil {
		return nil, nil
	}
	c, err := loadConfirmation(w.tx, string(id))
	if err != nil {
		return nil, err
	}
	if err := w.tx.Delete(bucketConfirm, key); err != nil {
		return nil, fmt.Errorf("use verification %s: %w", c.ID, err)
	}
	// An answer is evidence about a call in progress: it counts only within the
	// confirmation's lifetime after it was given.
	if c.State != ConfirmConfirmed || !w.now.Before(c.Answered.Add(ttl)) {
		return nil, nil
	}
	c.State = ConfirmConsumed
	if err := putConfirmation(w.tx, c); err != nil {
		return nil, err
	}
	p := performedBy(c.By, c.Answered)
	return &p, nil
}

// Confirmation returns a stored confirmation (the bot renders the agent's number).
func (s *Service) Confirmation(ctx context.Context, id string) (Confirmation, error) {
	var c Confirmation
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		c, err = loadConfirmation(tx, id)
		return err
	})
	return c, err
}

// MarkUnreachable records that the target of a pending request could not be asked
// (no chat account found, app not installed): the request then stands on claimed
// evidence alone, which the policy accepts only with two approvers.
func (s *Service) MarkUnreachable(ctx context.Context, id, why string) (Request, error) {
	var r Request
	err := s.update(ctx, func(w *wtx) error {
		cur, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		if cur.State != StatePending {
			return refusef(ErrAlreadyDecided, "Request %s is %s.", cur.ID, cur.State)
		}
		r = cur
		detail := "the user could not be asked to confirm (" + clip(why, maxShort) + ")"
		// Only where the policy wants performed evidence does the lack of it cost a
		// second approver (and change the card); a claimed minimum is met by the
		// agent's statement, so the event is only audited.
		if s.policy.minimumFor(cur.Action, cur.Protection.Protected) == MinimumPerformed {
			cur.Unreachable = clip(why, maxShort)
			cur.ApprovalsNeeded = max(cur.ApprovalsNeeded, 2)
			detail += "; two approvals needed"
			if err := w.save(&cur); err != nil {
				return err
			}
			r = cur
		}
		return w.audit(Event{Kind: EventTargetUnreachable, RequestID: cur.ID, Action: cur.Action, Target: cur.Target, Detail: detail})
	})
	return r, err
}

// minimumFor is the evidence the policy wants for an action and target class.
func (p Policy) minimumFor(a Action, protected bool) Minimum {
	m := p.MinEvidence
	if protected && p.MinEvidenceProtected != nil {
		m = p.MinEvidenceProtected
	}
	if v, ok := m[a]; ok {
		return v
	}
	return MinimumClaimed
}

// DefaultMinEvidence is the evidence minimum mfadesk serves with unless configured:
// a re-register or a temporary access pass hands the account to the caller, so the
// user must have confirmed it themselves.
func DefaultMinEvidence() map[Action]Minimum {
	return map[Action]Minimum{ActionReregister: MinimumPerformed, ActionTAP: MinimumPerformed}
}

// evidenceRefusal is the one home of the evidence rule, applied at approval and
// again at the claim: a request whose policy wants performed evidence has a
// target_confirmed or a valid manager_attested event in the chain, or was marked
// unreachable and has two approvals needed; and, whatever the minimum, no approver
// attested for it. The chain is read rather than the record, which is not hashed.
func (s *Service) evidenceRefusal(tx Tx, r Request) (*Error, error) {
	performed := s.policy.minimumFor(r.Action, r.Protection.Protected) == MinimumPerformed
	if r.Bulk != nil && r.ApprovalsNeeded >= 2 {
		// A set cannot confirm user by user: a second approver stands in, as for a
		// target who cannot be reached (submitBulk requires it).
		performed = false
	}
	// The chain is read whatever the minimum: the record, which is not hashed, cannot
	// be trusted to say whether someone attested.
	events, err := requestEvents(tx, r.ID)
	if err != nil {
		return nil, fmt.Errorf("read the audit events of %s: %w", r.ID, err)
	}
	// An approver who attested as the manager makes the approval not count, whatever
	// the minimum: one person would both vouch and decide.
	attested, e := attestedRefusal(r, events)
	if e != nil || !performed || attested {
		return e, nil
	}
	unreachable := false
	for _, e := range events {
		switch {
		case e.Kind == EventConfirmed && sameOID(e.Actor.ObjectID, r.Target.ObjectID):
			return nil, nil
		case e.Kind == EventCreated && strings.Contains(e.Detail, "; confirmed by the user before filing"):
			return nil, nil
		case e.Kind == EventTargetUnreachable:
			unreachable = true
		}
	}
	if unreachable && r.ApprovalsNeeded >= 2 {
		return nil, nil
	}
	return refusef(ErrNotConfirmed, "Request %s needs %s to confirm it in chat (number match), or their manager to attest, before it can be approved; the agent's claim alone is not enough for %s.",
		r.ID, r.Target, r.Action), nil
}

func verifiedKey(target, agent string) []byte { return []byte(verifiedPrefix + target + "/" + agent) }

func putConfirmation(tx Tx, c Confirmation) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode confirmation %s: %w", c.ID, err)
	}
	if err := tx.Put(bucketConfirm, []byte(c.ID), b); err != nil {
		return fmt.Errorf("store confirmation %s: %w", c.ID, err)
	}
	return nil
}

func loadConfirmation(tx Tx, id string) (Confirmation, error) {
	id = strings.TrimSpace(id)
	if !strings.HasPrefix(id, confirmPrefix) || len(id) != len(confirmPrefix)+idChars {
		return Confirmation{}, refusef(ErrInvalid, "That is not a confirmation id.")
	}
	b := tx.Get(bucketConfirm, []byte(id))
	if b == nil {
		return Confirmation{}, refusef(ErrNotFound, "There is no confirmation %s.", id)
	}
	var c Confirmation
	if err := json.Unmarshal(b, &c); err != nil {
		return Confirmation{}, fmt.Errorf("load confirmation %s: %w", id, err)
	}
	return c, nil
}

// openConfirmations lists the open confirmations about a target.
func openConfirmations(tx Tx, targetOID string) ([]Confirmation, error) {
	var out []Confirmation
	err := tx.Scan(bucketConfirm, []byte(confirmPrefix), func(k, v []byte) (bool, error) {
		if !strings.HasPrefix(string(k), confirmPrefix) {
			return false, nil
		}
		var c Confirmation
		if err := json.Unmarshal(v, &c); err != nil {
			return false, fmt.Errorf("load confirmation %s: %w", k, err)
		}
		if c.State == ConfirmOpen && sameOID(c.Target.ObjectID, targetOID) {
			out = append(out, c)
		}
		return true, nil
	})
	return out, err
}

func firstErr(e *Error, err error) error {
	if e != nil {
		return e
	}
	return err
}

func (p *Policy) normalizeEvidence() error {
	if p.ConfirmTTL < 0 || p.FreezeFor < 0 {
		return fmt.Errorf("confirmation ttl and freeze time must not be negative")
	}
	if p.ConfirmTTL == 0 {
		p.ConfirmTTL = DefaultConfirmTTL
	}
	if p.FreezeFor == 0 {
		p.FreezeFor = DefaultFreezeFor
	}
	for _, m := range []*map[Action]Minimum{&p.MinEvidence, &p.MinEvidenceProtected} {
		if *m == nil {
			continue
		}
		cp := make(map[Action]Minimum, len(*m))
		for a, v := range *m {
			if !a.valid() {
				return fmt.Errorf("evidence minimum names unknown action %q", a)
			}
			if v != MinimumClaimed && v != MinimumPerformed {
				return fmt.Errorf("evidence minimum for %s is %q, neither %q nor %q", a, v, MinimumClaimed, MinimumPerformed)
			}
			cp[a] = v
		}
		*m = cp
	}
	return nil
}

// MinimumFor is the evidence the policy wants for an action and target class: the
// bot asks the manager to attest only where performed evidence is wanted.
func (p Policy) MinimumFor(a Action, protected bool) Minimum { return p.minimumFor(a, protected) }
