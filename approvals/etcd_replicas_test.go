package approvals

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/approvals/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// The tests here run Services in two processes on one real etcd: the test process,
// and a copy of the test binary started with MFADESK_ETCD_HELPER naming its part
// (see TestEtcdHelperProcess). Executions are counted in etcd itself: every run of
// the executor, in either process, writes a key of its own under
// "<prefix>x/exec/<request id>/", so a second run of a request shows up as a second
// key whichever process made it.

const etcdHelperEnv = "MFADESK_ETCD_HELPER"

// countingExec records each run in etcd (and in calls) and, when block is set,
// reports the start on started and never returns: a process that dies mid-execution.
type countingExec struct {
	cli     *clientv3.Client
	prefix  string
	block   bool
	started func(id string)

	mu    sync.Mutex
	calls []execCall
}

func newCountingExec(t testing.TB, endpoint, prefix string) *countingExec {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return &countingExec{cli: cli, prefix: prefix}
}

func (e *countingExec) Execute(ctx context.Context, r Request, resume bool, _ func(context.Context, Step) error) (Result, error) {
	e.mu.Lock()
	e.calls = append(e.calls, execCall{r.ID, resume})
	e.mu.Unlock()
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	if _, err := e.cli.Put(ctx, e.prefix+"x/exec/"+r.ID+"/"+hex.EncodeToString(nonce[:]), strconv.FormatBool(resume)); err != nil {
		return Result{}, fmt.Errorf("count the execution: %w", err)
	}
	if e.block {
		e.started(r.ID)
		select {} // killed here
	}
	return Result{Steps: []Step{{Name: "revoke_sessions", Target: r.Target.UPN, Outcome: "ok"}}}, nil
}

func (e *countingExec) callsFor(id string) []execCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []execCall
	for _, c := range e.calls {
		if c.ID == id {
			out = append(out, c)
		}
	}
	return out
}

// executions counts the runs of request id recorded in etcd by any process.
func executions(t testing.TB, cli *clientv3.Client, prefix, id string) int64 {
	t.Helper()
	resp, err := cli.Get(context.Background(), prefix+"x/exec/"+id+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return resp.Count
}

func replicaPolicy() Policy {
	p := basePolicy()
	p.RateLimit = 1 << 20
	p.Resume = map[Action]bool{ActionReregister: true, ActionRevoke: true}
	return p
}

// newEtcdService opens a store and a Service on it, with a real clock: the two
// processes must agree on time as real replicas do.
func newEtcdService(t testing.TB, endpoint, prefix string, leaseTTL int, ex Executor, onChange func(Request)) (*Service, *EtcdStore) {
	t.Helper()
	st := openEtcdStore(t, endpoint, prefix, leaseTTL)
	svc, err := New(context.Background(), Options{Store: st, Directory: newFakeDir(), Executor: ex, Policy: replicaPolicy(), OnChange: onChange})
	if err != nil {
		t.Fatalf("new service on etcd: %v", err)
	}
	return svc, st
}

// helper starts this test binary as the other replica.
type helper struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr strings.Builder
}

func startHelper(t *testing.T, part string, env ...string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEtcdHelperProcess$", "-test.v=false")
	cmd.Env = append(append(os.Environ(), etcdHelperEnv+"="+part), env...)
	h := &helper{cmd: cmd, lines: make(chan string, 16)}
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &h.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(h.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "helper: ") {
				h.lines <- strings.TrimPrefix(l, "helper: ")
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return h
}

// expect waits for the helper's next line and checks its first word.
func (h *helper) expect(t *testing.T, word string) string {
	t.Helper()
	select {
	case l, ok := <-h.lines:
		if !ok {
			_ = h.cmd.Wait()
			t.Fatalf("helper exited before saying %q: %s", word, h.stderr.String())
		}
		if f := strings.Fields(l); len(f) == 0 || f[0] != word {
			t.Fatalf("helper said %q, want %q", l, word)
		}
		return l
	case <-time.After(2 * time.Minute):
		t.Fatalf("helper did not say %q within 2 minutes", word)
	}
	return ""
}

// TestEtcdHelperProcess is the other replica; it does nothing in a normal run.
func TestEtcdHelperProcess(t *testing.T) {
	part := os.Getenv(etcdHelperEnv)
	if part == "" {
		t.Skip("runs only as the helper process of the etcd replica tests")
	}
	say := func(format string, args ...any) { fmt.Printf("helper: "+format+"\n", args...) }
	endpoint, prefix := os.Getenv("MFADESK_TEST_ETCD"), os.Getenv("MFADESK_TEST_PREFIX")
	ex := newCountingExec(t, endpoint, prefix)
	in := bufio.NewScanner(os.Stdin)
	switch part {
	case "approve":
		// Approve every listed request as approver 2, racing the test process.
		svc, _ := newEtcdService(t, endpoint, prefix, 0, ex, nil)
		b, err := os.ReadFile(os.Getenv("MFADESK_TEST_IDS"))
		if err != nil {
			t.Fatal(err)
		}
		ids := strings.Fields(string(b))
		say("ready")
		in.Scan() // "go"
		accepted, refused, err := approveAll(svc, ids, actor(oidApprover2, "Blair"))
		if err != nil {
			say("error %v", err)
			os.Exit(1)
		}
		say("done %d %d", accepted, refused)
	case "lead":
		// Become the leader, then approve one request whose execution never ends.
		ex.block = true
		ex.started = func(id string) { say("started %s", id) }
		svc, st := newEtcdService(t, endpoint, prefix, 1, ex, nil)
		go st.Lead(context.Background(), func(leading bool, _ string) {
			if leading {
				say("leader")
			}
		}, func(ctx context.Context) {
			_, _ = svc.Recover(ctx)
			<-ctx.Done()
		})
		in.Scan() // "approve <id>"
		_, err := svc.Decide(context.Background(), strings.TrimPrefix(in.Text(), "approve "), actor(oidApprover1, "Avery"), VerdictApprove, "")
		say("error %v", err) // not reached: the executor blocks until the process is killed
		os.Exit(1)
	default:
		t.Fatalf("unknown helper part %q", part)
	}
	os.Exit(0)
}

// approveAll approves every id with 8 workers; a refusal must be "already decided".
func approveAll(svc *Service, ids []string, by Actor) (accepted, refused int64, err error) {
	var (
		next atomic.Int64
		acc  atomic.Int64
		ref  atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(ids)); i = next.Add(1) - 1 {
				r, err := svc.Decide(context.Background(), ids[i], by, VerdictApprove, "")
				switch {
				case err == nil && r.State == StateSucceeded:
					acc.Add(1)
				case CodeOf(err) == ErrAlreadyDecided:
					ref.Add(1)
				default:
					mu.Lock()
					errs = append(errs, fmt.Errorf("approve %s: state %s, %w", ids[i], r.State, err))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return acc.Load(), ref.Load(), errors.Join(errs...)
}

// TestEtcdTwoProcessesExecuteOnce: two Services in two processes on one etcd, each
// approving the same 1000 requests at the same time as a different approver. Each
// request must be approved once and executed exactly once (counted in etcd by both
// executors), every other click refused as already decided, and the audit chain
// must verify with no gap.
func TestEtcdTwoProcessesExecuteOnce(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	srv := etcdtest.Start(t)
	prefix := uniquePrefix()
	ex := newCountingExec(t, srv.Endpoint(), prefix)
	svc, _ := newEtcdService(t, srv.Endpoint(), prefix, 0, ex, nil)
	ids := make([]string, n)
	for i := range ids {
		in := defaultNewRequest()
		in.Target.ObjectID = numberedOID(i)
		r, err := svc.Submit(context.Background(), in)
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		ids[i] = r.ID
	}
	idsFile := filepath.Join(t.TempDir(), "ids")
	if err := os.WriteFile(idsFile, []byte(strings.Join(ids, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, "approve", "MFADESK_TEST_ETCD="+srv.Endpoint(), "MFADESK_TEST_PREFIX="+prefix, "MFADESK_TEST_IDS="+idsFile)
	h.expect(t, "ready")
	start := time.Now()
	if _, err := io.WriteString(h.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	accepted, refused, err := approveAll(svc, ids, actor(oidApprover1, "Avery"))
	if err != nil {
		t.Fatal(err)
	}
	var hAcc, hRef int64
	if _, err := fmt.Sscanf(h.expect(t, "done"), "done %d %d", &hAcc, &hRef); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d requests: this process approved %d, the other %d, in %s", n, accepted, hAcc, time.Since(start).Round(time.Millisecond))
	if accepted+hAcc != int64(n) || refused+hRef != int64(n) {
		t.Fatalf("approved %d+%d and refused %d+%d, want %d of each", accepted, hAcc, refused, hRef, n)
	}
	if accepted == 0 || hAcc == 0 {
		t.Fatalf("one process approved everything (%d, %d): the processes did not race", accepted, hAcc)
	}
	for _, id := range ids {
		if c := executions(t, ex.cli, prefix, id); c != 1 {
			t.Fatalf("request %s was executed %d times", id, c)
		}
		r, err := svc.Get(context.Background(), id)
		if err != nil || r.State != StateSucceeded || r.Attempts != 1 || len(r.Approvals()) != 1 {
			t.Fatalf("request %s: %+v %v", id, r, err)
		}
	}
	rep, err := svc.Verify(context.Background())
	if err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	// Per request: created, approved, executing, succeeded, and the refused click.
	if want := uint64(5 * n); rep.Events != want {
		t.Fatalf("audit holds %d events, want %d", rep.Events, want)
	}
}

// TestEtcdLeaderKilledMidExecution: the leader replica (another process) is killed
// while it executes an approved request. This replica must become the leader once the
// dead one's lease ends, resume the request exactly once (Execute with resume), and
// finish it; the request must never run here while the other process was alive.
func TestEtcdLeaderKilledMidExecution(t *testing.T) {
	srv := etcdtest.Start(t)
	prefix := uniquePrefix()
	ex := newCountingExec(t, srv.Endpoint(), prefix)
	done := make(chan Request, 16)
	svc, st := newEtcdService(t, srv.Endpoint(), prefix, 1, ex, func(r Request) {
		if r.State == StateSucceeded || r.State == StateFailed {
			done <- r
		}
	})
	r, err := svc.Submit(context.Background(), defaultNewRequest())
	if err != nil {
		t.Fatal(err)
	}

	h := startHelper(t, "lead", "MFADESK_TEST_ETCD="+srv.Endpoint(), "MFADESK_TEST_PREFIX="+prefix)
	h.expect(t, "leader")
	leading := make(chan bool, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go st.Lead(ctx, func(v bool, _ string) { leading <- v }, func(ctx context.Context) {
		if _, err := svc.Recover(ctx); err != nil {
			t.Errorf("recover: %v", err)
		}
		<-ctx.Done()
	})
	if _, err := io.WriteString(h.stdin, "approve "+r.ID+"\n"); err != nil {
		t.Fatal(err)
	}
	h.expect(t, "started")
	if st.Leading() {
		t.Fatal("this replica leads while the other is alive and leading")
	}
	mid, err := svc.Get(context.Background(), r.ID)
	if err != nil || mid.State != StateExecuting || mid.Runner == "" || mid.Runner == st.Replica() {
		t.Fatalf("while the other replica runs it: %+v %v", mid, err)
	}
	// Recovery by a replica that is not the leader leaves a live runner's request alone.
	if got, err := svc.Recover(context.Background()); err != nil || len(got) != 0 || len(ex.callsFor(r.ID)) != 0 {
		t.Fatalf("recover while the runner lives: %+v %v, calls %v", got, err, ex.callsFor(r.ID))
	}

	killed := time.Now()
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-leading:
		if !v {
			t.Fatal("leadership reported lost before it was won")
		}
	case <-time.After(time.Minute):
		t.Fatal("this replica did not become the leader within a minute of the kill")
	}
	var final Request
	select {
	case final = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the request was not resumed within a minute")
	}
	t.Logf("took over and finished %s after the kill", time.Since(killed).Round(time.Millisecond))
	if final.State != StateSucceeded || final.Attempts != 2 || final.Runner != st.Replica() {
		t.Fatalf("after the take-over: %+v", final)
	}
	if calls := ex.callsFor(r.ID); len(calls) != 1 || !calls[0].Resume {
		t.Fatalf("executor calls here = %+v, want one resume", calls)
	}
	if c := executions(t, ex.cli, prefix, r.ID); c != 2 {
		t.Fatalf("%d executions recorded, want 2 (the killed one and the resume)", c)
	}
	kinds := []EventKind{}
	hist, err := svc.History(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range hist {
		kinds = append(kinds, e.Kind)
	}
	if want := []EventKind{EventCreated, EventApproved, EventExecuting, EventExecuting, EventSucceeded}; fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("history %v, want %v", kinds, want)
	}
	if rep, err := svc.Verify(context.Background()); err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}
