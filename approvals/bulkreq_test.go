package approvals

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// bulkWorker is a BulkWork that counts, per user, the runs that finished (an
// interrupted run does not count: its outcome is not stored and it runs again).
type bulkWorker struct {
	mu       sync.Mutex
	finished map[string]int
	// block, if set, makes the run of that user wait for its context to end, after
	// closing reached.
	block   string
	reached chan struct{}
}

func newBulkWorker() *bulkWorker {
	return &bulkWorker{finished: map[string]int{}, reached: make(chan struct{})}
}

func (b *bulkWorker) work(ctx context.Context, u BulkUser) (BulkResult, error) {
	b.mu.Lock()
	block := b.block
	b.mu.Unlock()
	if u.ObjectID == block {
		close(b.reached)
		<-ctx.Done()
		return BulkResult{}, ctx.Err()
	}
	b.mu.Lock()
	b.finished[u.ObjectID]++
	b.mu.Unlock()
	return BulkResult{Outcome: BulkDone, Detail: "2 methods deleted"}, nil
}

func (b *bulkWorker) total() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.finished {
		n += c
	}
	return n
}

func newBulkHarness(t *testing.T, policy func(*Policy)) (*harness, *bulkWorker) {
	t.Helper()
	h := newHarness(t, policy)
	w := newBulkWorker()
	h.options = func(o *Options) { o.BulkWork = w.work }
	h.reopen()
	return h, w
}

func bulkSetUsers(n int) []BulkUser {
	out := make([]BulkUser, n)
	for i := range out {
		out[i] = BulkUser{ObjectID: numberedOID(i + 1), UPN: fmt.Sprintf("user%d@contoso.com", i+1),
			Methods: []MethodRef{{ID: fmt.Sprintf("m%d", i+1), Type: "microsoftAuthenticator", Label: "Pixel 8"}}}
	}
	return out
}

func bulkRequest(n int) NewRequest {
	in := defaultNewRequest()
	in.Target, in.Methods = Target{}, nil
	in.Bulk = &BulkSet{Source: "group mfa-rollback-affected", Users: bulkSetUsers(n)}
	return in
}

// claimedEvidence lets one approver suffice for a small set (the default wants each
// user's confirmation, which a set replaces with a second approver).
func claimedEvidence(p *Policy) {
	p.MinEvidence = map[Action]Minimum{ActionReregister: MinimumClaimed}
}

// TestBulkRequestApprovalsBySize: above the configured size two distinct approvers
// are required; at it, one; and when the policy wants each user's confirmation, two.
func TestBulkRequestApprovalsBySize(t *testing.T) {
	cases := []struct {
		name   string
		users  int
		policy func(*Policy)
		want   int
	}{
		{"at the size", 20, claimedEvidence, 1},
		{"above the size", 21, claimedEvidence, 2},
		{"configured size", 4, func(p *Policy) { claimedEvidence(p); p.BulkTwoApproversAbove = 3 }, 2},
		{"confirmation wanted", 2, func(p *Policy) { p.MinEvidence = DefaultMinEvidence() }, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, w := newBulkHarness(t, c.policy)
			r, err := h.svc.Submit(t.Context(), bulkRequest(c.users))
			if err != nil {
				t.Fatal(err)
			}
			if r.ApprovalsNeeded != c.want {
				t.Fatalf("approvals needed = %d, want %d", r.ApprovalsNeeded, c.want)
			}
			r, err = h.svc.Decide(t.Context(), r.ID, actor(oidApprover1, "A1"), VerdictApprove, "")
			if err != nil {
				t.Fatal(err)
			}
			h.svc.WaitBulk()
			if c.want == 2 {
				if r.State != StatePending || w.total() != 0 {
					t.Fatalf("after one approval: %s, %d users run; want pending, none", r.State, w.total())
				}
				if _, err := h.svc.Decide(t.Context(), r.ID, actor(oidApprover1, "A1"), VerdictApprove, ""); err == nil {
					t.Fatal("the same approver counted twice")
				}
				if _, err := h.svc.Decide(t.Context(), r.ID, actor(oidApprover2, "A2"), VerdictApprove, ""); err != nil {
					t.Fatal(err)
				}
				h.svc.WaitBulk()
			}
			// A set of two is all canary: it ends without a pause, each user run once.
			want := StatePaused
			if c.users <= 2 {
				want = StateSucceeded
			}
			if got := h.get(r.ID); got.State != want || w.total() != 2 {
				t.Fatalf("after approval: %s, %d users run; want %s after the 2 canary users", got.State, w.total(), want)
			}
		})
	}
}

// TestBulkRequestMaxRefused: more users than the configured maximum is refused in
// one line naming it, and nothing is stored.
func TestBulkRequestMaxRefused(t *testing.T) {
	h, _ := newBulkHarness(t, func(p *Policy) { p.BulkMax = 5 })
	in := bulkRequest(5)
	in.Bulk.Skipped = map[string][]string{"guest account": {"g@x.com"}}
	_, err := h.svc.Submit(t.Context(), in)
	e := requireCode(t, err, ErrInvalid)
	requireSentence(t, e.Msg)
	if !strings.Contains(e.Msg, "at most 5 users; this one names 6") {
		t.Fatalf("refusal %q does not name the limit", e.Msg)
	}
	if n := len(h.allRequests()); n != 0 {
		t.Fatalf("%d requests stored", n)
	}
}

// TestBulkFilingSkipsOpenAndFrozen: a user with an open request, or frozen, is
// skipped and counted; once filed, the set holds its users against other requests.
func TestBulkFilingSkipsOpenAndFrozen(t *testing.T) {
	h, _ := newBulkHarness(t, claimedEvidence)
	users := bulkSetUsers(4)
	single := h.submit(func(in *NewRequest) { in.Target = Target{ObjectID: users[0].ObjectID, UPN: users[0].UPN} })
	if _, err := h.svc.NotMe(t.Context(), Target{ObjectID: users[1].ObjectID, UPN: users[1].UPN}, actor(users[1].ObjectID, "U2"), "a call"); err != nil {
		t.Fatal(err)
	}
	r, err := h.svc.Submit(t.Context(), bulkRequest(4))
	if err != nil {
		t.Fatal(err)
	}
	want := "2 eligible; 1 skipped: already has an open request; 1 skipped: frozen (said a request was not them)"
	if got := r.Bulk.Counts(); got != want {
		t.Fatalf("counts = %q, want %q", got, want)
	}
	_, err = h.svc.Submit(t.Context(), func() NewRequest {
		in := defaultNewRequest()
		in.Requester = actor(oidRequester2, "R2")
		in.Target = Target{ObjectID: users[2].ObjectID, UPN: users[2].UPN}
		return in
	}())
	requireCode(t, err, ErrOpenRequestExists)
	// An approver who is one of the users may not decide.
	h.dir.addMember(groupApprovers, users[3].ObjectID)
	_, err = h.svc.Decide(t.Context(), r.ID, actor(users[3].ObjectID, "U4"), VerdictApprove, "")
	requireCode(t, err, ErrTargetIsActor)
	_ = single
}

// TestBulkContinueStop: after the canary, Continue or Stop is accepted from the
// requester or an approver of the request only; Stop leaves the rest untouched,
// Continue runs them, each once; every step is in the audit log.
func TestBulkContinueStop(t *testing.T) {
	for _, c := range []struct {
		name  string
		by    Actor
		cont  bool
		state State
		run   int
	}{
		{"requester stops", actor(oidRequester, "Riley"), false, StateStopped, 2},
		{"approver continues", actor(oidApprover1, "A1"), true, StateSucceeded, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, w := newBulkHarness(t, claimedEvidence)
			h.dir.addMember(groupApprovers, oidOutsider)
			r, err := h.svc.Submit(t.Context(), bulkRequest(5))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.svc.Decide(t.Context(), r.ID, actor(oidApprover1, "A1"), VerdictApprove, ""); err != nil {
				t.Fatal(err)
			}
			h.svc.WaitBulk()
			if got := h.get(r.ID); got.State != StatePaused || len(got.Steps) != 2 || got.BulkRun == nil || got.BulkRun.Done != 2 {
				t.Fatalf("after the canary: %s, steps %v, run %+v", got.State, got.Steps, got.BulkRun)
			}
			// An approver of the group who did not approve this request is a stranger to it.
			for _, stranger := range []Actor{actor(oidOutsider, "Olly"), actor(oidApprover2, "A2"), {Platform: "slack", ChatID: "UX"}} {
				for _, press := range []func(context.Context, string, Actor) (Request, error){h.svc.BulkContinue, h.svc.BulkStop} {
					_, err := press(t.Context(), r.ID, stranger)
					e := requireCode(t, err, ErrNotApprover)
					requireSentence(t, e.Msg)
				}
			}
			h.svc.WaitBulk()
			if got := h.get(r.ID); got.State != StatePaused || w.total() != 2 {
				t.Fatalf("after strangers pressed: %s, %d run", got.State, w.total())
			}
			press := h.svc.BulkStop
			if c.cont {
				press = h.svc.BulkContinue
			}
			if _, err := press(t.Context(), r.ID, c.by); err != nil {
				t.Fatal(err)
			}
			h.svc.WaitBulk()
			got := h.get(r.ID)
			if got.State != c.state || w.total() != c.run {
				t.Fatalf("state %s, %d users run; want %s, %d", got.State, w.total(), c.state, c.run)
			}
			for oid, n := range w.finished {
				if n != 1 {
					t.Errorf("user %s ran %d times", oid, n)
				}
			}
			res, err := h.svc.BulkResults(t.Context(), r.ID)
			if err != nil || len(res) != c.run {
				t.Fatalf("results: %d, %v; want %d", len(res), err, c.run)
			}
			kinds := h.kinds(r.ID)
			for _, k := range []EventKind{EventCreated, EventApproved, EventExecuting, EventBulkPaused} {
				if !slices.Contains(kinds, k) {
					t.Errorf("no %s in %v", k, kinds)
				}
			}
			wantEnd := EventBulkStopped
			if c.cont {
				wantEnd = EventSucceeded
				if !slices.Contains(kinds, EventBulkContinued) {
					t.Errorf("no %s in %v", EventBulkContinued, kinds)
				}
			}
			if kinds[len(kinds)-1] != wantEnd {
				t.Errorf("last event %s, want %s", kinds[len(kinds)-1], wantEnd)
			}
			// A second press changes nothing.
			if _, err := h.svc.BulkContinue(t.Context(), r.ID, c.by); err == nil {
				t.Fatal("a second press was accepted")
			}
			h.svc.WaitBulk()
			if w.total() != c.run {
				t.Fatalf("after a second press %d users run", w.total())
			}
			h.mustVerify()
		})
	}
}

// TestBulkRecoverNoUserTwice: a restart in the middle of a run (the service shut
// down while a user was in flight) is resumed by Recover where it stopped; no user
// whose outcome was stored runs again, and every user ends with one outcome.
func TestBulkRecoverNoUserTwice(t *testing.T) {
	h, w := newBulkHarness(t, claimedEvidence)
	users := bulkSetUsers(8)
	w.block = users[4].ObjectID
	r, err := h.svc.Submit(t.Context(), bulkRequest(8))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Decide(t.Context(), r.ID, actor(oidApprover1, "A1"), VerdictApprove, ""); err != nil {
		t.Fatal(err)
	}
	h.svc.WaitBulk()
	if _, err := h.svc.BulkContinue(t.Context(), r.ID, actor(oidRequester, "Riley")); err != nil {
		t.Fatal(err)
	}
	<-w.reached
	if err := h.svc.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := map[string]int{}
	w.mu.Lock()
	for k, v := range w.finished {
		before[k] = v
	}
	w.block = ""
	w.mu.Unlock()
	if got := h.get(r.ID); got.State != StateExecuting {
		t.Fatalf("after the shutdown: %s, want executing", got.State)
	}
	h.reopen()
	if _, err := h.svc.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.svc.WaitBulk()
	if got := h.get(r.ID); got.State != StateSucceeded {
		t.Fatalf("after Recover: %s (%s), want succeeded", got.State, got.Error)
	}
	for _, u := range users {
		if n := w.finished[u.ObjectID]; n != 1 {
			t.Errorf("user %s ran %d times (before the restart: %d)", u.UPN, n, before[u.ObjectID])
		}
	}
	res, _ := h.svc.BulkResults(t.Context(), r.ID)
	if len(res) != len(users) {
		t.Fatalf("%d results, want %d", len(res), len(users))
	}
	h.mustVerify()
}

// TestBulkDigestBindsSet: the set, each user's snapshot included, is under the
// digest: a stored set changed after filing cannot be approved.
func TestBulkDigestBindsSet(t *testing.T) {
	h, w := newBulkHarness(t, claimedEvidence)
	r, err := h.svc.Submit(t.Context(), bulkRequest(3))
	if err != nil {
		t.Fatal(err)
	}
	err = h.store.Update(t.Context(), func(tx Tx) error {
		cur, err := loadRequest(tx, r.ID)
		if err != nil {
			return err
		}
		cur.Bulk.Users[1].Methods[0].ID = "another-method"
		b, err := encodeRequest(cur)
		if err != nil {
			return err
		}
		return tx.Put(bucketRequests, []byte(r.ID), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.Decide(t.Context(), r.ID, actor(oidApprover1, "A1"), VerdictApprove, "")
	requireCode(t, err, ErrTampered)
	h.svc.WaitBulk()
	if w.total() != 0 {
		t.Fatalf("%d users ran", w.total())
	}
}

// TestBulkContinueExpires: a pause longer than an approval is valid cannot be
// continued (nothing runs); Stop still ends it.
func TestBulkContinueExpires(t *testing.T) {
	h, w := newBulkHarness(t, claimedEvidence)
	r, err := h.svc.Submit(t.Context(), bulkRequest(4))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Decide(t.Context(), r.ID, actor(oidApprover1, "A1"), VerdictApprove, ""); err != nil {
		t.Fatal(err)
	}
	h.svc.WaitBulk()
	h.clock.Advance(h.svc.Policy().TTL)
	_, err = h.svc.BulkContinue(t.Context(), r.ID, actor(oidRequester, "Riley"))
	requireSentence(t, requireCode(t, err, ErrExpired).Msg)
	h.svc.WaitBulk()
	if got := h.get(r.ID); got.State != StatePaused || w.total() != 2 {
		t.Fatalf("after a late Continue: %s, %d run", got.State, w.total())
	}
	if _, err := h.svc.BulkStop(t.Context(), r.ID, actor(oidRequester, "Riley")); err != nil {
		t.Fatal(err)
	}
}

// TestBulkProgressHook: the progress hook gets the running request with its count,
// and the count at the end.
func TestBulkProgressHook(t *testing.T) {
	h := newHarness(t, claimedEvidence)
	w := newBulkWorker()
	var mu sync.Mutex
	var seen []BulkProgress
	h.options = func(o *Options) {
		o.BulkWork = w.work
		o.OnBulkProgress = func(r Request) {
			mu.Lock()
			defer mu.Unlock()
			if r.State == StateExecuting && r.BulkRun != nil {
				seen = append(seen, *r.BulkRun)
			}
		}
	}
	h.reopen()
	r, err := h.svc.Submit(t.Context(), bulkRequest(3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Decide(t.Context(), r.ID, actor(oidApprover1, "A1"), VerdictApprove, ""); err != nil {
		t.Fatal(err)
	}
	h.svc.WaitBulk()
	if _, err := h.svc.BulkContinue(t.Context(), r.ID, actor(oidApprover1, "A1")); err != nil {
		t.Fatal(err)
	}
	h.svc.WaitBulk()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || !seen[len(seen)-1].Finished || seen[len(seen)-1].Done != 3 {
		t.Fatalf("progress seen: %+v", seen)
	}
}

// TestBulkFrozenUserSkippedAtRun: a user who says "This is not me" after the set was
// approved is not re-registered (the freeze is re-checked per user as it runs); the
// others are.
func TestBulkFrozenUserSkippedAtRun(t *testing.T) {
	h, w := newBulkHarness(t, claimedEvidence)
	users := bulkSetUsers(4)
	r, err := h.svc.Submit(t.Context(), bulkRequest(4))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Decide(t.Context(), r.ID, actor(oidApprover1, "A1"), VerdictApprove, ""); err != nil {
		t.Fatal(err)
	}
	h.svc.WaitBulk()
	u := users[3]
	if _, err := h.svc.NotMe(t.Context(), Target{ObjectID: u.ObjectID, UPN: u.UPN}, actor(u.ObjectID, "U4"), "a notice"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.BulkContinue(t.Context(), r.ID, actor(oidRequester, "Riley")); err != nil {
		t.Fatal(err)
	}
	h.svc.WaitBulk()
	got := h.get(r.ID)
	if got.State != StateFailed || got.BulkRun.Done != 3 || got.BulkRun.Failed != 1 || w.finished[u.ObjectID] != 0 {
		t.Fatalf("%s %+v; the frozen user ran %d times", got.State, got.BulkRun, w.finished[u.ObjectID])
	}
}

// TestBulkStopsWhenClaimLost: once another runner holds the claim (a replica that
// re-claimed the run on a shared store), this run starts no further user: the canary
// runs one user at a time, and the re-claim lands while its first user is in flight.
func TestBulkStopsWhenClaimLost(t *testing.T) {
	h := newHarness(t, claimedEvidence)
	users := bulkSetUsers(6)
	reached, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	ran := map[string]int{}
	h.options = func(o *Options) {
		o.BulkWork = func(ctx context.Context, u BulkUser) (BulkResult, error) {
			if u.ObjectID == users[0].ObjectID {
				close(reached)
				<-release
			}
			mu.Lock()
			ran[u.ObjectID]++
			mu.Unlock()
			return BulkResult{Outcome: BulkDone}, nil
		}
	}
	h.reopen()
	r, err := h.svc.Submit(t.Context(), bulkRequest(6))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Decide(t.Context(), r.ID, actor(oidApprover1, "A1"), VerdictApprove, ""); err != nil {
		t.Fatal(err)
	}
	<-reached
	err = h.store.Update(t.Context(), func(tx Tx) error {
		cur, err := loadRequest(tx, r.ID)
		if err != nil {
			return err
		}
		cur.Attempts++ // as a re-claim by another replica would
		b, err := encodeRequest(cur)
		if err != nil {
			return err
		}
		return tx.Put(bucketRequests, []byte(r.ID), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	h.svc.WaitBulk()
	mu.Lock()
	defer mu.Unlock()
	if ran[users[0].ObjectID] != 1 || len(ran) != 1 {
		t.Fatalf("ran %v; want only the user in flight at the re-claim", ran)
	}
	if got := h.get(r.ID); got.State != StateExecuting {
		t.Fatalf("state %s: the run that lost its claim must not record an end", got.State)
	}
}

// TestBulkNoManagerAttestation: a bulk request has no one manager to vouch for it;
// asking one is refused in one line and changes nothing.
func TestBulkNoManagerAttestation(t *testing.T) {
	h, _ := newBulkHarness(t, nil)
	in := bulkRequest(3)
	r, err := h.svc.Submit(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	before, head := h.allRequests(), h.head()
	_, err = h.svc.StartAttestation(t.Context(), NewAttestation{RequestID: r.ID, Agent: r.Requester, Manager: managerTarget})
	e := requireCode(t, err, ErrInvalid)
	requireSentence(t, e.Msg)
	if !strings.Contains(e.Msg, "names 3 users") {
		t.Fatalf("refusal: %s", e.Msg)
	}
	sameRequests(t, before, h.allRequests())
	if evs := h.eventsAfter(head.Seq); len(evs) != 0 {
		t.Fatalf("events %+v, want none (bad input is answered, not audited)", evs)
	}
}

// TestBulkPauseSwept: a run paused for Continue longer than an approval is valid is
// stopped by the sweeper (audited as mfadesk's, with what was left undone), so its
// users can be requested again; a pause still in time is left alone.
func TestBulkPauseSwept(t *testing.T) {
	h, w := newBulkHarness(t, claimedEvidence)
	r, err := h.svc.Submit(t.Context(), bulkRequest(4))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Decide(t.Context(), r.ID, actor(oidApprover1, "A1"), VerdictApprove, ""); err != nil {
		t.Fatal(err)
	}
	h.svc.WaitBulk()
	if got := h.get(r.ID); got.State != StatePaused {
		t.Fatalf("after the canary: %s", got.State)
	}
	h.clock.Advance(h.svc.Policy().TTL - time.Second)
	if swept, err := h.svc.Sweep(t.Context()); err != nil || len(swept) != 0 {
		t.Fatalf("a pause in time was swept: %v %+v", err, swept)
	}
	head := h.head()
	h.clock.Advance(time.Second)
	swept, err := h.svc.Sweep(t.Context())
	if err != nil || len(swept) != 1 || swept[0].ID != r.ID || swept[0].State != StateStopped {
		t.Fatalf("sweep: %v %+v", err, swept)
	}
	evs := h.eventsAfter(head.Seq)
	if len(evs) != 1 || evs[0].Kind != EventBulkStopped || evs[0].Actor.ObjectID != "" ||
		!strings.Contains(evs[0].Detail, "nobody pressed Continue") || !strings.Contains(evs[0].Detail, "2 of 4 users run, 2 never attempted") {
		t.Fatalf("events %+v", evs)
	}
	// Nothing more ran, and a late Continue is refused as the run is over.
	if _, err := h.svc.BulkContinue(t.Context(), r.ID, actor(oidRequester, "Riley")); err == nil {
		t.Fatal("Continue after the sweep was accepted")
	}
	h.svc.WaitBulk()
	if w.total() != 2 {
		t.Fatalf("%d users run, want the 2 canary users", w.total())
	}
	// The users the run never reached are free for a new request.
	in := bulkRequest(4)
	in.Bulk.Users = in.Bulk.Users[2:]
	if _, err := h.svc.Submit(t.Context(), in); err != nil {
		t.Fatalf("the remaining users are still blocked: %v", err)
	}
}
