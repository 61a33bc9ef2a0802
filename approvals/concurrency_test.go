package approvals

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentApprovalsExecuteOnce has 100 approvers click Approve on the same
// request at the same moment, 50 times over, and checks that exactly the needed
// number of approvals land, the executor runs exactly once, and every other click is
// refused as already decided (and audited).
func TestConcurrentApprovalsExecuteOnce(t *testing.T) {
	const (
		approvers  = 100
		iterations = 50
	)
	for _, mode := range []struct {
		name      string
		protected bool
		needed    int
	}{{"one approval", false, 1}, {"two approvals for a protected target", true, 2}} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, func(p *Policy) {
				p.Protected = ProtectedTwoApprovers
				p.RateLimit = 1 << 20
			})
			actors := make([]Actor, approvers)
			for i := range actors {
				actors[i] = actor(numberedOID(10_000+i), fmt.Sprintf("approver%d", i))
				h.dir.addMember(groupApprovers, actors[i].ObjectID)
			}
			for it := range iterations {
				target := numberedOID(it)
				if mode.protected {
					h.dir.protect(target, "directory role Security Administrator")
				}
				r := h.submit(func(in *NewRequest) { in.Target.ObjectID = target })
				start := make(chan struct{})
				errs := make([]error, approvers)
				var wg sync.WaitGroup
				for i := range approvers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						_, errs[i] = h.svc.Decide(ctx, r.ID, actors[i], VerdictApprove, "")
					}()
				}
				close(start)
				wg.Wait()

				accepted := 0
				for _, err := range errs {
					if err == nil {
						accepted++
						continue
					}
					requireCode(t, err, ErrAlreadyDecided)
				}
				if calls := h.exec.callsFor(r.ID); len(calls) != 1 || calls[0].Resume {
					t.Fatalf("iteration %d: executor calls = %+v, want exactly one", it, calls)
				}
				got := h.get(r.ID)
				if accepted != mode.needed || len(got.Approvals()) != mode.needed || got.State != StateSucceeded || got.Attempts != 1 {
					t.Fatalf("iteration %d: %d accepted, record %+v", it, accepted, got)
				}
			}
			rep := h.mustVerify()
			// Per iteration: created, needed × approved, executing, succeeded, and one
			// access_refused per refused click.
			want := uint64(iterations * (1 + mode.needed + 2 + (approvers - mode.needed)))
			if rep.Events != want {
				t.Fatalf("audit holds %d events, want %d", rep.Events, want)
			}
		})
	}
}
