package approvals

// Filing a request: the form, the caller, the target and the rate limit.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// Submit files a request after checking the requester, the form, the target and the
// limits. A refusal is an *Error (audited unless ErrInvalid) and stores no request.
func (s *Service) Submit(ctx context.Context, in NewRequest) (Request, error) {
	in = in.normalized()
	r, err := s.submit(ctx, in)
	if err != nil {
		s.recordRefusal(ctx, "file a "+string(in.Action)+" request", in.Requester, "", in.Action, in.Target, err)
		return Request{}, fmt.Errorf("file %s request for %s: %w", in.Action, in.Target, err)
	}
	return r, nil
}

func (s *Service) submit(ctx context.Context, in NewRequest) (Request, error) {
	if err := in.validate(s.policy); err != nil {
		return Request{}, err
	}
	in = in.masked()
	if in.Bulk != nil {
		return s.submitBulk(ctx, in)
	}
	prot, needed, err := s.checkFiling(ctx, in.Action, in.Requester, in.Target, in.Verification)
	if err != nil {
		return Request{}, err
	}
	id, err := newID()
	if err != nil {
		return Request{}, err
	}
	var r Request
	err = s.update(ctx, func(w *wtx) error {
		open, found, err := w.openFor(in.Target.ObjectID)
		if err != nil {
			return err
		}
		if found {
			return openRequestRefusal(open)
		}
		if e, err := frozenRefusal(w.tx, in.Target, w.now); e != nil || err != nil {
			return firstErr(e, err)
		}
		if err := s.checkRate(w.tx, w.now, in.Requester.ObjectID); err != nil {
			return err
		}
		verified, err := consumeVerification(w, in.Target.ObjectID, in.Requester.ObjectID, s.policy.ConfirmTTL)
		if err != nil {
			return err
		}
		if w.tx.Get(bucketRequests, []byte(id)) != nil {
			return fmt.Errorf("request id %s already exists", id) // 2^-128: a broken random source
		}
		r = Request{
			ID: id, Action: in.Action, Target: in.Target, Methods: in.Methods, TAP: in.TAP,
			Requester: in.Requester, Reason: in.Reason, Verification: in.Verification,
			Ticket: in.Ticket, Created: w.now, Expires: w.now.Add(s.policy.TTL),
			State: StatePending, Protection: prot, ApprovalsNeeded: needed, Risk: in.Risk,
		}
		if verified != nil {
			r.Performed = []Performed{*verified}
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
		detail := fmt.Sprintf("reason: %s; ticket: %s; approvals needed: %d", r.Reason, r.Ticket, r.ApprovalsNeeded)
		if r.Verification.Method != "" {
			// The free-text detail stays in the record (and under the digest): it may
			// hold a phone number, and audit lines go to a channel.
			detail += "; verified by " + string(r.Verification.Method)
		}
		if len(r.Methods) > 0 {
			detail += fmt.Sprintf("; %d methods in snapshot", len(r.Methods))
		}
		if verified != nil {
			detail += "; confirmed by the user before filing"
		}
		if r.TAP != nil {
			detail += "; " + r.TAP.describe()
		}
		return w.audit(Event{Kind: EventCreated, RequestID: r.ID, Action: r.Action, State: r.State,
			Actor: r.Requester, Target: r.Target, Detail: detail, Digest: digest})
	})
	if err != nil {
		return Request{}, err
	}
	return r, nil
}

// openRequestRefusal refuses a new request about a target that has an open one,
// saying what can be done about it: a pending one can be decided or cancelled, an
// approved or executing one is being carried out.
func openRequestRefusal(open Request) *Error {
	if open.State == StatePending {
		return refusef(ErrOpenRequestExists, "Request %s about %s is already pending; decide or cancel it before filing another.", open.ID, open.Target)
	}
	return refusef(ErrOpenRequestExists, "Request %s about %s is approved and being carried out; wait for its result before filing another.", open.ID, open.Target)
}

// checkRate counts the requester's requests filed within the window, from the stored
// index, so the limit holds across restarts.
func (s *Service) checkRate(tx Tx, now time.Time, requesterOID string) error {
	// A request filed exactly one window ago no longer counts, so "try again after
	// T" is true at T.
	since := now.Add(-s.policy.RateWindow + 1)
	prefix := []byte(requesterOID + "/")
	count := 0
	var oldest time.Time
	err := tx.Scan(bucketByRequester, requesterKey(requesterOID, since, ""), func(k, _ []byte) (bool, error) {
		if !bytes.HasPrefix(k, prefix) {
			return false, nil
		}
		if count == 0 && len(k) >= len(prefix)+8 {
			oldest = time.Unix(0, int64(binary.BigEndian.Uint64(k[len(prefix):])))
		}
		count++
		return count < s.policy.RateLimit, nil
	})
	if err != nil {
		return fmt.Errorf("count recent requests: %w", err)
	}
	if count >= s.policy.RateLimit {
		return refusef(ErrRateLimited, "You have filed %d requests in the last %s, which is the limit; try again after %s.",
			count, fmtWindow(s.policy.RateWindow), fmtTime(oldest.Add(s.policy.RateWindow)))
	}
	return nil
}

func requesterKey(oid string, created time.Time, id string) []byte {
	ns := created.UnixNano()
	if ns < 0 {
		ns = 0
	}
	k := append([]byte(oid+"/"), seqKey(uint64(ns))...)
	return append(k, id...)
}
