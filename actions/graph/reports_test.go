package graph_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// virtualClock is a clock on which waiting takes no real time. With no parties, At
// moves the clock forward to t at once. With parties (goroutines of a test that each
// call Done when finished), time moves only once every party still running waits in
// At, and then to the earliest time waited for: as in real time, no lookup that is
// due now falls behind because another one's wait moved the clock on. (A lookup
// blocked on another's answer is running: that answer needs no clock to come.)
type virtualClock struct {
	mu      sync.Mutex
	t       time.Time
	parties int
	done    int
	waiters []clockWaiter
}

type clockWaiter struct {
	t  time.Time
	ch chan time.Time
}

func newVirtualClock() *virtualClock {
	return &virtualClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
}

func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *virtualClock) At(t time.Time) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if !t.After(c.t) {
		ch <- c.t
		return ch
	}
	if c.parties == 0 {
		c.t = t
		ch <- c.t
		return ch
	}
	c.waiters = append(c.waiters, clockWaiter{t, ch})
	c.advance()
	return ch
}

// Join sets how many goroutines take part from now on.
func (c *virtualClock) Join(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.parties, c.done = n, 0
}

// Done says one party has finished.
func (c *virtualClock) Done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done++
	c.advance()
}

// advance moves time to the earliest wait once every running party waits.
func (c *virtualClock) advance() {
	if len(c.waiters) == 0 || len(c.waiters)+c.done < c.parties {
		return
	}
	next := c.waiters[0].t
	for _, w := range c.waiters {
		if w.t.Before(next) {
			next = w.t
		}
	}
	c.t = next
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.t.After(c.t) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.t
	}
	c.waiters = kept
}

func (c *virtualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// budgetTenant is a fake that enforces Graph's report budget (5 per 10 s) on a virtual
// clock, and a client configured with limit (-1: no scheduler) on the same clock.
func budgetTenant(t testing.TB, limit int, cacheTTL time.Duration) (*graph.Client, *graphtest.Server, *virtualClock) {
	t.Helper()
	clock := newVirtualClock()
	c, fake := fakeTenant(t, nil, graph.Config{ReportLimit: limit, ReportCacheTTL: cacheTTL, Clock: clock,
		MaxQueueWait: 2 * time.Minute, MaxRetryWait: time.Nanosecond, Timeout: time.Minute})
	fake.SetClock(clock.Now)
	fake.SetFaults(graphtest.Faults{ReportLimit: 5, ReportWindow: 10 * time.Second})
	return c, fake, clock
}

var tenUsers = func() []string {
	var ids []string
	for _, n := range []int{1, 2, 3, 4, 5, 6, 0x101, 0x102, 0x103, 0x104} {
		ids = append(ids, fmt.Sprintf("5a1b0001-0000-4000-8000-%012x", n))
	}
	return ids
}()

// diagnoseAll runs diagnose on every user at once, one agent each; clock, if not nil,
// moves only when every agent waits.
func diagnoseAll(t testing.TB, c *graph.Client, clock *virtualClock, ids []string) []actions.Evidence {
	t.Helper()
	evs := make([]actions.Evidence, len(ids))
	errs := make([]error, len(ids))
	if clock != nil {
		clock.Join(len(ids))
		defer clock.Join(0)
	}
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			evs[i], errs[i] = c.Gather(context.Background(), ref(t, id), diagnoseQuery)
			if clock != nil {
				clock.Done()
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("diagnose %s: %v", ids[i], err)
		}
	}
	return evs
}

// TestReportBudgetTenAgents is the goal of the report scheduler: ten agents running
// diagnose on ten users at once (30 report requests against Graph's 5 per 10 s) all
// get complete answers and no 429 reaches anyone; the answers that waited say for how
// long. Without the scheduler the same load meets Graph's 429s and the answers lose
// their report sections.
func TestReportBudgetTenAgents(t *testing.T) {
	t.Run("scheduled", func(t *testing.T) {
		c, fake, clock := budgetTenant(t, 5, -1)
		evs := diagnoseAll(t, c, clock, tenUsers)
		if n := fake.Throttled(); n != 0 {
			t.Errorf("the fake answered %d report calls with 429", n)
		}
		if n := fake.ReportCalls(); n != 30 {
			t.Errorf("%d report calls, want 30", n)
		}
		var longest time.Duration
		for i, ev := range evs {
			if len(ev.Missing) > 0 {
				t.Errorf("%s: incomplete answer: %v", tenUsers[i], ev.Notes())
			}
			if ev.Queued > 0 && !strings.Contains(strings.Join(ev.Notes(), " "), fmt.Sprintf("Queued %d s", int((ev.Queued+time.Second-1)/time.Second))) {
				t.Errorf("%s waited %v but the answer does not say so: %v", tenUsers[i], ev.Queued, ev.Notes())
			}
			longest = max(longest, ev.Queued)
		}
		// 30 requests at 5 per 10 s: the last five go out 50 s after the first five.
		if longest != 50*time.Second {
			t.Errorf("longest wait %v, want 50 s", longest)
		}
	})
	t.Run("unscheduled meets 429s", func(t *testing.T) {
		c, fake, clock := budgetTenant(t, -1, -1)
		evs := diagnoseAll(t, c, clock, tenUsers)
		incomplete := 0
		for _, ev := range evs {
			if len(ev.Missing) > 0 {
				incomplete++
			}
		}
		if fake.Throttled() == 0 || incomplete == 0 {
			t.Errorf("without the scheduler: %d 429s, %d incomplete answers; the fake does not enforce the budget", fake.Throttled(), incomplete)
		}
	})
}

// TestReportCache: a second lookup of the same user within the TTL spends no report
// budget and says how old its report data is; a write on the user through the client,
// an explicit Invalidate, and the TTL each make the next lookup read afresh.
func TestReportCache(t *testing.T) {
	c, fake, clock := budgetTenant(t, 5, 30*time.Second)
	id := tenUsers[1]
	ctx := context.Background()
	spent := func(t *testing.T, want int64, fresh string) {
		t.Helper()
		before := fake.ReportCalls()
		ev, err := c.Gather(ctx, ref(t, id), diagnoseQuery)
		if err != nil || len(ev.Missing) > 0 {
			t.Fatalf("gather: %v %v", err, ev.Missing)
		}
		if got := fake.ReportCalls() - before; got != want {
			t.Errorf("%d report calls, want %d", got, want)
		}
		if got := ev.Freshness(); !strings.Contains(got, fresh) || (fresh == "" && got != "") {
			t.Errorf("freshness %q, want %q", got, fresh)
		}
	}
	spent(t, 3, "")
	clock.Advance(5 * time.Second)
	t.Run("reused", func(t *testing.T) { spent(t, 0, "as of 5 s ago") })
	t.Run("write on the user", func(t *testing.T) {
		if _, err := c.RevokeSessions(ctx, id); err != nil {
			t.Fatal(err)
		}
		clock.Advance(10 * time.Second) // out of the budget's way
		spent(t, 3, "")
	})
	t.Run("invalidate", func(t *testing.T) {
		c.Invalidate(strings.ToUpper(id))
		clock.Advance(10 * time.Second)
		spent(t, 3, "")
	})
	t.Run("expired", func(t *testing.T) {
		clock.Advance(31 * time.Second)
		spent(t, 3, "")
	})
	t.Run("other user untouched by a write", func(t *testing.T) {
		if _, err := c.RevokeSessions(ctx, tenUsers[2]); err != nil {
			t.Fatal(err)
		}
		spent(t, 0, "as of 0 s ago")
	})
}

// BenchmarkReportBudget runs the ten-agent load in real time with Graph's budget
// scaled down 100 times (5 report requests per 100 ms instead of per 10 s), so the
// waits are measured rather than planned: max-queued-windows is the longest wait in
// budget windows (the floor for 30 requests at 5 per window is 5), with the 429s that
// reached the client and the answers that lacked a report section, with and without
// the scheduler.
func BenchmarkReportBudget(b *testing.B) {
	const window = 100 * time.Millisecond
	for _, bc := range []struct {
		name  string
		limit int
	}{{"scheduled", 5}, {"unscheduled", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			var longest time.Duration
			var throttled, incomplete int64
			for b.Loop() {
				c, fake := fakeTenant(b, nil, graph.Config{ReportLimit: bc.limit, ReportWindow: window, ReportCacheTTL: -1,
					MaxQueueWait: 20 * window, MaxRetryWait: time.Nanosecond, Timeout: time.Minute})
				fake.SetFaults(graphtest.Faults{ReportLimit: 5, ReportWindow: window})
				for _, ev := range diagnoseAll(b, c, nil, tenUsers) {
					longest = max(longest, ev.Queued)
					if len(ev.Missing) > 0 {
						incomplete++
					}
				}
				throttled += fake.Throttled()
			}
			b.ReportMetric(float64(longest)/float64(window), "max-queued-windows")
			b.ReportMetric(float64(throttled)/float64(b.N), "429s/op")
			b.ReportMetric(float64(incomplete)/float64(b.N), "incomplete-answers/op")
		})
	}
}

// TestRetriedReportSpendsBudget: a report request Graph throttled anyway (another
// instance of the app, say) is sent again only through the scheduler, so the retry
// does not push the next lookup over Graph's budget.
func TestRetriedReportSpendsBudget(t *testing.T) {
	c, fake, _ := budgetTenant(t, 5, -1)
	fake.SetFaults(graphtest.Faults{ReportLimit: 5, ReportWindow: 10 * time.Second,
		ThrottleFirst: 1, ThrottleOnly: []string{"/auditLogs/signIns"}, RetryAfter: 0})
	for _, id := range tenUsers[:2] {
		ev, err := c.Gather(context.Background(), ref(t, id), diagnoseQuery)
		if err != nil || len(ev.Missing) > 0 {
			t.Fatalf("diagnose %s: %v %v", id, err, ev.Notes())
		}
	}
	if n := fake.Throttled(); n != 1 {
		t.Errorf("%d 429s, want only the injected one", n)
	}
}
