package graph_test

import (
	"context"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// BenchmarkDiagnose gathers everything diagnose needs from the fake with 100 ms of
// latency per HTTP request: in one $batch (by object id, and by UPN, which is resolved
// first) against one request per source. Run with -benchtime=10x.
//
// Metrics: round-trips/op is what the fake counted; latencies/op is the wall time in
// units of the injected latency (the goal for the batch is ≤ 1.3).
func BenchmarkDiagnose(b *testing.B) {
	const latency = 100 * time.Millisecond
	for _, bc := range []struct {
		name      string
		unbatched bool
		byUPN     bool
		cache     time.Duration
	}{
		{"batched/object-id", false, false, 0},
		// By UPN, the name is resolved first; after that the name cache makes it one trip.
		{"batched/upn-first", false, true, -1},
		{"batched/upn-again", false, true, 0},
		{"one-at-a-time/object-id", true, false, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, fake := fakeTenant(b, nil, graph.Config{Unbatched: bc.unbatched, Timeout: time.Minute, NameCacheTTL: bc.cache})
			fake.SetFaults(graphtest.Faults{Latency: latency})
			name := idOf(b, fake, "mfatest2")
			if bc.byUPN {
				name = "mfatest2@mfademo.example"
			}
			r := ref(b, name)
			ctx := context.Background()
			before := fake.Requests()
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				ev, err := c.Gather(ctx, r, diagnoseQuery)
				if err != nil {
					b.Fatal(err)
				}
				if d := actions.Diagnose(ev, time.Now()); !d.Has(actions.FindingUnverified) {
					b.Fatal("diagnosis lost its finding")
				}
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(fake.Requests()-before)/float64(b.N), "round-trips/op")
			b.ReportMetric(float64(elapsed)/float64(b.N)/float64(latency), "latencies/op")
		})
	}
}
