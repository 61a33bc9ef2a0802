package graph_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// connCounter counts the TCP connections a fake Graph server accepts and closes.
type connCounter struct{ opened, closed atomic.Int64 }

func (c *connCounter) hook(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		c.opened.Add(1)
	case http.StateClosed, http.StateHijacked:
		c.closed.Add(1)
	}
}

// countedTenant is fakeTenant with the fake's connections counted.
func countedTenant(t testing.TB, cfg graph.Config) (*graph.Client, *graphtest.Server, *connCounter) {
	t.Helper()
	fake := graphtest.NewServer(graphtest.MustTenant("demo"))
	cc := &connCounter{}
	srv := httptest.NewUnstartedServer(fake)
	srv.Config.ConnState = cc.hook
	srv.Start()
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL + "/v1.0"
	cfg.MFAGroups = []string{"mfaoptin"}
	cfg.Logger = slog.New(slog.DiscardHandler)
	c, err := graph.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, fake, cc
}

// burst runs n lookups at most conc at a time, as the chat adapters' follow-ups do.
func burst(t testing.TB, c *graph.Client, r actions.UserRef, q actions.Query, n, conc int) {
	t.Helper()
	slots := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range n {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if _, err := c.Gather(context.Background(), r, q); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d lookups failed", f, n)
	}
}

// TestBurstReusesConnections: 200 lookups, 32 at a time (the adapters' follow-up
// limit), open at most one connection per concurrent lookup and close none. With
// http.DefaultTransport (two idle connections per host) most were closed after one
// request and reopened.
func TestBurstReusesConnections(t *testing.T) {
	const n, conc = 200, 32
	c, fake, cc := countedTenant(t, graph.Config{Timeout: time.Minute})
	// A little latency so the lookups really overlap.
	fake.SetFaults(graphtest.Faults{Latency: 2 * time.Millisecond})
	r := ref(t, idOf(t, fake, "mfatest2"))
	burst(t, c, r, actions.Query{Sources: actions.ForStatus}, n, conc)
	// A connection goes back to the idle pool just after its lookup returns, so a lookup
	// started at once may still dial: a few more than conc may open, none may close.
	if o, cl := cc.opened.Load(), cc.closed.Load(); o > conc+conc/4 || cl > 0 {
		t.Errorf("%d connections opened and %d closed for %d lookups, %d at a time; want at most %d opened and none closed", o, cl, n, conc, conc+conc/4)
	}
}

// BenchmarkGraphBurst measures the connections a 200-lookup burst opens and closes
// against the fake (bursts after the first reuse the idle pool).
func BenchmarkGraphBurst(b *testing.B) {
	const n, conc = 200, 32
	c, fake, cc := countedTenant(b, graph.Config{Timeout: time.Minute})
	fake.SetFaults(graphtest.Faults{Latency: 2 * time.Millisecond})
	r := ref(b, idOf(b, fake, "mfatest2"))
	q := actions.Query{Sources: actions.ForStatus}
	for b.Loop() {
		burst(b, c, r, q, n, conc)
	}
	b.ReportMetric(float64(cc.opened.Load())/float64(b.N), "conns-opened/burst")
	b.ReportMetric(float64(cc.closed.Load())/float64(b.N), "conns-closed/burst")
}
