package graph_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// fakeClock is the write path's clock in tests: Sleep moves time on at once and
// records the wait, so retries are tested without waiting.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// At moves the clock to t at once and records the wait.
func (f *fakeClock) At(t time.Time) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d := t.Sub(f.now); d > 0 {
		f.now = t
		f.slept = append(f.slept, d)
	}
	ch <- f.now
	return ch
}

func (f *fakeClock) total() (time.Duration, []time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var t time.Duration
	for _, d := range f.slept {
		t += d
	}
	return t, append([]time.Duration(nil), f.slept...)
}

// TestWriteRetriesTransientErrors: throttling (429 with Retry-After), 503 and timeouts
// in the write path — its first read included — are retried on the budget's clock, and
// the approved action completes; past the budget the error stays transient (throttled
// or unavailable), so the request can be retried later.
func TestWriteRetriesTransientErrors(t *testing.T) {
	tests := []struct {
		name      string
		faults    graphtest.Faults
		revoke    bool              // RevokeSessions instead of Reregister
		wantKind  actions.ErrorKind // KindUnknown: success
		minSlept  time.Duration
		wantSleep int // number of waits, -1 for any
	}{
		// The execution's first read, throttled three times with a Retry-After longer
		// than a chat lookup would wait.
		{name: "first read throttled", faults: graphtest.Faults{ThrottleFirst: 3, ThrottleOnly: []string{"/authentication/methods"}, RetryAfter: 10 * time.Second},
			minSlept: 30 * time.Second, wantSleep: 3},
		{name: "deletion throttled", faults: graphtest.Faults{ThrottleFirst: 2, ThrottleOnly: []string{"/phoneMethods/"}, RetryAfter: 2500 * time.Millisecond},
			minSlept: 5 * time.Second, wantSleep: 2},
		{name: "default change unavailable", faults: graphtest.Faults{Unavailable: []string{"/signInPreferences"}, UnavailableFirst: 3},
			wantSleep: -1},
		{name: "revoke unavailable", revoke: true, faults: graphtest.Faults{Unavailable: []string{"/revokeSignInSessions"}, UnavailableFirst: 2},
			minSlept: 3 * time.Second, wantSleep: 2},
		// Throttled for good: the budget (60 s) ends it, and the error says throttled.
		{name: "deletion throttled for good", faults: graphtest.Faults{ThrottleEvery: 1, ThrottleOnly: []string{"/phoneMethods/"}, RetryAfter: 20 * time.Second},
			wantKind: actions.KindThrottled, minSlept: 40 * time.Second, wantSleep: -1},
		{name: "revoke unavailable for good", revoke: true, faults: graphtest.Faults{Unavailable: []string{"/revokeSignInSessions"}},
			wantKind: actions.KindThrottled, wantSleep: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			// The alternate mobile is the default: the plan changes the default first.
			c, fake := fakeTenant(t, everyMethod("voiceAlternateMobile"), graph.Config{Clock: clock})
			id := idOf(t, fake, "olive.optin")
			snap := approvedSnapshot(t, c, id)
			fake.SetFaults(tt.faults)
			var res actions.Result
			var err error
			if tt.revoke {
				res, err = c.RevokeSessions(context.Background(), id)
			} else {
				res, err = c.Reregister(context.Background(), id, snap, nil)
			}
			total, slept := clock.total()
			if total > 60*time.Second {
				t.Errorf("waited %s in all (%v), past the 60 s budget", total, slept)
			}
			if total < tt.minSlept || (tt.wantSleep >= 0 && len(slept) != tt.wantSleep) {
				t.Errorf("waits %v, want %d waits, at least %s in all", slept, tt.wantSleep, tt.minSlept)
			}
			if tt.wantKind != actions.KindUnknown {
				if actions.KindOf(err) != tt.wantKind {
					t.Fatalf("err = %v (kind %v), want kind %v", err, actions.KindOf(err), tt.wantKind)
				}
				if !res.Failed() {
					t.Errorf("steps %v: want the failed step recorded", outcomes(res))
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, strings.Join(outcomes(res), "\n"))
			}
			if tt.revoke {
				return
			}
			if got := methodTypes(fake, "olive.optin"); len(got) != 1 {
				t.Errorf("left %v, want only the password", got)
			}
		})
	}
}

// TestWriteRetriesTimeout: a DELETE that gets no answer within Config.Timeout is tried
// again (deleting twice is deleting once: the retry's 404 confirms the deletion).
func TestWriteRetriesTimeout(t *testing.T) {
	tenant := graphtest.MustTenant("demo")
	fake := graphtest.NewServer(tenant)
	var mu sync.Mutex
	stalled := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		stall := r.Method == http.MethodDelete && stalled == 0
		if stall {
			stalled++
		}
		mu.Unlock()
		if stall {
			// Graph deletes, but the answer never arrives: the client's timeout ends it.
			fake.ServeHTTP(httptest.NewRecorder(), r)
			<-r.Context().Done()
			return
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	clock := newFakeClock()
	c, err := graph.New(graph.Config{BaseURL: srv.URL + "/v1.0", Timeout: 300 * time.Millisecond, Clock: clock, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	id := idOf(t, fake, "ada.admin")
	res, err := c.Reregister(context.Background(), id, approvedSnapshot(t, c, id), nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(outcomes(res), "\n"))
	}
	if _, slept := clock.total(); len(slept) != 1 {
		t.Errorf("waits %v, want one retry after the timeout", slept)
	}
	// The retry finds the method gone: the timed-out attempt deleted it, not someone else.
	for _, s := range res.Steps {
		if s.Outcome == actions.OutcomeAlreadyGone {
			t.Errorf("step %s: the run deleted it itself", s)
		}
	}
	if strings.Contains(res.Summary, "already gone") {
		t.Errorf("summary %q", res.Summary)
	}
	if got := methodTypes(fake, "ada.admin"); len(got) != 1 {
		t.Errorf("left %v", got)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
