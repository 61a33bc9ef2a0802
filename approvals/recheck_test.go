package approvals

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func (d *fakeDir) removeMember(group, user string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.members[group], user)
}

// failedEvent returns the last request_failed event of id.
func (h *harness) failedEvent(id string) Event {
	h.t.Helper()
	evs, err := h.svc.History(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == EventFailed {
			return evs[i]
		}
	}
	h.t.Fatalf("no request_failed event for %s in %+v", id, evs)
	return Event{}
}

// Item 5: what an approval rested on is checked again when the request is claimed,
// on the Decide path and in Recover, and a failed re-check never reaches the Executor.
func TestExecutionRechecksEligibilityAndProtection(t *testing.T) {
	tests := []struct {
		name   string
		policy func(*Policy)
		// run files and approves (or forces approved and recovers); change is applied
		// to the directory before the last step.
		run    func(h *harness, change func()) Request
		change func(h *harness)
		code   Code
		msg    string
	}{
		{
			name: "requester left the helpdesk group before the approval",
			run: func(h *harness, change func()) Request {
				r := h.submit(nil)
				change()
				got, err := h.svc.Decide(context.Background(), r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "")
				if err != nil {
					h.t.Fatalf("decide: %v", err)
				}
				return got
			},
			change: func(h *harness) { h.dir.removeMember(groupHelpdesk, oidRequester) },
			code:   ErrNotRequester, msg: "no longer an eligible member of the helpdesk group",
		},
		{
			name:   "first approver left the approvers group before the second approval",
			policy: func(p *Policy) { p.Protected = ProtectedTwoApprovers },
			run: func(h *harness, change func()) Request {
				r := h.submit(func(in *NewRequest) { in.Target.ObjectID = oidAdmin })
				if _, err := h.svc.Decide(context.Background(), r.ID, actor(oidApprover1, "Avery"), VerdictApprove, ""); err != nil {
					h.t.Fatal(err)
				}
				change()
				got, err := h.svc.Decide(context.Background(), r.ID, actor(oidApprover2, "Blake"), VerdictApprove, "")
				if err != nil {
					h.t.Fatalf("second approval: %v", err)
				}
				return got
			},
			change: func(h *harness) { h.dir.removeMember(groupApprovers, oidApprover1) },
			code:   ErrNotApprover, msg: "the approval by Avery no longer counts",
		},
		{
			name:   "target became a Global Administrator before Recover (refuse mode)",
			policy: func(p *Policy) { p.Resume = map[Action]bool{ActionReregister: true} },
			run: func(h *harness, change func()) Request {
				r := h.submit(nil)
				h.forceState(r.ID, StateApproved, actor(oidApprover1, "Avery"))
				change()
				h.reopen()
				if _, err := h.svc.Recover(context.Background()); err != nil {
					h.t.Fatalf("recover: %v", err)
				}
				return h.get(r.ID)
			},
			change: func(h *harness) { h.dir.protect(oidTarget, "holds the directory role Global Administrator") },
			code:   ErrProtectedTarget, msg: "Global Administrator",
		},
		{
			name: "target became protected under two-approvers mode with one approval",
			policy: func(p *Policy) {
				p.Protected = ProtectedTwoApprovers
				p.Resume = map[Action]bool{ActionReregister: true}
			},
			run: func(h *harness, change func()) Request {
				r := h.submit(nil)
				h.forceState(r.ID, StateApproved, actor(oidApprover1, "Avery"))
				change()
				h.reopen()
				if _, err := h.svc.Recover(context.Background()); err != nil {
					h.t.Fatalf("recover: %v", err)
				}
				return h.get(r.ID)
			},
			change: func(h *harness) { h.dir.protect(oidTarget, "holds the directory role Helpdesk Administrator") },
			code:   ErrProtectedTarget, msg: "needs 2 distinct approvals, but has 1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.policy)
			got := tc.run(h, func() { tc.change(h) })
			if got.State != StateFailed || !strings.Contains(got.Error, tc.msg) || got.Retryable {
				t.Fatalf("final = state %s, error %q, retryable %v; want failed with %q", got.State, got.Error, got.Retryable, tc.msg)
			}
			requireSentence(t, got.Error)
			if n := h.exec.total(); n != 0 {
				t.Fatalf("the executor ran %d times after a failed re-check", n)
			}
			if ev := h.failedEvent(got.ID); ev.Code != tc.code || !strings.Contains(ev.Detail, tc.msg) {
				t.Fatalf("failed event = %+v, want code %s", ev, tc.code)
			}
			h.mustVerify()
		})
	}
}

// Item 5: Recover does not run an approval older than the policy TTL.
func TestRecoverFailsAnApprovalTooOld(t *testing.T) {
	h := newHarness(t, func(p *Policy) { p.Resume = map[Action]bool{ActionReregister: true} })
	r := h.submit(nil)
	h.forceState(r.ID, StateApproved, actor(oidApprover1, "Avery"))
	h.clock.Advance(72 * time.Hour)
	h.reopen()
	got, err := h.svc.Recover(context.Background())
	if err != nil || len(got) != 1 {
		t.Fatalf("recover = %+v, %v", got, err)
	}
	if got[0].State != StateFailed || !strings.Contains(got[0].Error, "approval too old") || !strings.Contains(got[0].Error, "file it again") {
		t.Fatalf("final = %+v", got[0])
	}
	if h.exec.total() != 0 {
		t.Fatal("an approval 72 hours old was carried out")
	}
	if ev := h.failedEvent(r.ID); ev.Code != ErrExpired {
		t.Fatalf("failed event = %+v", ev)
	}
	h.mustVerify()
}

// Item 5: a directory that cannot be asked at claim time fails the request closed,
// as retryable, and an approver's Retry runs it once the directory answers.
func TestClaimFailsClosedWhenTheDirectoryIsDown(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	r := h.submit(nil)
	// The directory answers the decision's own checks, and fails right after the
	// approval is written; the write took longer than the claim may reuse the
	// decision's answers for (shareFor), so the claim asks again.
	down := errors.New("graph: 503 Service Unavailable")
	onAudit := func(e Event, _ Head) {
		if e.Kind == EventApproved {
			h.dir.setErrors(down, down)
			h.clock.Advance(shareFor + time.Second)
		}
	}
	svc, err := New(ctx, Options{Store: h.store, Directory: h.dir, Executor: h.exec, Policy: h.policy, Clock: h.clock.Now, OnAudit: onAudit})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	got, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "")
	if err != nil {
		t.Fatalf("decide: %v", err)
	}
	if got.State != StateFailed || !got.Retryable || !strings.Contains(got.Error, "directory could not be asked") {
		t.Fatalf("after a failed re-check = %+v", got)
	}
	if h.exec.total() != 0 {
		t.Fatal("the executor ran although the directory could not be asked")
	}
	if ev := h.failedEvent(r.ID); ev.Code != ErrDirectoryUnavailable {
		t.Fatalf("failed event = %+v", ev)
	}
	h.dir.setErrors(nil, nil)
	got, err = h.svc.Retry(ctx, r.ID, actor(oidApprover2, "Blake"))
	if err != nil || got.State != StateSucceeded || h.exec.total() != 1 {
		t.Fatalf("retry = %+v, %v (executor calls %d)", got, err, h.exec.total())
	}
	h.mustVerify()
}

// Item 6: a record set to approved in the file, with no approval in the chain, is
// refused as tampered, failed and audited; the chain itself is intact.
func TestRecoverRefusesAnApprovalMissingFromTheChain(t *testing.T) {
	tests := []struct {
		name string
		edit func(r *Request)
	}{
		{"state approved, no decisions", func(r *Request) { r.State = StateApproved }},
		{"state approved, a decision the chain never saw", func(r *Request) {
			r.State = StateApproved
			r.Decisions = []Decision{{By: actor(oidApprover1, "Avery"), At: r.Created, Verdict: VerdictApprove}}
		}},
		{"two needed, lowered to one, one forged", func(r *Request) {
			r.State = StateApproved
			r.ApprovalsNeeded = 1
			r.Decisions = []Decision{{By: actor(oidApprover2, "Blake"), At: r.Created, Verdict: VerdictApprove}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(p *Policy) { p.Resume = map[Action]bool{ActionReregister: true} })
			r := h.submit(nil)
			// Edit the record as someone with the file would: through the store,
			// without the Service and without an audit event.
			err := h.store.Update(context.Background(), func(tx Tx) error {
				cur, err := loadRequest(tx, r.ID)
				if err != nil {
					return err
				}
				tc.edit(&cur)
				b, err := encodeRequest(cur)
				if err != nil {
					return err
				}
				return tx.Put(bucketRequests, []byte(cur.ID), b)
			})
			if err != nil {
				t.Fatal(err)
			}
			h.reopen()
			if _, err := h.svc.Recover(context.Background()); err != nil {
				t.Fatalf("recover: %v", err)
			}
			if n := h.exec.total(); n != 0 {
				t.Fatalf("the executor ran %d times for a forged approval", n)
			}
			got := h.get(r.ID)
			if got.State != StateFailed || !strings.Contains(got.Error, "no longer matches what was filed") {
				t.Fatalf("final = %+v", got)
			}
			if ev := h.failedEvent(r.ID); ev.Code != ErrTampered {
				t.Fatalf("failed event = %+v", ev)
			}
			h.mustVerify() // the chain is intact: only the record was edited
		})
	}
}

// flakyStore fails the next n Update calls, as a full disk or an I/O error would.
type flakyStore struct {
	Store
	mu   sync.Mutex
	fail int
}

func (s *flakyStore) failNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = n
}

func (s *flakyStore) Update(ctx context.Context, fn func(Tx) error) error {
	s.mu.Lock()
	if s.fail > 0 {
		s.fail--
		s.mu.Unlock()
		return errors.New("write /var/lib/mfadesk/mfadesk.db: no space left on device")
	}
	s.mu.Unlock()
	return s.Store.Update(ctx, fn)
}

// Item 8: the executor records each step as it happens; when saving the result
// fails, the save is retried, and if it still fails the request stays executing and
// the next start resumes from the recorded steps without repeating them.
func TestStepsRecordedAsTheyHappen(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failSaves int // result saves that fail
		restart   bool
	}{
		{"one failed save is retried", 1, false},
		{"every save fails: resumed after a restart", resultSaveAttempts, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, func(p *Policy) { p.Resume = map[Action]bool{ActionRevoke: true} })
			resultSaveBackoff = time.Millisecond
			t.Cleanup(func() { resultSaveBackoff = 50 * time.Millisecond })
			flaky := &flakyStore{Store: h.store}
			svc, err := New(ctx, Options{Store: flaky, Directory: h.dir, Executor: h.exec, Policy: h.policy, Clock: h.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			var (
				mu      sync.Mutex
				revokes int
			)
			h.exec.fnRec = func(ctx context.Context, r Request, resume bool, record func(context.Context, Step) error) (Result, error) {
				for _, st := range r.Steps {
					if st.Name == "revoke sessions" && st.Outcome == "done" {
						return Result{}, nil // recorded done: never again
					}
				}
				mu.Lock()
				revokes++
				mu.Unlock()
				st := Step{Name: "revoke sessions", Outcome: "done", At: h.clock.Now()}
				if err := record(ctx, st); err != nil {
					return Result{}, err
				}
				flaky.failNext(tc.failSaves) // Graph succeeded; now the disk fails
				return Result{Steps: []Step{st}}, nil
			}
			r, err := svc.Submit(ctx, func() NewRequest {
				in := defaultNewRequest()
				in.Action, in.Methods = ActionRevoke, nil
				return in
			}())
			if err != nil {
				t.Fatal(err)
			}
			got, err := svc.Decide(ctx, r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "")
			if tc.restart {
				if err == nil || got.State != StateExecuting {
					t.Fatalf("decide with a failing disk = %+v, %v", got, err)
				}
				if st := h.get(r.ID); st.State != StateExecuting || len(st.Steps) != 1 {
					t.Fatalf("stored after the failed saves = %+v", st)
				}
				// A new request about the target says the open one is being carried out.
				_, err := svc.Submit(ctx, func() NewRequest {
					in := defaultNewRequest()
					in.Action, in.Methods, in.Requester = ActionRevoke, nil, actor(oidRequester2, "Sam")
					return in
				}())
				e := requireCode(t, err, ErrOpenRequestExists)
				if !strings.Contains(e.Msg, "being carried out") || strings.Contains(e.Msg, "decide or cancel") {
					t.Fatalf("refusal = %q", e.Msg)
				}
				h.reopen()
				if _, err := h.svc.Recover(ctx); err != nil {
					t.Fatalf("recover: %v", err)
				}
				got = h.get(r.ID)
			} else if err != nil {
				t.Fatalf("decide: %v", err)
			}
			if got.State != StateSucceeded || len(got.Steps) != 1 {
				t.Fatalf("final = %+v", got)
			}
			if revokes != 1 {
				t.Fatalf("the sign-out ran %d times", revokes)
			}
			h.mustVerify()
		})
	}
}

// typedNumber finds the number the tests type (+1 425 555 0199), however separated.
var typedNumber = regexp.MustCompile(`555[ ().\-]*0199|425[ ().\-]*555`)

// Item 10: phone numbers typed into free text are masked before they are stored and
// hashed, so the record, the export and the history hold none.
func TestPhoneNumbersMaskedBeforeHashing(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	r := h.submit(func(in *NewRequest) {
		in.Reason = "lost phone; called back on +1 425 555 0199 to confirm"
		in.Verification = Verification{Method: VerifyCallbackOnRecord, Detail: "HR number 425-555-0199 answered"}
	})
	if _, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "spoke to them at +1 (425) 555-0199"); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if err := h.store.View(ctx, func(tx Tx) error {
		// The stored record, as its bytes read once unpacked (pack.go).
		var err error
		raw, err = unpackRecord(bytes.Clone(tx.Get(bucketRequests, []byte(r.ID))))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var export bytes.Buffer
	if err := h.svc.Export(ctx, &export, time.Time{}); err != nil {
		t.Fatal(err)
	}
	hist, err := h.svc.History(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, e := range hist {
		details = append(details, e.Detail)
	}
	for name, text := range map[string]string{"stored record": string(raw), "audit export": export.String(), "history": strings.Join(details, "\n")} {
		if m := typedNumber.FindString(text); m != "" {
			t.Errorf("%s holds %q:\n%s", name, m, text)
		}
	}
	got := h.get(r.ID)
	if !strings.Contains(got.Reason, "+1 425•••••99") || !strings.Contains(got.Decisions[0].Justification, "425•••••99") {
		t.Fatalf("masked text = %q / %q", got.Reason, got.Decisions[0].Justification)
	}
	h.mustVerify()
}

// Item 18: a temporary failure can be retried by an approver while the approval is
// valid; everyone else is refused, and each refusal is audited.
func TestRetryAfterATemporaryFailure(t *testing.T) {
	ctx := context.Background()
	temporary := Transient(errors.New("reregister: Microsoft Graph is throttling the bot; try again in 1 s."))
	tests := []struct {
		name    string
		xerr    error // the first run's error
		prepare func(h *harness, r Request)
		by      Actor
		code    Code
		state   State // after the retry
	}{
		{name: "an approver retries", xerr: temporary, by: actor(oidApprover2, "Blake"), state: StateSucceeded},
		{name: "the approver who approved retries", xerr: temporary, by: actor(oidApprover1, "Avery"), state: StateSucceeded},
		{name: "the requester may not", xerr: temporary, by: actor(oidRequester, "Riley"), code: ErrSelfApproval},
		{name: "someone outside the approvers group may not", xerr: temporary, by: actor(oidOutsider, "Olly"), code: ErrNotApprover},
		{name: "the target may not", xerr: temporary, by: actor(oidTarget, "Alex"), code: ErrTargetIsActor,
			prepare: func(h *harness, _ Request) { h.dir.addMember(groupApprovers, oidTarget) }},
		{name: "a permanent failure is not retryable", xerr: errors.New("reregister: Microsoft Graph refused (403)"), by: actor(oidApprover2, "Blake"), code: ErrNotRetryable},
		{name: "not after the approval's validity", xerr: temporary, by: actor(oidApprover2, "Blake"), code: ErrExpired,
			prepare: func(h *harness, _ Request) { h.clock.Advance(31 * time.Minute) }},
		{name: "not while a newer request about the target is open", xerr: temporary, by: actor(oidApprover2, "Blake"), code: ErrOpenRequestExists,
			prepare: func(h *harness, _ Request) {
				h.submit(func(in *NewRequest) { in.Requester = actor(oidRequester2, "Sam") })
			}},
		{name: "the retry re-checks the requester", xerr: temporary, by: actor(oidApprover2, "Blake"), state: StateFailed,
			prepare: func(h *harness, _ Request) { h.dir.removeMember(groupHelpdesk, oidRequester) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			runs := 0
			h.exec.setFn(func(_ context.Context, r Request, resume bool) (Result, error) {
				runs++
				if runs == 1 {
					return Result{Steps: []Step{{Name: "list methods", Outcome: "failed"}}}, tc.xerr
				}
				if !resume {
					return Result{}, errors.New("a retry after a partial run must resume")
				}
				return Result{Steps: []Step{{Name: "revoke sessions", Outcome: "done"}}}, nil
			})
			r := h.submit(nil)
			first, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "")
			if err != nil || first.State != StateFailed || first.Retryable != isTransient(tc.xerr) {
				t.Fatalf("first run = %+v, %v", first, err)
			}
			if tc.prepare != nil {
				tc.prepare(h, r)
			}
			before := h.head()
			got, err := h.svc.Retry(ctx, r.ID, tc.by)
			if tc.code != "" {
				e := requireCode(t, err, tc.code)
				requireSentence(t, e.Msg)
				if runs != 1 || h.get(r.ID).State != StateFailed {
					t.Fatalf("a refused retry changed something: runs %d, %+v", runs, h.get(r.ID))
				}
				if evs := h.eventsAfter(before.Seq); len(evs) != 1 || evs[0].Kind != EventRefused || evs[0].Code != tc.code {
					t.Fatalf("events after a refused retry = %+v", evs)
				}
				return
			}
			if err != nil || got.State != tc.state {
				t.Fatalf("retry = %+v, %v", got, err)
			}
			if !slices.Contains(h.kinds(r.ID), EventRetried) {
				t.Fatalf("kinds = %v", h.kinds(r.ID))
			}
			wantRuns := 2
			if tc.state == StateFailed {
				wantRuns = 1 // re-checked and refused before running
			}
			if runs != wantRuns {
				t.Fatalf("executor ran %d times, want %d", runs, wantRuns)
			}
			if tc.state == StateSucceeded {
				if names := []string{got.Steps[0].Name, got.Steps[len(got.Steps)-1].Name}; !reflect.DeepEqual(names, []string{"list methods", "revoke sessions"}) {
					t.Fatalf("steps = %+v", got.Steps)
				}
			}
			h.mustVerify()
		})
	}
}

// Item 10: a number in the executor's own text (a step detail, an error from the
// directory) is masked before the result is stored and audited.
func TestExecutorTextMasked(t *testing.T) {
	h := newHarness(t, nil)
	h.exec.setFn(func(context.Context, Request, bool) (Result, error) {
		return Result{Steps: []Step{{Name: "delete method", Target: "mobile", Outcome: "failed", Detail: "Graph refused +1 425 555 0199"}}},
			errors.New("reregister: the phone +1 425 555 0199 could not be deleted")
	})
	r := h.submit(nil)
	got, err := h.svc.Decide(context.Background(), r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "")
	if err != nil || got.State != StateFailed {
		t.Fatalf("decide = %+v, %v", got, err)
	}
	var export bytes.Buffer
	if err := h.svc.Export(context.Background(), &export, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"error": got.Error, "step": got.Steps[0].Detail, "audit export": export.String()} {
		if m := typedNumber.FindString(text); m != "" {
			t.Errorf("%s holds %q: %s", name, m, text)
		}
	}
}
