package approvals

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// BenchmarkWatchPoller measures what the watch after a reset spends of Graph's report
// budget with 100 watched users, polling every minute (the default): Graph requests
// per 10 s, and what is left of the 5 per 10 s for agents' lookups. "quiet" is the
// usual case (other users' security-info activity, nothing from the watched ones);
// "registration each poll" has one watched user register a method every minute.
func BenchmarkWatchPoller(b *testing.B) {
	const targets = 100
	for _, bc := range []struct {
		name         string
		registerEach int // a registration every n polls; 0 never
	}{{"quiet", 0}, {"registration each poll", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			e := newWatchEnv(b, watchOpts{users: targets, budget: true, watchFor: 10000 * time.Hour})
			watchTargets(b, e, targets)
			w := e.h.svc.NewWatcher(e.client)
			ctx := context.Background()
			start := e.fake.ReportCalls()
			polled := e.h.clock.Now()
			b.ResetTimer()
			for i := range b.N {
				now := e.h.clock.Now()
				id := numberedOID(i % targets)
				for j := range 3 { // tenant noise the filter returns and the poller skips
					ev := graphtest.SelfRegistration(fmt.Sprintf("noise-%d-%d", i, j), id, "", "User started the registration for Authenticator App", "203.0.113.9", now)
					ev["activityDisplayName"] = "User started security info registration"
					e.audit(b, id, ev)
				}
				if bc.registerEach > 0 && i%bc.registerEach == 0 {
					e.audit(b, id, graphtest.SelfRegistration(fmt.Sprintf("reg-%d", i), id, "", authenticator, "203.0.113.9", now))
				}
				// Poll on the minute, as Run does; a poll that had to wait for the
				// budget pushes the next one back by that much, as a ticker would not,
				// which only lowers the rate measured.
				polled = polled.Add(DefaultWatchInterval)
				if now := e.h.clock.Now(); polled.After(now) {
					e.h.clock.Advance(polled.Sub(now))
				}
				if _, err := w.Poll(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			calls := float64(e.fake.ReportCalls() - start)
			elapsed := e.h.clock.Now().Sub(polled.Add(-time.Duration(b.N) * DefaultWatchInterval))
			per10s := calls / elapsed.Seconds() * graph.DefaultReportWindow.Seconds()
			b.ReportMetric(calls/float64(b.N), "graph-req/poll")
			b.ReportMetric(per10s, "graph-req/10s")
			b.ReportMetric(float64(graph.DefaultReportLimit)-per10s, "lookup-req-left/10s")
			if th := e.fake.Throttled(); th != 0 {
				b.Fatalf("%d report calls answered 429", th)
			}
		})
	}
}
