package approvals

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkDecide measures approvals end to end: the decision transaction, the
// claim, a no-op executor and the result, each a bbolt commit. "durable" uses
// bbolt's default fsync on every commit (what serve runs); "nosync" shows the cost
// of the logic alone.
func BenchmarkDecide(b *testing.B) {
	for _, durable := range []bool{true, false} {
		name := "nosync"
		if durable {
			name = "durable"
		}
		b.Run(name, func(b *testing.B) {
			h := &harness{t: b, policy: basePolicy(), durable: durable, dir: newFakeDir(), exec: &fakeExec{},
				clock: newTestClock(), notify: make(chan struct{}, 1)}
			h.path = b.TempDir() + "/bench.db"
			h.policy.RateLimit = 1 << 30
			h.open()
			defer h.close()
			h.exec.setFn(func(context.Context, Request, bool) (Result, error) { return Result{}, nil })
			h.svc.onChange, h.svc.onAudit = nil, nil
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(i) }).ID
			}
			by := actor(oidApprover1, "Avery")
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				if r, err := h.svc.Decide(ctx, ids[i], by, VerdictApprove, ""); err != nil || r.State != StateSucceeded {
					b.Fatalf("decide: %+v %v", r, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		})
	}
}

// BenchmarkVerify100k verifies an audit chain of 100,000 events.
func BenchmarkVerify100k(b *testing.B) {
	const n = 100_000
	st, err := OpenBolt(b.TempDir()+"/verify.db", BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	err = st.Update(ctx, func(tx Tx) error {
		for i := range n {
			id := fmt.Sprintf("R-%026d", i/5)
			_, err := appendEvent(tx, Event{Time: t0.Add(time.Duration(i) * time.Second), Kind: EventApproved,
				RequestID: id, Action: ActionReregister, State: StateApproved,
				Actor:  actor(oidApprover1, "Avery"),
				Target: Target{ObjectID: oidTarget, UPN: "alex@contoso.com", DisplayName: "Alex Wilber"},
				Detail: "approval 1 of 1; " + strings.Repeat("x", 60)})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		rep, err := verifyStore(ctx, st)
		if err != nil || !rep.OK || rep.Events != n {
			b.Fatalf("verify: %+v %v", rep, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
