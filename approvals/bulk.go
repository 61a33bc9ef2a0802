package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mfadesk/mfadesk/actions"
)

// A bulk run carries one approved action out for many users: the first Canary users,
// then a pause until someone presses Continue (or Stop), then the rest concurrently at
// the pace the directory allows. Each user's outcome is stored in its own transaction
// as it happens, so a run restarted after a crash resumes where it stopped and no user
// with a stored outcome is run again.

const bucketBulk = "bulk"

// Bulk outcomes of one user.
const (
	BulkDone    = "done"
	BulkFailed  = "failed"
	BulkStale   = "stale" // the user's methods changed since approval: nothing was deleted
	BulkStopped = "not attempted"
)

// ErrBulkAwaitingContinue is returned by BulkRunner.Run once the canary users are done
// and nobody has pressed Continue yet.
var ErrBulkAwaitingContinue = errors.New("the canary users are done; waiting for Continue or Stop")

// BulkUser is one user of a bulk run as approved: the methods snapshot is what the
// approver saw for this user.
type BulkUser struct {
	ObjectID    string      `json:"object_id"`
	UPN         string      `json:"upn,omitempty"`
	DisplayName string      `json:"display_name,omitempty"`
	Methods     []MethodRef `json:"methods,omitempty"`
}

// BulkResult is what happened to one user. It is stored, exported and shown: no
// secret, no full phone number.
type BulkResult struct {
	ObjectID string    `json:"object_id"`
	UPN      string    `json:"upn,omitempty"`
	Outcome  string    `json:"outcome"`
	Detail   string    `json:"detail,omitempty"`
	Steps    []Step    `json:"steps,omitempty"`
	At       time.Time `json:"at"`
}

// BulkWork carries the action out for one user. An error while ctx is cancelled is an
// interruption: nothing is stored and the user runs again on resume. Any other error
// is that user's failure only.
type BulkWork func(ctx context.Context, u BulkUser) (BulkResult, error)

// BulkProgress is a run's count so far, for the card.
type BulkProgress struct {
	Total, Done, Failed, Stale int
	Concurrency                int     // users in flight at most
	Pace                       float64 // directory calls per second allowed now; 0 = not limited yet
	Throttled                  int     // 429 answers seen
	Finished                   bool
}

// BulkOptions tune a run.
type BulkOptions struct {
	// Canary is how many users run before the pause (default 2; negative: none).
	Canary int
	// MaxConcurrency bounds the users in flight (default 16).
	MaxConcurrency int
	// OnProgress is called at most every ProgressEvery (default 3 s), and once at the end.
	OnProgress    func(BulkProgress)
	ProgressEvery time.Duration
	Now           func() time.Time
}

type bulkMeta struct {
	Released bool `json:"released,omitempty"`
	Stopped  bool `json:"stopped,omitempty"`
}

// BulkRunner stores and runs bulk runs.
type BulkRunner struct {
	store Store
}

// NewBulkRunner returns a runner over store (the approvals store).
func NewBulkRunner(store Store) *BulkRunner { return &BulkRunner{store: store} }

func bulkKey(id, kind, user string) []byte {
	return []byte(id + "\x00" + kind + "\x00" + user)
}

func (b *BulkRunner) meta(tx Tx, id string) (bulkMeta, error) {
	var m bulkMeta
	if v := tx.Get(bucketBulk, bulkKey(id, "meta", "")); v != nil {
		if err := json.Unmarshal(v, &m); err != nil {
			return m, fmt.Errorf("read bulk run %s: %w", id, err)
		}
	}
	return m, nil
}

func (b *BulkRunner) setMeta(ctx context.Context, id string, fn func(*bulkMeta) error) error {
	return b.store.Update(ctx, func(tx Tx) error {
		m, err := b.meta(tx, id)
		if err != nil {
			return err
		}
		if err := fn(&m); err != nil {
			return err
		}
		v, _ := json.Marshal(m)
		return tx.Put(bucketBulk, bulkKey(id, "meta", ""), v)
	})
}

// Continue lets a run paused after its canary go on; Stop ends it there (and a
// stopped run cannot be continued).
func (b *BulkRunner) Continue(ctx context.Context, id string) error {
	return b.setMeta(ctx, id, func(m *bulkMeta) error {
		if m.Stopped {
			return refusef(ErrInvalid, "Bulk run %s was stopped; file a new request for the remaining users.", id)
		}
		m.Released = true
		return nil
	})
}

// Stop ends a run after the users in flight.
func (b *BulkRunner) Stop(ctx context.Context, id string) error {
	return b.setMeta(ctx, id, func(m *bulkMeta) error { m.Stopped = true; return nil })
}

// Results returns the stored outcome of every user that has one, in key order.
func (b *BulkRunner) Results(ctx context.Context, id string) ([]BulkResult, error) {
	var out []BulkResult
	prefix := bulkKey(id, "user", "")
	err := b.store.View(ctx, func(tx Tx) error {
		return tx.Scan(bucketBulk, prefix, func(k, v []byte) (bool, error) {
			if len(k) < len(prefix) || string(k[:len(prefix)]) != string(prefix) {
				return false, nil
			}
			var r BulkResult
			if err := json.Unmarshal(v, &r); err != nil {
				return false, fmt.Errorf("read result %q: %w", k, err)
			}
			out = append(out, r)
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the results of %s: %w", id, err)
	}
	return out, nil
}

// WriteResults writes the per-user results as JSON lines.
func (b *BulkRunner) WriteResults(ctx context.Context, id string, w io.Writer) error {
	rs, err := b.Results(ctx, id)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("write the results of %s: %w", id, err)
		}
	}
	return nil
}

// record stores one user's outcome unless one is stored already (exactly once).
func (b *BulkRunner) record(ctx context.Context, id string, r BulkResult) (bool, error) {
	r.Detail = clip(actions.MaskPhones(r.Detail), maxText)
	for i := range r.Steps {
		r.Steps[i] = maskStep(r.Steps[i])
	}
	v, err := json.Marshal(r)
	if err != nil {
		return false, fmt.Errorf("encode result of %s: %w", r.ObjectID, err)
	}
	stored := false
	err = b.store.Update(ctx, func(tx Tx) error {
		stored = false
		k := bulkKey(id, "user", r.ObjectID)
		if tx.Get(bucketBulk, k) != nil {
			return nil
		}
		stored = true
		return tx.Put(bucketBulk, k, v)
	})
	return stored, err
}

// Run carries the run out for the users that have no stored outcome yet. Before
// Continue it runs only the first Canary users and then returns
// ErrBulkAwaitingContinue; after Stop it runs nobody. It returns when every user has
// an outcome, or ctx ends (an interruption: Run again to resume).
func (b *BulkRunner) Run(ctx context.Context, id string, users []BulkUser, work BulkWork, o BulkOptions) (BulkProgress, error) {
	if o.Canary == 0 {
		o.Canary = 2
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = 16
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 3 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	seen := map[string]bool{}
	for _, u := range users {
		oid, ok := normOID(u.ObjectID)
		if !ok || seen[oid] {
			return BulkProgress{}, refusef(ErrInvalid, "Bulk run %s lists a user twice or without a valid object id; nothing was run.", id)
		}
		seen[oid] = true
	}
	var m bulkMeta
	done := map[string]BulkResult{}
	err := b.store.View(ctx, func(tx Tx) error {
		var err error
		if m, err = b.meta(tx, id); err != nil {
			return err
		}
		for _, u := range users {
			if v := tx.Get(bucketBulk, bulkKey(id, "user", u.ObjectID)); v != nil {
				var r BulkResult
				if err := json.Unmarshal(v, &r); err != nil {
					return fmt.Errorf("read result of %s: %w", u.ObjectID, err)
				}
				done[u.ObjectID] = r
			}
		}
		return nil
	})
	if err != nil {
		return BulkProgress{}, fmt.Errorf("resume bulk run %s: %w", id, err)
	}
	p := &progress{BulkProgress: BulkProgress{Total: len(users)}, every: o.ProgressEvery, now: o.Now, fn: o.OnProgress}
	for _, r := range done {
		p.count(r)
	}
	if m.Stopped {
		p.finish()
		return p.snapshot(), nil
	}
	todo := func(us []BulkUser) []BulkUser {
		var out []BulkUser
		for _, u := range us {
			if _, ok := done[u.ObjectID]; !ok {
				out = append(out, u)
			}
		}
		return out
	}
	canary := min(max(o.Canary, 0), len(users))
	if !m.Released && canary > 0 {
		// The canary runs one user at a time, as the procedure it automates advises.
		if err := b.runAll(ctx, id, todo(users[:canary]), work, 1, p); err != nil {
			return p.snapshot(), err
		}
		if canary < len(users) {
			p.flush()
			return p.snapshot(), ErrBulkAwaitingContinue
		}
		// The canary was the whole set: done is from before it, so running "the
		// rest" would run the canary users a second time.
		p.finish()
		return p.snapshot(), nil
	}
	if err := b.runAll(ctx, id, todo(users), work, o.MaxConcurrency, p); err != nil {
		return p.snapshot(), err
	}
	p.finish()
	return p.snapshot(), nil
}

// runAll runs users with at most max in flight, fewer while the directory throttles.
func (b *BulkRunner) runAll(ctx context.Context, id string, users []BulkUser, work BulkWork, max int, p *progress) error {
	if len(users) == 0 {
		return nil
	}
	lim := newLimiter(p)
	ctx = actions.WithCallGate(actions.WithThrottleObserver(ctx, lim.throttled), lim)
	p.mu.Lock()
	p.Concurrency = max
	p.mu.Unlock()
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < max; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if ctx.Err() != nil {
					return
				}
				i := int(next.Add(1)) - 1
				if i >= len(users) {
					return
				}
				// A user that was stopped is not started: check the gate per user.
				if stopped, err := b.stopped(ctx, id); err != nil || stopped {
					if err != nil {
						mu.Lock()
						firstErr = errors.Join(firstErr, err)
						mu.Unlock()
					}
					return
				}
				u := users[i]
				r, err := work(ctx, u)
				if err != nil && ctx.Err() != nil {
					return // interrupted: resumed later
				}
				if r.ObjectID == "" {
					r.ObjectID = u.ObjectID
				}
				if r.UPN == "" {
					r.UPN = u.UPN
				}
				if r.Outcome == "" {
					r.Outcome = BulkFailed
					if err != nil {
						r.Detail = err.Error()
						var ae *actions.Error
						if errors.As(err, &ae) {
							r.Detail = actions.Explain(err)
						}
					}
				}
				if r.At.IsZero() {
					r.At = time.Now().UTC()
				}
				stored, serr := b.record(context.WithoutCancel(ctx), id, r)
				if serr != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, fmt.Errorf("store the result of %s: %w", u.ObjectID, serr))
					mu.Unlock()
					return
				}
				if stored {
					p.count(r)
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func (b *BulkRunner) stopped(ctx context.Context, id string) (bool, error) {
	var m bulkMeta
	err := b.store.View(ctx, func(tx Tx) error {
		var err error
		m, err = b.meta(tx, id)
		return err
	})
	return m.Stopped, err
}

// progress counts outcomes and calls the progress hook at most every so often.
type progress struct {
	mu sync.Mutex
	BulkProgress
	every time.Duration
	now   func() time.Time
	last  time.Time
	fn    func(BulkProgress)
}

func (p *progress) count(r BulkResult) {
	p.mu.Lock()
	switch r.Outcome {
	case BulkDone:
		p.Done++
	case BulkStale:
		p.Stale++
	default:
		p.Failed++
	}
	p.mu.Unlock()
	p.maybe()
}

func (p *progress) maybe() {
	p.mu.Lock()
	now := p.now()
	if p.fn == nil || now.Sub(p.last) < p.every {
		p.mu.Unlock()
		return
	}
	p.last = now
	snap := p.BulkProgress
	p.mu.Unlock()
	p.fn(snap)
}

func (p *progress) flush() {
	p.mu.Lock()
	snap := p.BulkProgress
	p.last = p.now()
	p.mu.Unlock()
	if p.fn != nil {
		p.fn(snap)
	}
}

func (p *progress) finish() {
	p.mu.Lock()
	p.Finished = true
	p.mu.Unlock()
	p.flush()
}

func (p *progress) snapshot() BulkProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.BulkProgress
}

func (p *progress) setPace(rate float64, throttled bool) {
	p.mu.Lock()
	p.Pace = rate
	if throttled {
		p.Throttled++
	}
	p.mu.Unlock()
}

// BulkResultsFile writes the per-user results of bulk request id, from the database at
// dbPath, as JSON lines: `mfadesk approvals show --results ID`.
func BulkResultsFile(ctx context.Context, dbPath, id string, w io.Writer) error {
	id, err := ParseID(id)
	if err != nil {
		return err
	}
	return withFile(ctx, dbPath, func(st *BoltStore) error {
		return NewBulkRunner(st).WriteResults(ctx, id, w)
	})
}
