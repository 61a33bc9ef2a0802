package approvals

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/approvals/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestEtcdStoppedAndRestartedUnderLoad files and approves requests from four workers
// while etcd is killed and started again. While it is down every call is refused
// with ErrStoreUnavailable and one plain sentence; once it is back the same Service
// carries on by itself. Afterwards no request that was filed is lost, none exists
// twice, none ran twice, the ones left approved by a decision whose answer was lost
// are finished by Recover, and the audit chain verifies.
func TestEtcdStoppedAndRestartedUnderLoad(t *testing.T) {
	srv := etcdtest.Start(t)
	ctx := context.Background()
	st, err := OpenEtcd(ctx, EtcdOptions{Endpoints: []string{srv.Endpoint()}, Prefix: uniquePrefix(), RequestTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ex := &fakeExec{}
	svc, err := New(ctx, Options{Store: st, Directory: newFakeDir(), Executor: ex, Policy: replicaPolicy()})
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu          sync.Mutex
		filed       = map[string]string{} // id → target, for every Submit that succeeded
		ambiguous   int                   // Submits whose commit answer was lost
		unavailable = make(chan string, 1)
		ok          atomic.Int64
		next        atomic.Int64
		stop        = make(chan struct{})
		wg          sync.WaitGroup
		errs        = make(chan error, 4)
	)
	refusedWell := func(err error) bool {
		e := requireUnavailable(err)
		if e == nil {
			return false
		}
		select {
		case unavailable <- e.Msg:
		default:
		}
		return true
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				in := defaultNewRequest()
				in.Target.ObjectID = numberedOID(int(next.Add(1)))
				r, err := svc.Submit(ctx, in)
				if err != nil {
					if !refusedWell(err) {
						errs <- fmt.Errorf("submit: %w", err)
						return
					}
					if isAmbiguous(err) {
						mu.Lock()
						ambiguous++
						mu.Unlock()
					}
					continue
				}
				mu.Lock()
				filed[r.ID] = in.Target.ObjectID
				mu.Unlock()
				if _, err := svc.Decide(ctx, r.ID, actor(oidApprover1, "Avery"), VerdictApprove, ""); err != nil && !refusedWell(err) {
					errs <- fmt.Errorf("decide %s: %w", r.ID, err)
					return
				}
				ok.Add(1)
			}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			select {
			case err := <-errs:
				t.Fatal(err)
			case <-time.After(10 * time.Millisecond): // polling counters the workers bump
			}
		}
	}
	waitFor("20 requests before the outage", func() bool { return ok.Load() >= 20 })
	srv.Stop()
	select {
	case msg := <-unavailable:
		requireSentence(t, msg)
		t.Logf("refused while etcd was down: %q", msg)
	case err := <-errs:
		t.Fatal(err)
	case <-time.After(time.Minute):
		t.Fatal("no call was refused while etcd was down")
	}
	srv.Restart()
	after := ok.Load()
	waitFor("20 more requests after the restart", func() bool { return ok.Load() >= after+20 })
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Decisions whose commit answer was lost may have left requests approved.
	if _, err := svc.Recover(ctx); err != nil {
		t.Fatalf("recover: %v", err)
	}
	all, err := svc.List(ctx, ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byTarget := map[string]int{}
	extra := 0
	for _, r := range all {
		byTarget[r.Target.ObjectID]++
		if byTarget[r.Target.ObjectID] > 1 {
			t.Fatalf("two requests about %s", r.Target.ObjectID)
		}
		if _, ok := filed[r.ID]; !ok {
			extra++ // filed by a Submit told "may or may not have been saved"
		}
		calls := ex.callsFor(r.ID)
		switch r.State {
		case StatePending:
			if len(calls) != 0 {
				t.Fatalf("pending request %s was executed", r.ID)
			}
		case StateSucceeded:
			if len(calls) != 1 || r.Attempts != 1 {
				t.Fatalf("request %s: %d executions, %d attempts", r.ID, len(calls), r.Attempts)
			}
		default:
			t.Fatalf("request %s left %s", r.ID, r.State)
		}
	}
	for id := range filed {
		if _, err := svc.Get(ctx, id); err != nil {
			t.Fatalf("filed request %s is lost: %v", id, err)
		}
	}
	if extra > ambiguous {
		t.Fatalf("%d requests nobody was told about, only %d ambiguous answers", extra, ambiguous)
	}
	rep, err := svc.Verify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	t.Logf("%d requests filed (%d ambiguous), %d audit events, chain verifies", len(all), ambiguous, rep.Events)
}

// requireUnavailable returns the refusal if err is ErrStoreUnavailable.
func requireUnavailable(err error) *Error {
	var e *Error
	if !errors.As(err, &e) || e.Code != ErrStoreUnavailable {
		return nil
	}
	return e
}

// isAmbiguous reports a refusal saying the change may have been saved.
func isAmbiguous(err error) bool {
	e := requireUnavailable(err)
	return e != nil && strings.Contains(e.Msg, "may or may not")
}

// TestEtcdSweepManyExpired: a sweep that finds more expired requests than fit in one
// etcd transaction (etcd's default --max-txn-ops is 128) expires them all.
func TestEtcdSweepManyExpired(t *testing.T) {
	srv := etcdtest.Start(t)
	ctx := context.Background()
	clock := newTestClock()
	svc, err := New(ctx, Options{Store: openEtcdStore(t, srv.Endpoint(), uniquePrefix(), 0), Directory: newFakeDir(),
		Executor: &fakeExec{}, Policy: replicaPolicy(), Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := range n {
		in := defaultNewRequest()
		in.Target.ObjectID = numberedOID(i)
		if _, err := svc.Submit(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(svc.Policy().TTL)
	got, err := svc.Sweep(ctx)
	if err != nil || len(got) != n {
		t.Fatalf("sweep expired %d of %d: %v", len(got), n, err)
	}
	if open, err := svc.OpenRequests(ctx); err != nil || len(open) != 0 {
		t.Fatalf("open after the sweep: %d %v", len(open), err)
	}
	if rep, err := svc.Verify(ctx); err != nil || !rep.OK || rep.Events != 2*n {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// TestEtcdStaleRunnerCannotOverwrite: replica A runs a request and loses its lease
// mid-run; replica B re-claims it (attempt 2) and is still running it when A's run
// ends. A's result must be refused, not written over B's claim; B's result stands.
func TestEtcdStaleRunnerCannotOverwrite(t *testing.T) {
	srv := etcdtest.Start(t)
	ctx := context.Background()
	prefix := uniquePrefix()
	blocking := func(started chan<- struct{}, release <-chan struct{}, name string) *fakeExec {
		ex := &fakeExec{}
		ex.setFn(func(_ context.Context, r Request, _ bool) (Result, error) {
			started <- struct{}{}
			<-release
			return Result{Steps: []Step{{Name: "revoke_sessions", Target: r.Target.UPN, Outcome: "done by " + name}}}, nil
		})
		return ex
	}
	startedA, releaseA := make(chan struct{}, 1), make(chan struct{})
	startedB, releaseB := make(chan struct{}, 1), make(chan struct{})
	stA := openEtcdStore(t, srv.Endpoint(), prefix, 0)
	svcA, err := New(ctx, Options{Store: stA, Directory: newFakeDir(), Executor: blocking(startedA, releaseA, "A"), Policy: replicaPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	svcB, _ := newEtcdService(t, srv.Endpoint(), prefix, 0, blocking(startedB, releaseB, "B"), nil)

	r, err := svcA.Submit(ctx, defaultNewRequest())
	if err != nil {
		t.Fatal(err)
	}
	errA := make(chan error, 1)
	go func() {
		_, err := svcA.Decide(ctx, r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "")
		errA <- err
	}()
	<-startedA

	// A's lease ends (as when it is cut off from etcd for longer than the TTL).
	var lease int64
	if _, err := fmt.Sscanf(stA.Replica(), "%x", &lease); err != nil {
		t.Fatal(err)
	}
	ex := newCountingExec(t, srv.Endpoint(), prefix)
	if _, err := ex.cli.Revoke(ctx, clientv3.LeaseID(lease)); err != nil {
		t.Fatal(err)
	}
	recovered := make(chan error, 1)
	go func() {
		_, err := svcB.Recover(ctx)
		recovered <- err
	}()
	<-startedB

	close(releaseA)
	if err := <-errA; !errors.Is(err, errLeftExecuting) || !strings.Contains(err.Error(), "this run was attempt 1") {
		t.Fatalf("A's result after B re-claimed: %v", err)
	}
	mid, err := svcB.Get(ctx, r.ID)
	if err != nil || mid.State != StateExecuting || mid.Attempts != 2 || len(mid.Steps) != 0 {
		t.Fatalf("A's stale result was written over B's claim: %+v %v", mid, err)
	}
	close(releaseB)
	if err := <-recovered; err != nil {
		t.Fatal(err)
	}
	final, err := svcB.Get(ctx, r.ID)
	if err != nil || final.State != StateSucceeded || final.Attempts != 2 || len(final.Steps) != 1 || final.Steps[0].Outcome != "done by B" {
		t.Fatalf("final: %+v %v", final, err)
	}
	if rep, err := svcB.Verify(ctx); err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// TestEtcdLeaderStopsWhenItsLeaseEnds: the leader's work gets a context that ends
// the moment its lease does (here revoked, as etcd does when renewals stop reaching
// it), and the replica campaigns again under its new lease and leads again.
func TestEtcdLeaderStopsWhenItsLeaseEnds(t *testing.T) {
	srv := etcdtest.Start(t)
	st := openEtcdStore(t, srv.Endpoint(), uniquePrefix(), 0)
	changes := make(chan bool, 8)
	stopped := make(chan error, 8)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go st.Lead(ctx, func(v bool, _ string) { changes <- v }, func(ctx context.Context) {
		<-ctx.Done()
		stopped <- ctx.Err()
	})
	wait := func(want bool) {
		t.Helper()
		select {
		case v := <-changes:
			if v != want {
				t.Fatalf("leadership %v, want %v", v, want)
			}
		case <-time.After(time.Minute):
			t.Fatalf("leadership did not become %v", want)
		}
	}
	wait(true)
	first := st.Replica()
	var lease int64
	if _, err := fmt.Sscanf(first, "%x", &lease); err != nil {
		t.Fatal(err)
	}
	ex := newCountingExec(t, srv.Endpoint(), "/unused")
	if _, err := ex.cli.Revoke(ctx, clientv3.LeaseID(lease)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-stopped:
		if err == nil {
			t.Fatal("work stopped without its context ending")
		}
	case <-time.After(time.Minute):
		t.Fatal("the leader's work did not stop when its lease ended")
	}
	wait(false)
	wait(true) // a new lease, a new campaign
	if st.Replica() == first || st.Replica() == "" || !st.Leading() {
		t.Fatalf("after renewal: replica %q (was %q), leading %v", st.Replica(), first, st.Leading())
	}
}
