package approvals

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestApproveRunsExecutorOnceAndAuditsEachStep(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	r := h.submit(nil)
	if r.State != StatePending || r.ApprovalsNeeded != 1 || !r.Expires.Equal(r.Created.Add(30*time.Minute)) ||
		len(r.Methods) != 2 || !strings.HasPrefix(r.ID, "R-") || len(r.ID) != 28 {
		t.Fatalf("filed request = %+v", r)
	}
	// Typed in lower case from the card: still the same request.
	got, err := h.svc.Decide(ctx, strings.ToLower(r.ID), actor(oidApprover1, "Avery"), VerdictApprove, "saw the video call")
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if got.State != StateSucceeded || got.Attempts != 1 || len(got.Steps) != 1 || len(got.Decisions) != 1 ||
		got.Decisions[0].Justification != "saw the video call" {
		t.Fatalf("after approval = %+v", got)
	}
	if calls := h.exec.callsFor(r.ID); !reflect.DeepEqual(calls, []execCall{{r.ID, false}}) {
		t.Fatalf("executor calls = %+v", calls)
	}
	want := []EventKind{EventCreated, EventApproved, EventExecuting, EventSucceeded}
	if k := h.kinds(r.ID); !reflect.DeepEqual(k, want) {
		t.Fatalf("audit kinds = %v, want %v", k, want)
	}
	h.mu.Lock()
	var states []State
	for _, c := range h.changes {
		states = append(states, c.State)
	}
	audits, heads := slices.Clone(h.audits), slices.Clone(h.heads)
	h.mu.Unlock()
	if want := []State{StatePending, StateApproved, StateExecuting, StateSucceeded}; !reflect.DeepEqual(states, want) {
		t.Fatalf("OnChange states = %v, want %v", states, want)
	}
	if len(audits) != 4 || heads[len(heads)-1] != h.head() {
		t.Fatalf("OnAudit got %d events, last head %+v, store head %+v", len(audits), heads[len(heads)-1], h.head())
	}
	for i, e := range audits {
		if e.Seq != uint64(i+1) || heads[i].Seq < e.Seq {
			t.Fatalf("OnAudit event %d = seq %d with head %d", i, e.Seq, heads[i].Seq)
		}
	}
	if ev := audits[0]; ev.Digest == "" || ev.Actor.ObjectID != oidRequester || strings.Contains(ev.Detail, "driving licence") {
		t.Fatalf("created event = %+v (the verification free text must stay out of audit lines)", ev)
	}
	// The target is free again for a new request.
	h.submit(nil)
	h.mustVerify()
}

func TestDenyAndCancel(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	r := h.submit(nil)
	got, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Avery"), VerdictDeny, "caller could not answer the callback")
	if err != nil || got.State != StateDenied {
		t.Fatalf("deny = %+v, %v", got, err)
	}
	r2 := h.submit(nil)
	got, err = h.svc.Cancel(ctx, r2.ID, actor(oidRequester, "Riley"))
	if err != nil || got.State != StateCancelled {
		t.Fatalf("cancel = %+v, %v", got, err)
	}
	if h.exec.total() != 0 {
		t.Fatal("executor ran for a denied or cancelled request")
	}
	if k := h.kinds(r2.ID); !reflect.DeepEqual(k, []EventKind{EventCreated, EventCancelled}) {
		t.Fatalf("kinds = %v", k)
	}
	open, err := h.svc.OpenRequests(ctx)
	if err != nil || len(open) != 0 {
		t.Fatalf("open = %+v, %v", open, err)
	}
	h.mustVerify()
}

func TestTwoDistinctApproversForProtectedTarget(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, func(p *Policy) { p.Protected = ProtectedTwoApprovers })
	r := h.submit(func(in *NewRequest) { in.Target.ObjectID = oidAdmin })
	if r.ApprovalsNeeded != 2 || !r.Protection.Protected || r.Protection.Reasons[0] != "directory role Global Administrator" {
		t.Fatalf("filed = %+v", r)
	}
	got, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "")
	if err != nil || got.State != StatePending || len(got.Approvals()) != 1 || h.exec.total() != 0 {
		t.Fatalf("first approval = %+v, %v", got, err)
	}
	got, err = h.svc.Decide(ctx, r.ID, actor(oidApprover2, "Blake"), VerdictApprove, "")
	if err != nil || got.State != StateSucceeded || len(got.Approvals()) != 2 {
		t.Fatalf("second approval = %+v, %v", got, err)
	}
	if n := len(h.exec.callsFor(r.ID)); n != 1 {
		t.Fatalf("executed %d times", n)
	}
	evs, _ := h.svc.History(ctx, r.ID)
	if evs[1].Detail != "approval 1 of 2" || evs[1].State != StatePending || evs[2].Detail != "approval 2 of 2" {
		t.Fatalf("approval events = %+v", evs[1:3])
	}
}

func TestProtectionGainedAfterFilingRaisesApprovals(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, func(p *Policy) { p.Protected = ProtectedTwoApprovers })
	r := h.submit(nil)
	h.dir.protect(oidTarget, "directory role Helpdesk Administrator")
	got, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "")
	if err != nil || got.State != StatePending || got.ApprovalsNeeded != 2 || !got.Protection.Protected {
		t.Fatalf("approval after the target gained a role = %+v, %v", got, err)
	}
	got, err = h.svc.Decide(ctx, r.ID, actor(oidApprover2, "Blake"), VerdictApprove, "")
	if err != nil || got.State != StateSucceeded {
		t.Fatalf("second approval = %+v, %v", got, err)
	}
}

func TestExecutorOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		fn        func(context.Context, Request, bool) (Result, error)
		state     State
		errSubstr string
		steps     int
	}{
		{"error keeps the steps done", func(context.Context, Request, bool) (Result, error) {
			return Result{Steps: []Step{
				{Name: "delete_method", Target: "Pixel 8", Outcome: "ok"},
				{Name: "delete_method", Target: "+1 *** *** 0142", Outcome: "failed", Detail: "403"},
			}}, errors.New("delete phone method: 403 Forbidden")
		}, StateFailed, "403 Forbidden", 2},
		{"panic is a failure, not a crash", func(context.Context, Request, bool) (Result, error) {
			panic("nil map in executor")
		}, StateFailed, "panicked", 0},
		{"success", nil, StateSucceeded, "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.exec.setFn(tc.fn)
			r := h.submit(nil)
			got, err := h.svc.Decide(context.Background(), r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "")
			if err != nil {
				t.Fatalf("decide: %v", err)
			}
			if got.State != tc.state || !strings.Contains(got.Error, tc.errSubstr) || len(got.Steps) != tc.steps {
				t.Fatalf("result = %+v", got)
			}
			evs, _ := h.svc.History(context.Background(), r.ID)
			last := evs[len(evs)-1]
			if last.State != tc.state || (tc.errSubstr != "" && !strings.Contains(last.Detail, tc.errSubstr)) {
				t.Fatalf("last event = %+v", last)
			}
			h.submit(nil) // a finished request, failed or not, no longer blocks the target
		})
	}
}

// A chat handler's context ends soon after the click; execution must not inherit it.
func TestExecutionOutlivesCallerContext(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.exec.setFn(func(ectx context.Context, r Request, _ bool) (Result, error) {
		cancel() // the caller gives up mid-execution
		if ectx.Err() != nil {
			return Result{}, errors.New("executor context was cancelled with the caller's")
		}
		if _, ok := ectx.Deadline(); !ok {
			return Result{}, errors.New("executor context has no deadline")
		}
		return Result{}, nil
	})
	r := h.submit(nil)
	got, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "")
	if err != nil || got.State != StateSucceeded {
		t.Fatalf("decide = %+v, %v", got, err)
	}
}

func TestExpiryInline(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		call func(h *harness, id string) error
		by   string
	}{
		{"approve", func(h *harness, id string) error {
			_, err := h.svc.Decide(ctx, id, actor(oidApprover1, "Avery"), VerdictApprove, "")
			return err
		}, oidApprover1},
		{"deny", func(h *harness, id string) error {
			_, err := h.svc.Decide(ctx, id, actor(oidApprover1, "Avery"), VerdictDeny, "")
			return err
		}, oidApprover1},
		{"cancel", func(h *harness, id string) error {
			_, err := h.svc.Cancel(ctx, id, actor(oidRequester, "Riley"))
			return err
		}, oidRequester},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			r := h.submit(nil)
			head := h.head()
			h.clock.Advance(30 * time.Minute) // exactly at expiry counts as expired
			err := tc.call(h, r.ID)
			e := requireCode(t, err, ErrExpired)
			requireSentence(t, e.Msg)
			if got := h.get(r.ID); got.State != StateExpired || len(got.Decisions) != 0 {
				t.Fatalf("after a late %s: %+v", tc.name, got)
			}
			evs := h.eventsAfter(head.Seq)
			if len(evs) != 2 || evs[0].Kind != EventExpired || evs[0].Actor != (Actor{}) ||
				evs[1].Kind != EventRefused || evs[1].Code != ErrExpired || evs[1].Actor.ObjectID != tc.by {
				t.Fatalf("events = %+v", evs)
			}
			if h.exec.total() != 0 {
				t.Fatal("an expired request ran")
			}
			// A second late click is refused the same way, with nothing left to expire.
			requireCode(t, tc.call(h, r.ID), ErrExpired)
			h.mustVerify()
		})
	}
}

func TestSweepExpiresOnlyDuePendingRequests(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	first := h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(1) })
	h.clock.Advance(10 * time.Minute)
	second := h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(2) })
	done := h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(3) })
	if _, err := h.svc.Decide(ctx, done.ID, actor(oidApprover1, "Avery"), VerdictApprove, ""); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(25 * time.Minute) // first expired at +30, second expires at +40

	got, err := h.svc.Sweep(ctx)
	if err != nil || len(got) != 1 || got[0].ID != first.ID || got[0].State != StateExpired {
		t.Fatalf("sweep = %+v, %v", got, err)
	}
	if got, _ := h.svc.Sweep(ctx); len(got) != 0 {
		t.Fatalf("second sweep expired again: %+v", got)
	}
	h.clock.Advance(5 * time.Minute)
	if got, _ := h.svc.Sweep(ctx); len(got) != 1 || got[0].ID != second.ID {
		t.Fatalf("later sweep = %+v", got)
	}
	if h.get(done.ID).State != StateSucceeded {
		t.Fatal("sweep touched a finished request")
	}
	if k := h.kinds(first.ID); !reflect.DeepEqual(k, []EventKind{EventCreated, EventExpired}) {
		t.Fatalf("kinds = %v", k)
	}
	h.mustVerify()
}

func TestRunSweepsUntilCancelled(t *testing.T) {
	h := newHarness(t, nil)
	r := h.submit(nil)
	h.clock.Advance(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.svc.Run(ctx, time.Millisecond) }()

	timeout := time.After(10 * time.Second)
	for h.get(r.ID).State != StateExpired {
		select {
		case <-h.notify:
		case <-timeout:
			t.Fatal("Run did not expire the request")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop after cancel")
	}
	if err := h.svc.Run(context.Background(), 0); err == nil {
		t.Fatal("Run accepted a zero interval")
	}
}

func TestExpiredRequestDoesNotBlockANewOne(t *testing.T) {
	h := newHarness(t, nil)
	old := h.submit(nil)
	h.clock.Advance(31 * time.Minute)
	fresh := h.submit(nil) // no sweeper ran
	if h.get(old.ID).State != StateExpired || fresh.State != StatePending {
		t.Fatalf("old %s, new %s", h.get(old.ID).State, fresh.State)
	}
	h.mustVerify()
}

func TestRateLimitCountsStoredRequestsAcrossRestart(t *testing.T) {
	h := newHarness(t, func(p *Policy) { p.RateLimit = 2 })
	for i := 1; i <= 2; i++ {
		r := h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(i) })
		if _, err := h.svc.Cancel(context.Background(), r.ID, actor(oidRequester, "Riley")); err != nil {
			t.Fatal(err) // cancelled requests still count: filing is what is limited
		}
	}
	h.reopen()
	_, err := h.svc.Submit(context.Background(), defaultNewRequest())
	e := requireCode(t, err, ErrRateLimited)
	if !strings.Contains(e.Msg, "2025-03-01 11:00 UTC") {
		t.Fatalf("message %q does not say when to retry", e.Msg)
	}
	// Another requester is not limited by Riley's requests.
	h.submit(func(in *NewRequest) { in.Requester = actor(oidRequester2, "Sam") })
	h.clock.Advance(time.Hour)
	h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(3) })
}

func TestParseID(t *testing.T) {
	id, err := newID()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in string
		ok bool
	}{
		{id, true},
		{strings.ToLower(id), true},
		{"  " + strings.TrimPrefix(id, "R-") + " ", true},
		{"", false},
		{"R-", false},
		{id + "A", false},
		{id[:len(id)-1], false},
		{"R-" + strings.Repeat("1", 26), false}, // 1 is not base32
		{"R-AAAAAAAAAAAAAAAAAAAAAAAAAB", false}, // non-zero padding bits: not canonical
		{strings.Repeat("x", 5000), false},
	}
	for _, tc := range tests {
		got, err := ParseID(tc.in)
		if tc.ok != (err == nil) || (tc.ok && got != id) {
			t.Errorf("ParseID(%.40q) = %q, %v", tc.in, got, err)
		}
		if err != nil {
			requireCode(t, err, ErrInvalid)
			requireSentence(t, UserMessage(err))
		}
	}
	seen := map[string]bool{}
	for range 1000 {
		id, _ := newID()
		if seen[id] {
			t.Fatal("duplicate id")
		}
		seen[id] = true
	}
}

func TestListAndOpenRequests(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	a := h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(1) })
	h.clock.Advance(time.Minute)
	b := h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(2) })
	if _, err := h.svc.Decide(ctx, a.ID, actor(oidApprover1, "Avery"), VerdictDeny, "no"); err != nil {
		t.Fatal(err)
	}
	all := h.allRequests()
	if len(all) != 2 || all[0].ID != b.ID {
		t.Fatalf("list = %+v (want newest first)", all)
	}
	denied, _ := h.svc.List(ctx, ListFilter{States: []State{StateDenied}})
	byTarget, _ := h.svc.List(ctx, ListFilter{TargetObjectID: strings.ToUpper(numberedOID(2))})
	limited, _ := h.svc.List(ctx, ListFilter{Limit: 1})
	if len(denied) != 1 || denied[0].ID != a.ID || len(byTarget) != 1 || byTarget[0].ID != b.ID || len(limited) != 1 {
		t.Fatalf("filters: denied %v, by target %v, limited %v", denied, byTarget, limited)
	}
	open, err := h.svc.OpenRequests(ctx)
	if err != nil || len(open) != 1 || open[0].ID != b.ID {
		t.Fatalf("open = %+v, %v", open, err)
	}
}
