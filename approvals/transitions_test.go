package approvals

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

// Every transition of the table is one the Service makes: each scenario below drives
// the public methods, and the moves seen through OnChange are exactly the table's.
func TestTransitionsTableIsReachable(t *testing.T) {
	ctx := context.Background()
	approver1, approver2 := actor(oidApprover1, "Avery"), actor(oidApprover2, "Blake")
	seen := map[[2]State]bool{}
	last := map[string]State{} // request ids are unique across harnesses
	observe := func(h *harness) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, r := range h.changes {
			seen[[2]State{last[r.ID], r.State}] = true
			last[r.ID] = r.State
		}
		h.changes = nil
	}
	// force is forceState, whose one transaction stands for a crash's aftermath and
	// makes two moves at once: only the state it leaves counts as the start.
	force := func(h *harness, id string, st State) {
		observe(h)
		h.forceState(id, st, actor(oidApprover1, "Avery"))
		h.mu.Lock()
		h.changes = nil
		h.mu.Unlock()
		last[id] = st
	}
	target := func(n int) func(*NewRequest) {
		return func(in *NewRequest) { in.Target.ObjectID = numberedOID(n) }
	}
	must := func(_ Request, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Filed, approved, carried out with a recorded step: "" → pending → approved →
	// executing → executing → succeeded.
	h := newHarness(t, nil)
	h.exec.fnRec = func(ctx context.Context, r Request, _ bool, record func(context.Context, Step) error) (Result, error) {
		st := Step{Name: "revoke sessions", Outcome: "done"}
		if err := record(ctx, st); err != nil {
			return Result{}, err
		}
		return Result{Steps: []Step{st}}, nil
	}
	must(h.svc.Decide(ctx, h.submit(target(1)).ID, approver1, VerdictApprove, ""))
	// Denied, cancelled, expired.
	must(h.svc.Decide(ctx, h.submit(target(2)).ID, approver1, VerdictDeny, ""))
	must(h.svc.Cancel(ctx, h.submit(target(3)).ID, actor(oidRequester, "Riley")))
	h.submit(target(4))
	h.clock.Advance(31 * time.Minute)
	if _, err := h.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	observe(h)

	// A protected target needs two approvals: the first keeps it pending.
	h = newHarness(t, func(p *Policy) { p.Protected = ProtectedTwoApprovers })
	r := h.submit(func(in *NewRequest) { in.Target.ObjectID = oidAdmin })
	must(h.svc.Decide(ctx, r.ID, approver1, VerdictApprove, ""))
	must(h.svc.Decide(ctx, r.ID, approver2, VerdictApprove, ""))
	observe(h)

	// A temporary failure, then Retry: executing → failed → approved.
	h = newHarness(t, nil)
	fail := true
	h.exec.setFn(func(context.Context, Request, bool) (Result, error) {
		if fail {
			fail = false
			return Result{}, Transient(errors.New("Graph throttled"))
		}
		return Result{}, nil
	})
	r = h.submit(nil)
	must(h.svc.Decide(ctx, r.ID, approver1, VerdictApprove, ""))
	must(h.svc.Retry(ctx, r.ID, approver2))
	observe(h)

	// A restart finds one request approved and one executing; the policy resumes
	// neither (approved → failed, executing → failed) …
	h = newHarness(t, nil)
	a, x := h.submit(target(5)), h.submit(target(6))
	force(h, a.ID, StateApproved)
	force(h, x.ID, StateExecuting)
	if _, err := h.svc.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	observe(h)
	// … or resumes it: executing → executing (re-claimed) → succeeded.
	h = newHarness(t, func(p *Policy) { p.Resume = map[Action]bool{ActionReregister: true} })
	x = h.submit(nil)
	force(h, x.ID, StateExecuting)
	if _, err := h.svc.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	observe(h)

	// Bulk runs: executing → paused after the canary; Continue → executing; Stop →
	// stopped; a Continue whose claim fails (the requester left the helpdesk group)
	// → failed.
	for _, end := range []string{"continue", "stop", "refused"} {
		h, _ = newBulkHarness(t, claimedEvidence)
		r = h.submit(func(in *NewRequest) { *in = bulkRequest(4) })
		must(h.svc.Decide(ctx, r.ID, approver1, VerdictApprove, ""))
		h.svc.WaitBulk()
		switch end {
		case "continue":
			must(h.svc.BulkContinue(ctx, r.ID, approver1))
		case "stop":
			must(h.svc.BulkStop(ctx, r.ID, approver1))
		case "refused":
			h.dir.mu.Lock()
			delete(h.dir.members[groupHelpdesk], oidRequester)
			h.dir.mu.Unlock()
			must(h.svc.BulkContinue(ctx, r.ID, approver1))
		}
		h.svc.WaitBulk()
		observe(h)
	}

	want := map[[2]State]bool{}
	for from, tos := range transitions {
		for _, to := range tos {
			want[[2]State{from, to}] = true
		}
	}
	for tr := range want {
		if !seen[tr] {
			t.Errorf("transition %q → %q is in the table but no scenario made it", tr[0], tr[1])
		}
	}
	for tr := range seen {
		if !want[tr] {
			t.Errorf("the Service made %q → %q, which the table does not list", tr[0], tr[1])
		}
	}
	if t.Failed() {
		t.Logf("seen: %v", slices.Collect(maps.Keys(seen)))
	}
}

// A write that the state machine does not allow is refused as a bug, and nothing
// is written: a finished request can't be reopened, a new one can't start approved.
func TestIllegalTransitionRefused(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	done := h.submit(nil)
	if _, err := h.svc.Decide(ctx, done.ID, actor(oidApprover1, "Avery"), VerdictApprove, ""); err != nil {
		t.Fatal(err)
	}
	before := h.get(done.ID)
	if before.State != StateSucceeded {
		t.Fatalf("state %s", before.State)
	}
	cases := []struct {
		name string
		edit func(w *wtx) (*Request, error)
	}{
		{"succeeded back to pending", func(w *wtx) (*Request, error) {
			r, err := loadRequest(w.tx, done.ID)
			r.State = StatePending
			return &r, err
		}},
		{"succeeded to approved", func(w *wtx) (*Request, error) {
			r, err := loadRequest(w.tx, done.ID)
			r.State = StateApproved
			return &r, err
		}},
		{"a new request stored as approved", func(w *wtx) (*Request, error) {
			r := before
			r.ID = "R-" + fmt.Sprintf("%026d", 7)
			r.State = StateApproved
			return &r, nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := h.svc.update(ctx, func(w *wtx) error {
				r, err := c.edit(w)
				if err != nil {
					return err
				}
				return w.save(r)
			})
			if !errors.Is(err, errIllegalTransition) {
				t.Fatalf("save: %v, want an illegal transition", err)
			}
			if got := h.get(done.ID); got.State != before.State || !got.Updated.Equal(before.Updated) {
				t.Fatalf("record changed: %s at %v", got.State, got.Updated)
			}
		})
	}
	if n := len(h.allRequests()); n != 1 {
		t.Fatalf("%d requests stored", n)
	}
}
