package approvals

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// Directory object ids used across the tests (lower-case GUIDs, as Graph returns them).
const (
	groupHelpdesk  = "00000000-0000-4000-8000-000000000901"
	groupApprovers = "00000000-0000-4000-8000-000000000902"
	oidRequester   = "00000000-0000-4000-8000-000000000001"
	oidRequester2  = "00000000-0000-4000-8000-000000000002"
	oidApprover1   = "00000000-0000-4000-8000-000000000011"
	oidApprover2   = "00000000-0000-4000-8000-000000000012"
	oidOutsider    = "00000000-0000-4000-8000-000000000021"
	oidTarget      = "00000000-0000-4000-8000-000000000101"
	oidAdmin       = "00000000-0000-4000-8000-000000000102"
)

// numberedOID returns a distinct GUID per n, for tests that need many users.
func numberedOID(n int) string { return fmt.Sprintf("00000000-0000-4000-9000-%012d", n) }

func actor(oid, name string) Actor {
	return Actor{Platform: "slack", ChatID: "U" + strings.ToUpper(name), ObjectID: oid, DisplayName: name}
}

// testClock is an injectable clock; tests move it instead of sleeping.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeDir is an in-memory Directory with error injection.
type fakeDir struct {
	mu        sync.Mutex
	members   map[string]map[string]bool // group → user → member
	protected map[string]Protection
	memberErr error
	protErr   error
}

func newFakeDir() *fakeDir {
	d := &fakeDir{members: map[string]map[string]bool{}, protected: map[string]Protection{}}
	for _, u := range []string{oidRequester, oidRequester2} {
		d.addMember(groupHelpdesk, u)
	}
	// The requester is an approver too, so self-approval is refused by the identity
	// rule, not by a missing membership.
	for _, u := range []string{oidApprover1, oidApprover2, oidRequester} {
		d.addMember(groupApprovers, u)
	}
	d.protect(oidAdmin, "directory role Global Administrator")
	return d
}

func (d *fakeDir) addMember(group, user string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.members[group] == nil {
		d.members[group] = map[string]bool{}
	}
	d.members[group][user] = true
}

func (d *fakeDir) protect(user, why string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.protected[user] = Protection{Protected: true, Reasons: []string{why}}
}

func (d *fakeDir) setErrors(member, prot error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.memberErr, d.protErr = member, prot
}

func (d *fakeDir) IsMember(_ context.Context, user, group string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.memberErr != nil {
		return false, d.memberErr
	}
	return d.members[group][user], nil
}

func (d *fakeDir) Protection(_ context.Context, user string) (Protection, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.protErr != nil {
		return Protection{}, d.protErr
	}
	return d.protected[user], nil
}

type execCall struct {
	ID     string
	Resume bool
}

// fakeExec records every call; fn, if set, decides the outcome, and fnRec, if set,
// does too with the Service's step recorder.
type fakeExec struct {
	mu    sync.Mutex
	calls []execCall
	fn    func(ctx context.Context, r Request, resume bool) (Result, error)
	fnRec func(ctx context.Context, r Request, resume bool, record func(context.Context, Step) error) (Result, error)
}

func (f *fakeExec) Execute(ctx context.Context, r Request, resume bool, record func(context.Context, Step) error) (Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, execCall{r.ID, resume})
	fn, fnRec := f.fn, f.fnRec
	f.mu.Unlock()
	if fnRec != nil {
		return fnRec(ctx, r, resume, record)
	}
	if fn != nil {
		return fn(ctx, r, resume)
	}
	return Result{Steps: []Step{{Name: "revoke_sessions", Target: r.Target.UPN, Outcome: "ok"}}}, nil
}

func (f *fakeExec) setFn(fn func(ctx context.Context, r Request, resume bool) (Result, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fn = fn
}

func (f *fakeExec) callsFor(id string) []execCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []execCall
	for _, c := range f.calls {
		if c.ID == id {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeExec) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// harness is one Service on a temporary bbolt file, with fakes and recorded hooks.
type harness struct {
	t       testing.TB
	path    string
	policy  Policy
	durable bool
	store   *BoltStore
	svc     *Service
	dir     *fakeDir
	exec    *fakeExec
	clock   *testClock

	// notify gets a token after every OnChange, so tests wait on it instead of sleeping.
	notify chan struct{}

	mu      sync.Mutex
	changes []Request
	audits  []Event
	heads   []Head

	// options, if set, adjusts the Service's options (bulk work) on every open.
	options func(*Options)
}

func basePolicy() Policy {
	return Policy{HelpdeskGroupID: groupHelpdesk, ApproversGroupID: groupApprovers}
}

func newHarness(t testing.TB, policy func(*Policy)) *harness {
	t.Helper()
	h := &harness{
		t:      t,
		path:   filepath.Join(t.TempDir(), "mfadesk.db"),
		policy: basePolicy(),
		dir:    newFakeDir(),
		exec:   &fakeExec{},
		clock:  newTestClock(),
		notify: make(chan struct{}, 1),
	}
	if policy != nil {
		policy(&h.policy)
	}
	h.open()
	t.Cleanup(h.close)
	return h
}

func (h *harness) open() {
	h.t.Helper()
	st, err := OpenBolt(h.path, BoltOptions{noSync: !h.durable})
	if err != nil {
		h.t.Fatalf("open store: %v", err)
	}
	opts := Options{
		Store: st, Directory: h.dir, Executor: h.exec, Policy: h.policy, Clock: h.clock.Now,
		OnChange: func(r Request) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.changes = append(h.changes, r)
			select {
			case h.notify <- struct{}{}:
			default:
			}
		},
		OnAudit: func(e Event, head Head) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.audits = append(h.audits, e)
			h.heads = append(h.heads, head)
		},
	}
	if h.options != nil {
		h.options(&opts)
	}
	svc, err := New(context.Background(), opts)
	if err != nil {
		_ = st.Close()
		h.t.Fatalf("new service: %v", err)
	}
	h.store, h.svc = st, svc
}

func (h *harness) close() {
	if h.svc != nil {
		_ = h.svc.Shutdown(context.Background()) // bulk runs stop before their store closes
	}
	if h.store != nil {
		_ = h.store.Close()
		h.store, h.svc = nil, nil
	}
}

// reopen simulates a restart: the file is closed and a fresh Service opens it.
func (h *harness) reopen() {
	h.t.Helper()
	h.close()
	h.open()
}

func defaultNewRequest() NewRequest {
	return NewRequest{
		Action:       ActionReregister,
		Target:       Target{ObjectID: oidTarget, UPN: "alex@contoso.com", DisplayName: "Alex Wilber"},
		Methods:      []MethodRef{{ID: "m1", Type: "microsoftAuthenticator", Label: "Pixel 8"}, {ID: "m2", Type: "phone", Label: "+1 *** *** 0142"}},
		Requester:    actor(oidRequester, "Riley"),
		Reason:       "new phone, Authenticator registration never completed",
		Verification: Verification{Method: VerifyVideoWithID, Detail: "Teams video, driving licence matched HR photo"},
		Ticket:       "INC-1001",
	}
}

func (h *harness) submit(mod func(*NewRequest)) Request {
	h.t.Helper()
	in := defaultNewRequest()
	if mod != nil {
		mod(&in)
	}
	r, err := h.svc.Submit(context.Background(), in)
	if err != nil {
		h.t.Fatalf("submit: %v", err)
	}
	return r
}

func (h *harness) get(id string) Request {
	h.t.Helper()
	r, err := h.svc.Get(context.Background(), id)
	if err != nil {
		h.t.Fatalf("get %s: %v", id, err)
	}
	return r
}

func (h *harness) allRequests() []Request {
	h.t.Helper()
	rs, err := h.svc.List(context.Background(), ListFilter{})
	if err != nil {
		h.t.Fatalf("list: %v", err)
	}
	return rs
}

func (h *harness) head() Head {
	h.t.Helper()
	hd, err := h.svc.Head(context.Background())
	if err != nil {
		h.t.Fatalf("head: %v", err)
	}
	return hd
}

// eventsSince returns the events after sequence number seq.
func (h *harness) eventsAfter(seq uint64) []Event {
	h.t.Helper()
	evs, err := h.svc.Events(context.Background(), time.Time{}, 1<<20)
	if err != nil {
		h.t.Fatalf("events: %v", err)
	}
	var out []Event
	for _, e := range evs {
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	return out
}

func (h *harness) mustVerify() VerifyReport {
	h.t.Helper()
	rep, err := h.svc.Verify(context.Background())
	if err != nil {
		h.t.Fatalf("verify: %v", err)
	}
	if !rep.OK {
		h.t.Fatalf("audit chain broken: %s", rep)
	}
	return rep
}

func (h *harness) kinds(id string) []EventKind {
	h.t.Helper()
	evs, err := h.svc.History(context.Background(), id)
	if err != nil {
		h.t.Fatalf("history %s: %v", id, err)
	}
	var out []EventKind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

// forceState writes r in state to the store together with the events the real
// transitions would have written, as a process that died right after that commit
// would have left it.
func (h *harness) forceState(id string, state State, by Actor) {
	h.t.Helper()
	err := h.svc.update(context.Background(), func(w *wtx) error {
		r, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		digest, err := requestDigest(r)
		if err != nil {
			return err
		}
		r.Decisions = append(r.Decisions, Decision{By: by, At: w.now, Verdict: VerdictApprove})
		r.State = StateApproved
		if err := w.save(&r); err != nil {
			return err
		}
		if err := w.audit(Event{Kind: EventApproved, RequestID: r.ID, Action: r.Action, State: r.State, Actor: by, Target: r.Target, Digest: digest}); err != nil {
			return err
		}
		if state == StateExecuting {
			r.State = StateExecuting
			r.Attempts++
			if err := w.save(&r); err != nil {
				return err
			}
			return w.audit(Event{Kind: EventExecuting, RequestID: r.ID, Action: r.Action, State: r.State, Target: r.Target, Detail: "attempt 1"})
		}
		return nil
	})
	if err != nil {
		h.t.Fatalf("force %s into %s: %v", id, state, err)
	}
}

func requireCode(t testing.TB, err error, code Code) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *approvals.Error (want %s)", err, code)
	}
	if e.Code != code || !errors.Is(err, code) {
		t.Fatalf("code = %s (%q), want %s", e.Code, e.Msg, code)
	}
	return e
}

// requireSentence checks a refusal message is one plain sentence for a chat user.
func requireSentence(t testing.TB, msg string) {
	t.Helper()
	if msg == "" || strings.ContainsAny(msg, "\n\r") || !strings.HasSuffix(msg, ".") ||
		strings.ToUpper(msg[:1]) != msg[:1] || strings.Contains(msg, "%!") {
		t.Fatalf("message %q is not one plain sentence", msg)
	}
}

func sameRequests(t testing.TB, before, after []Request) {
	t.Helper()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("requests changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
