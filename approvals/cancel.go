package approvals

// Closing a pending request without running it: cancel by its requester, expiry.

import (
	"context"
	"fmt"
	"time"
)

// Cancel withdraws a pending request; only its requester may.
func (s *Service) Cancel(ctx context.Context, id string, by Actor) (Request, error) {
	by = by.normalized()
	r, err := s.cancel(ctx, id, by)
	if err != nil {
		rid := r.ID
		if rid == "" {
			rid, _ = ParseID(id)
		}
		s.recordRefusal(ctx, "cancel", by, rid, r.Action, r.Target, err)
		return r, fmt.Errorf("cancel %s: %w", clip(id, 40), err)
	}
	return r, nil
}

func (s *Service) cancel(ctx context.Context, rawID string, by Actor) (Request, error) {
	id, err := ParseID(rawID)
	if err != nil {
		return Request{}, err
	}
	var r Request
	err = s.update(ctx, func(w *wtx) error {
		cur, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		r = cur
		if !sameOID(by.ObjectID, cur.Requester.ObjectID) {
			return refusef(ErrNotRequester, "Only the requester, %s, can cancel request %s.", cur.Requester, cur.ID)
		}
		switch {
		case cur.State == StatePending && !w.now.Before(cur.Expires):
			r, err = w.expire(cur, "cancellation arrived after it expired")
			w.after = expiredError(cur)
			return err
		case cur.State == StateExpired:
			return expiredError(cur)
		case cur.State != StatePending:
			return alreadyDecided(cur)
		}
		cur.State = StateCancelled
		if err := w.save(&cur); err != nil {
			return err
		}
		r = cur
		return w.audit(Event{Kind: EventCancelled, RequestID: cur.ID, Action: cur.Action, State: cur.State,
			Actor: by, Target: cur.Target})
	})
	return r, err
}

// Sweep marks every pending request past its expiry as expired, and stops every bulk
// run paused for Continue longer than an approval is valid (its users would otherwise
// stay blocked for new requests), and returns them, so the bot can update their cards.
func (s *Service) Sweep(ctx context.Context) ([]Request, error) {
	// Look first in a read transaction: most sweeps find nothing, and a write
	// transaction would take the writer lock and an fsync every interval for it.
	var due []string
	now := s.now()
	err := s.store.View(ctx, func(tx Tx) error {
		open, err := loadOpen(tx)
		if err != nil {
			return err
		}
		for _, r := range open {
			if sweepDue(r, now, s.policy.TTL) {
				due = append(due, r.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sweep expired requests: %w", err)
	}
	if len(due) == 0 {
		return nil, nil
	}
	var out []Request
	for len(due) > 0 {
		// A few per transaction: etcd caps the operations of one (--max-txn-ops,
		// 128 by default), and a sweep after downtime may find many.
		batch := due[:min(len(due), sweepBatch)]
		due = due[len(batch):]
		n := len(out)
		err = s.update(ctx, func(w *wtx) error {
			out = out[:n]
			for _, id := range batch {
				r, err := loadRequest(w.tx, id)
				if err != nil {
					return err
				}
				if !sweepDue(r, w.now, s.policy.TTL) {
					continue
				}
				if r.State == StatePaused {
					m, err := readBulkMeta(w.tx, id)
					if err != nil {
						return err
					}
					if m.Released || m.Stopped {
						continue // Continue or Stop was pressed in time; the run moves on
					}
					if r, err = w.stopPaused(r, m, Actor{}, "stopped: nobody pressed Continue while the approval was valid"); err != nil {
						return err
					}
				} else if r, err = w.expire(r, "expired while pending"); err != nil {
					return err
				}
				out = append(out, r)
			}
			return nil
		})
		if err != nil {
			return out[:n], fmt.Errorf("sweep expired requests: %w", err)
		}
	}
	return out, nil
}

// Run sweeps expired requests at once and then every interval, until ctx ends. The
// bot learns of expiries through OnChange.
func (s *Service) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("sweep interval %s is not positive", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweep expired requests", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sweepDue says whether the sweeper should end r at now: pending past its expiry, or a
// bulk run paused for Continue past pauseEnds.
func sweepDue(r Request, now time.Time, ttl time.Duration) bool {
	switch r.State {
	case StatePending:
		return !now.Before(r.Expires)
	case StatePaused:
		return r.Bulk != nil && !now.Before(pauseEnds(r, ttl))
	}
	return false
}

// expire moves a pending request to expired and audits it as done by mfadesk.
func (w *wtx) expire(r Request, detail string) (Request, error) {
	r.State = StateExpired
	if err := w.save(&r); err != nil {
		return r, err
	}
	return r, w.audit(Event{Kind: EventExpired, RequestID: r.ID, Action: r.Action, State: r.State,
		Target: r.Target, Detail: joinDetail("expired at "+fmtTime(r.Expires), detail)})
}

// openFor returns the open request about a target, expiring it on the way if it is
// pending past its expiry (so a stale request does not block a new one until the
// sweeper comes by).
func (w *wtx) openFor(targetOID string) (Request, bool, error) {
	r, found, err := openRequest(w.tx, targetOID)
	if err != nil || !found {
		return Request{}, false, err
	}
	if stalePending(r, w.now) {
		_, err := w.expire(r, "noticed when a new request about the same user was filed")
		return Request{}, false, err
	}
	return r, true, nil
}

// sweepBatch is how many requests one sweep transaction expires at most.
const sweepBatch = 16
