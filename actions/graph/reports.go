package graph

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mfadesk/mfadesk/actions"
)

// reportSources are read from Graph's report and log endpoints (the registration
// report, sign-ins, directory audits), which share one budget: 5 requests per 10 s per
// app per tenant. Requests inside a $batch count one by one.
const reportSources = actions.SourceRegistration | actions.SourceSignIns | actions.SourceAudits

// Defaults of the report budget and cache.
const (
	DefaultReportLimit    = 5
	DefaultReportWindow   = 10 * time.Second
	DefaultMaxQueueWait   = 90 * time.Second
	DefaultReportCacheTTL = 30 * time.Second
)

// Clock is the time source of the report scheduler, the report cache and the write
// path's waits between retries; tests inject one so that nothing really waits.
type Clock interface {
	Now() time.Time
	// At delivers the time once it is t or later. A deadline rather than a duration,
	// so that a virtual clock moved by several waiters at once lands on the right time.
	At(t time.Time) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                  { return time.Now() }
func (wallClock) At(t time.Time) <-chan time.Time { return time.After(time.Until(t)) }

// reportQuota schedules report requests so that Graph never sees more than limit of
// them in any window: one per tenant (a Client serves one tenant). It is a log of
// slots in reservation order; slot i may be sent only once slot i-limit has been
// answered and window has passed since. Answered, not sent: Graph counts a request
// when it arrives, which is at the latest when its answer comes back, so the rule
// holds whatever the network delay. A lookup reserves its slots at once (their times
// are known up front, so it can tell the user how long it will wait) and re-checks
// each before sending, since a slot's predecessor may be answered later than planned.
type reportQuota struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	clock  Clock
	tail   []*slot // the last limit slots reserved, oldest first
}

// slot is one report request's place in the budget.
type slot struct {
	at   time.Time     // planned send time; moved to the answer's time once answered
	pred *slot         // the slot limit places earlier, nil for the first limit slots
	done chan struct{} // closed once answered (or abandoned)
}

func newReportQuota(limit int, window time.Duration, clock Clock) *reportQuota {
	return &reportQuota{limit: limit, window: window, clock: clock}
}

// reserve plans n report requests and returns their slots, earliest first. If the
// last would have to wait more than maxWait it reserves nothing and returns how long
// the wait would be.
func (q *reportQuota) reserve(n int, maxWait time.Duration) ([]*slot, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	tail := append([]*slot(nil), q.tail...)
	out := make([]*slot, 0, n)
	for range n {
		s := &slot{at: now, done: make(chan struct{})}
		if len(tail) > 0 && tail[len(tail)-1].at.After(s.at) {
			s.at = tail[len(tail)-1].at // keep the log in time order
		}
		if len(tail) >= q.limit {
			s.pred = tail[len(tail)-q.limit]
			if t := s.pred.at.Add(q.window); t.After(s.at) {
				s.at = t
			}
		}
		tail = append(tail, s)
		if len(tail) > q.limit {
			tail = tail[1:]
		}
		out = append(out, s)
	}
	if n > 0 {
		if wait := out[n-1].at.Sub(now); wait > maxWait {
			return nil, wait
		}
	}
	q.tail = tail
	return out, 0
}

// due returns when s may be sent, re-checked against its predecessor's answer. While
// that predecessor is unanswered it returns the earliest time s could be due (the
// predecessor's planned time plus the window) and a channel closed on the answer.
func (q *reportQuota) due(s *slot) (time.Time, <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	at := s.at
	p := s.pred
	if p == nil {
		return at, nil
	}
	if t := p.at.Add(q.window); t.After(at) {
		at = t
	}
	select {
	case <-p.done:
		return at, nil
	default:
		return at, p.done
	}
}

// ready reports whether s may be sent now.
func (q *reportQuota) ready(s *slot) bool {
	at, pending := q.due(s)
	return pending == nil && !at.After(q.clock.Now())
}

// wait blocks until s may be sent: first until the earliest time it could be due,
// then, if its predecessor is still unanswered, until it is.
func (q *reportQuota) wait(ctx context.Context, s *slot) error {
	for {
		at, pending := q.due(s)
		now := q.clock.Now()
		if pending == nil && !at.After(now) {
			return nil
		}
		var timer <-chan time.Time
		if at.After(now) {
			timer, pending = q.clock.At(at), nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-pending:
		case <-timer:
		}
	}
}

// answered records that the slots' requests were answered (or abandoned) now; a slot
// answered before keeps its time.
func (q *reportQuota) answered(slots ...*slot) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for _, s := range slots {
		select {
		case <-s.done:
			continue
		default:
		}
		if now.After(s.at) {
			s.at = now
		}
		s.pred = nil // the chain behind an answered slot is no longer needed
		close(s.done)
	}
}

// reportCache keeps report answers briefly, per user, so an agent's follow-up lookup
// (diagnose, then signins or methods) does not spend the tenant's report budget again.
// Any write on a user drops that user's entries (Invalidate); a generation number per
// user keeps a read that was in flight during the write from storing its answer.
type reportCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	clock   Clock
	gen     map[string]uint64
	entries map[string]cached
}

type cached struct {
	body    []byte
	fetched time.Time
}

const maxCachedReports = 4096

func newReportCache(ttl time.Duration, clock Clock) *reportCache {
	return &reportCache{ttl: ttl, clock: clock, gen: map[string]uint64{}, entries: map[string]cached{}}
}

// generation is the user's write generation, to pass to put.
func (c *reportCache) generation(userID string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen[strings.ToLower(userID)]
}

func (c *reportCache) get(userID, key string) (cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[strings.ToLower(userID)+"|"+key]
	if !ok || c.clock.Now().Sub(e.fetched) >= c.ttl {
		return cached{}, false
	}
	return e, true
}

// put stores an answer read at generation gen, unless the user was written since.
func (c *reportCache) put(userID string, gen uint64, key string, e cached) {
	id := strings.ToLower(userID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen[id] != gen {
		return
	}
	if len(c.entries) >= maxCachedReports {
		// Bounded: drop what has expired, and everything if nothing has.
		now := c.clock.Now()
		for k, v := range c.entries {
			if now.Sub(v.fetched) >= c.ttl {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCachedReports {
			c.entries = map[string]cached{}
		}
	}
	c.entries[id+"|"+key] = e
}

func (c *reportCache) invalidate(userID string) {
	id := strings.ToLower(userID)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen[id]++
	for k := range c.entries {
		if strings.HasPrefix(k, id+"|") {
			delete(c.entries, k)
		}
	}
}

// Invalidate drops what the client remembers about a user's reports. Every write
// through this client calls it for the user written (see writeWatch); a write path
// that bypasses the client's HTTP pipeline, or batches writes in a $batch, must call it.
func (c *Client) Invalidate(userID string) {
	if c.cache != nil && userID != "" {
		c.cache.invalidate(userID)
	}
}

// cacheKey names one report answer of a query: the same source read with other
// limits is another entry.
func cacheKey(src actions.Source, q actions.Query) string {
	switch src {
	case actions.SourceSignIns:
		return fmt.Sprintf("signins/%d/%d", q.SignInLast, q.SignInDays)
	case actions.SourceAudits:
		return fmt.Sprintf("audits/%d", q.AuditDays)
	}
	return src.String()
}

// readPOSTs are POST actions on a user that read and change nothing.
var readPOSTs = []string{"/checkMemberGroups", "/checkMemberObjects", "/getMemberGroups", "/getMemberObjects"}

// writeWatch drops the report cache of any user a request writes (POST, PATCH, PUT,
// DELETE on /users/{id}/...), before it is sent and again once it is answered, so
// that neither a lookup after the write nor one that read during it is answered from
// before it. It sits under the middleware, so it sees retries and every write path.
type writeWatch struct {
	next       http.RoundTripper
	invalidate func(userID string)
}

func (t writeWatch) RoundTrip(r *http.Request) (*http.Response, error) {
	id := writtenUser(r)
	if id == "" {
		return t.next.RoundTrip(r)
	}
	t.invalidate(id)
	resp, err := t.next.RoundTrip(r)
	t.invalidate(id)
	return resp, err
}

// writtenUser returns the user a request writes, or "".
func writtenUser(r *http.Request) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return ""
	}
	p := r.URL.Path
	i := strings.Index(p, "/users/")
	if i < 0 {
		return ""
	}
	rest := p[i+len("/users/"):]
	id, tail, _ := strings.Cut(rest, "/")
	for _, s := range readPOSTs {
		if strings.HasSuffix(tail, strings.TrimPrefix(s, "/")) && r.Method == http.MethodPost {
			return ""
		}
	}
	id, _ = url.PathUnescape(id)
	return id
}

// reserveIdle is the report budget's background share, for the watch after a reset:
// it reserves one slot only if the request can be sent at once and still leaves keep
// slots of the window free, and never queues. A lookup therefore never waits behind a
// background request: lookups reserve ahead (they have a person waiting), the
// background reader takes what they leave. Otherwise it returns nil and when trying
// again may succeed.
func (q *reportQuota) reserveIdle(keep int) (*slot, time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	used := 0
	retry := now.Add(q.window / time.Duration(q.limit)) // an unanswered slot: look again soon
	for _, s := range q.tail {
		select {
		case <-s.done:
			if end := s.at.Add(q.window); end.After(now) {
				used++
				retry = minTime(retry, end)
			}
		default:
			used++ // in flight or planned: it counts until answered and a window old
			if s.at.After(now) {
				// A lookup is already queued for the budget: let it go first.
				return nil, s.at.Add(q.window)
			}
		}
	}
	if used+1+keep > q.limit {
		return nil, retry
	}
	if len(q.tail) >= q.limit {
		// The slot limit places back must be answered and a window old, as in reserve.
		p := q.tail[len(q.tail)-q.limit]
		select {
		case <-p.done:
			if end := p.at.Add(q.window); end.After(now) {
				return nil, end
			}
		default:
			return nil, retry
		}
	}
	s := &slot{at: now, done: make(chan struct{})}
	q.tail = append(q.tail, s)
	if len(q.tail) > q.limit {
		q.tail = q.tail[1:]
	}
	return s, time.Time{}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
