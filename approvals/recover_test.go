package approvals

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Environment of the crash helper process (see TestMain).
const (
	helperEnv   = "MFADESK_APPROVALS_TEST_HELPER"
	helperDB    = "MFADESK_APPROVALS_TEST_DB"
	helperReq   = "MFADESK_APPROVALS_TEST_REQ"
	helperNow   = "MFADESK_APPROVALS_TEST_NOW"
	crashCode   = 42
	crashHelper = "crash-mid-execution"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == crashHelper {
		os.Exit(runCrashHelper())
	}
	os.Exit(m.Run())
}

// runCrashHelper is the child process: it approves the request and dies inside the
// executor, after approved → executing committed and before the result is recorded.
func runCrashHelper() int {
	ctx := context.Background()
	now, err := time.Parse(time.RFC3339Nano, os.Getenv(helperNow))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: bad clock:", err)
		return 2
	}
	st, err := OpenBolt(os.Getenv(helperDB), BoltOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	exe := &fakeExec{fn: func(context.Context, Request, bool) (Result, error) {
		os.Exit(crashCode) // the process is killed mid-execution
		return Result{}, nil
	}}
	svc, err := New(ctx, Options{Store: st, Directory: newFakeDir(), Executor: exe, Policy: basePolicy(),
		Clock: func() time.Time { return now }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	_, err = svc.Decide(ctx, os.Getenv(helperReq), actor(oidApprover1, "Avery"), VerdictApprove, "")
	fmt.Fprintln(os.Stderr, "helper: executor did not crash:", err)
	return 3
}

func TestCrashMidExecutionSubprocess(t *testing.T) {
	h := newHarness(t, func(p *Policy) { p.Resume = map[Action]bool{ActionReregister: true} })
	r := h.submit(nil)
	h.close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+crashHelper, helperDB+"="+h.path, helperReq+"="+r.ID,
		helperNow+"="+h.clock.Now().Format(time.RFC3339Nano))
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != crashCode {
		t.Fatalf("helper process: %v\n%s", err, out)
	}

	h.open()
	if got := h.get(r.ID); got.State != StateExecuting || got.Attempts != 1 {
		t.Fatalf("after the crash: %+v", got)
	}
	got, err := h.svc.Recover(context.Background())
	if err != nil || len(got) != 1 || got[0].State != StateSucceeded || got[0].Attempts != 2 {
		t.Fatalf("recover = %+v, %v", got, err)
	}
	if calls := h.exec.callsFor(r.ID); !reflect.DeepEqual(calls, []execCall{{r.ID, true}}) {
		t.Fatalf("executor calls after restart = %+v", calls)
	}
	want := []EventKind{EventCreated, EventApproved, EventExecuting, EventExecuting, EventSucceeded}
	if k := h.kinds(r.ID); !reflect.DeepEqual(k, want) {
		t.Fatalf("kinds = %v, want %v", k, want)
	}
	h.mustVerify()
}

func TestRecoverAfterRestart(t *testing.T) {
	tests := []struct {
		name     string
		left     State // state the dead process left
		resume   bool  // policy
		calls    []bool
		state    State
		attempts int
		errText  string
	}{
		{"approved, resumed: runs from the start", StateApproved, true, []bool{false}, StateSucceeded, 1, ""},
		{"executing, resumed: runs with resume", StateExecuting, true, []bool{true}, StateSucceeded, 2, ""},
		{"approved, not resumed: failed, nothing done", StateApproved, false, nil, StateFailed, 0, "nothing was done"},
		{"executing, not resumed: failed, check the user", StateExecuting, false, nil, StateFailed, 1, "partly changed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(p *Policy) { p.Resume = map[Action]bool{ActionReregister: tc.resume} })
			r := h.submit(nil)
			other := h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(9) }) // pending: left alone
			h.forceState(r.ID, tc.left, actor(oidApprover1, "Avery"))
			h.reopen()

			got, err := h.svc.Recover(context.Background())
			if err != nil || len(got) != 1 || got[0].ID != r.ID {
				t.Fatalf("recover = %+v, %v", got, err)
			}
			var calls []bool
			for _, c := range h.exec.callsFor(r.ID) {
				calls = append(calls, c.Resume)
			}
			if !reflect.DeepEqual(calls, tc.calls) {
				t.Fatalf("executor resume flags = %v, want %v", calls, tc.calls)
			}
			final := h.get(r.ID)
			if final.State != tc.state || final.Attempts != tc.attempts || !strings.Contains(final.Error, tc.errText) {
				t.Fatalf("final = %+v", final)
			}
			if h.get(other.ID).State != StatePending {
				t.Fatal("recover touched a pending request")
			}
			// A second Recover finds nothing to do.
			if again, err := h.svc.Recover(context.Background()); err != nil || len(again) != 0 {
				t.Fatalf("second recover = %+v, %v", again, err)
			}
			h.mustVerify()
		})
	}
}

// Recover must not start a second run of a request this process is executing.
func TestRecoverSkipsRequestRunningHere(t *testing.T) {
	for _, resume := range []bool{true, false} {
		t.Run(fmt.Sprintf("resume=%v", resume), func(t *testing.T) {
			h := newHarness(t, func(p *Policy) { p.Resume = map[Action]bool{ActionReregister: resume} })
			entered, release := make(chan struct{}), make(chan struct{})
			h.exec.setFn(func(context.Context, Request, bool) (Result, error) {
				close(entered)
				<-release
				return Result{}, nil
			})
			r := h.submit(nil)
			done := make(chan Request, 1)
			go func() {
				got, err := h.svc.Decide(context.Background(), r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "")
				if err != nil {
					t.Errorf("decide: %v", err)
				}
				done <- got
			}()
			<-entered
			got, err := h.svc.Recover(context.Background())
			if err != nil || len(got) != 0 {
				t.Fatalf("recover during execution = %+v, %v", got, err)
			}
			if st := h.get(r.ID).State; st != StateExecuting {
				t.Fatalf("state during execution = %s", st)
			}
			close(release)
			if final := <-done; final.State != StateSucceeded {
				t.Fatalf("final = %+v", final)
			}
			if n := len(h.exec.callsFor(r.ID)); n != 1 {
				t.Fatalf("executed %d times", n)
			}
		})
	}
}
