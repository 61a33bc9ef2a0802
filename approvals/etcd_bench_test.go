package approvals

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/approvals/etcdtest"
)

// BenchmarkDecideStores measures one approver deciding requests one after another,
// end to end (the decision, the claim, a no-op executor and the result: three
// commits), on bbolt and on a one-node etcd on loopback, both with their data on
// disk and fsync on. It reports decisions per second and the 99th percentile
// latency of one decision.
func BenchmarkDecideStores(b *testing.B) {
	b.Setenv("MFADESK_ETCD_DISK", "1") // etcdtest otherwise uses tmpfs
	stores := []struct {
		name string
		open func(b *testing.B) Store
	}{
		{"bbolt", func(b *testing.B) Store {
			st, err := OpenBolt(filepath.Join(b.TempDir(), "bench.db"), BoltOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			return st
		}},
		{"etcd", func(b *testing.B) Store {
			return openEtcdStore(b, etcdtest.Start(b).Endpoint(), uniquePrefix(), 0)
		}},
	}
	for _, sk := range stores {
		b.Run(sk.name, func(b *testing.B) {
			ctx := context.Background()
			ex := &fakeExec{}
			ex.setFn(func(context.Context, Request, bool) (Result, error) { return Result{}, nil })
			svc, err := New(ctx, Options{Store: sk.open(b), Directory: newFakeDir(), Executor: ex, Policy: replicaPolicy()})
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]string, b.N)
			for i := range ids {
				in := defaultNewRequest()
				in.Target.ObjectID = numberedOID(i)
				r, err := svc.Submit(ctx, in)
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = r.ID
			}
			by := actor(oidApprover1, "Avery")
			lat := make([]time.Duration, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				if r, err := svc.Decide(ctx, ids[i], by, VerdictApprove, ""); err != nil || r.State != StateSucceeded {
					b.Fatalf("decide: %+v %v", r, err)
				}
				lat[i] = time.Since(start)
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
		})
	}
}
