package approvals

import (
	"context"
	"sync"
	"time"
)

// limiter adapts a bulk run's concurrency to the directory's throttling: it halves
// the users in flight on a 429 (once per Retry-After window, so one burst of 429s
// from workers already in flight counts once), starts nobody new until the named
// Retry-After has passed, and adds one user in flight after each window's worth of
// successes (additive increase, multiplicative decrease).
type limiter struct {
	mu        sync.Mutex
	max       int
	limit     float64
	inFlight  int
	notBefore time.Time
	lastCut   time.Time
	changed   chan struct{}
	p         *progress
}

// minCutGap keeps a burst of 429s with no Retry-After from cutting more than once.
const minCutGap = 250 * time.Millisecond

func newLimiter(max int, p *progress) *limiter {
	l := &limiter{max: max, limit: float64(max), changed: make(chan struct{}), p: p}
	p.setConcurrency(max, false)
	return l
}

// wake tells waiting workers to look again. Callers hold mu.
func (l *limiter) wake() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// acquire waits until a worker may start a user: fewer in flight than the limit and
// past any Retry-After.
func (l *limiter) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		now := time.Now()
		if now.Before(l.notBefore) {
			wait, ch := l.notBefore.Sub(now), l.changed
			l.mu.Unlock()
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			case <-ch:
				t.Stop()
			}
			continue
		}
		if l.inFlight < max(1, int(l.limit)) {
			l.inFlight++
			l.mu.Unlock()
			return nil
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// release ends one user; a success grows the limit by 1/limit (one per round).
func (l *limiter) release(ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	if ok && l.limit < float64(l.max) {
		l.limit = min(float64(l.max), l.limit+1/l.limit)
		l.p.setConcurrency(int(l.limit), false)
	}
	l.wake()
}

// throttled is the throttle observer: Graph answered 429 with retryAfter.
func (l *limiter) throttled(retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if until := now.Add(retryAfter); until.After(l.notBefore) {
		l.notBefore = until
	}
	if now.Sub(l.lastCut) >= max(retryAfter, minCutGap) {
		l.limit = max(1, l.limit/2)
		l.lastCut = now
	}
	l.p.setConcurrency(int(l.limit), true)
	l.wake()
}
