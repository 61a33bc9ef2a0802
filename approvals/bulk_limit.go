package approvals

import (
	"context"
	"sync"
	"time"
)

// limiter paces a bulk run's directory calls to what the directory allows. It starts
// unpaced; on a 429 it sets its pace to cutTo of the calls answered (not 429) per
// second of the time it was sending, since the last Retry-After silence ended (the best
// estimate of the limit there is), and lets nobody call until the named Retry-After
// has passed; a burst of 429s from calls already in flight cuts once. Counting the
// silence as sending time would halve the estimate after every Retry-After.
// A 429 within moments of the start (or of a silence's end) says only that a burst of
// that many calls fit: the pace starts there and probes upwards by recoverBy a second
// until a 429 after a longer stretch gives a real estimate. After quietFor without a
// 429 it raises the pace by raiseBy a second, to find a limit that grew; each probe
// that finds the limit costs a Retry-After of silence, so it probes rarely
// (BenchmarkBulk1000 measures the throughput against the limit). It paces calls rather
// than users because a user's re-register is several calls and Graph limits calls; the
// users in flight follow, each worker waiting for its call's slot.
type limiter struct {
	mu        sync.Mutex
	rate      float64 // calls per second; 0 = unpaced
	next      time.Time
	notBefore time.Time
	lastCut   time.Time
	lastRaise time.Time
	resumed   time.Time   // when the last Retry-After silence ends
	probing   bool        // the pace is a burst's lower bound, not an estimate
	peak      float64     // the highest estimate of the limit seen
	began     time.Time   // the first call
	completed []time.Time // calls answered, not with 429, in the last second
	throttles []time.Time // 429s in the last second
	p         *progress
}

const (
	// minCutGap keeps a burst of 429s with no Retry-After from cutting more than once.
	minCutGap = 250 * time.Millisecond
	cutTo     = 0.97
	quietFor  = 60 * time.Second
	raiseBy   = 1.005
	// minEstimate is the fewest successful calls in a second that estimate a limit: a
	// storm of 429s with (almost) nothing succeeding says nothing about the limit, so it
	// halves the pace (or, unpaced, only waits for Retry-After) instead of setting the
	// pace to nearly nothing.
	minEstimate = 10
	// Below recoverBelow of the best estimate, or while probing, the pace grows by
	// recoverBy a second once a second has passed without a 429: a storm's cuts are
	// undone in seconds.
	recoverBelow = 0.5
	recoverBy    = 1.10
)

func newLimiter(p *progress) *limiter { return &limiter{p: p} }

func trim(ts []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= time.Second {
		i++
	}
	return ts[i:]
}

// Done records a call's end: an answer other than 429 is a call the limit allowed.
func (l *limiter) Done(status int) {
	if status == 0 || status == 429 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.completed = append(trim(l.completed, now), now)
}

// Wait waits for the next call's slot.
func (l *limiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	if quiet := now.Sub(l.lastCut); l.rate > 0 && now.Sub(l.lastRaise) > time.Second {
		switch {
		case (l.probing || l.rate < recoverBelow*l.peak) && quiet > time.Second:
			l.rate, l.lastRaise = l.rate*recoverBy, now
		case quiet > quietFor:
			l.rate, l.lastRaise = l.rate*raiseBy, now
		}
	}
	if l.began.IsZero() {
		l.began = now
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
		l.completed = trim(l.completed, now)
		// The calls answered per second of sending: over the last second, or since the
		// run began or the last silence ended if that is later.
		from := now.Add(-time.Second)
		if l.began.After(from) {
			from = l.began
		}
		if l.resumed.After(from) {
			from = l.resumed
		}
		ok := 0
		for _, t := range l.completed {
			if !t.Before(from) {
				ok++
			}
		}
		span := now.Sub(from)
		switch {
		case ok >= minEstimate && span >= minCutGap:
			est := float64(ok) / span.Seconds()
			l.rate = max(1, cutTo*est)
			l.peak = max(l.peak, est)
			l.probing = false
		case l.rate == 0 && len(l.completed) >= minEstimate:
			// A burst that fit: as many a second is a floor to probe up from.
			l.rate, l.probing = float64(len(l.completed)), true
		case l.rate > 0:
			l.rate = max(1, l.rate/2)
		}
		l.lastCut = now
		l.next = l.notBefore
		l.resumed = l.notBefore
	}
	l.p.setPace(l.rate, true)
}
