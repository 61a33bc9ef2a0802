package bot

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
)

// diskFull fails writes once armed() says so: it lets pass lets writes through,
// then fails the next fails writes, as a disk that fills up would.
type diskFull struct {
	approvals.Store
	mu    sync.Mutex
	armed func() bool
	pass  int
	fails int
}

func (s *diskFull) Update(ctx context.Context, fn func(approvals.Tx) error) error {
	s.mu.Lock()
	fail := false
	if s.armed != nil && s.armed() {
		switch {
		case s.pass > 0:
			s.pass--
		case s.fails > 0:
			s.fails--
			fail = true
		}
	}
	s.mu.Unlock()
	if fail {
		return errors.New("write mfadesk.db: no space left on device")
	}
	return s.Store.Update(ctx, fn)
}

// execEnv is the bot wired as serve wires it, on the fake Graph and a bbolt file.
type execEnv struct {
	fake   *graphtest.Server
	client *graph.Client
	store  *approvals.BoltStore
	policy approvals.Policy
	tenant *graphtest.Tenant
}

func newExecEnv(t *testing.T) *execEnv {
	t.Helper()
	tenant := graphtest.MustTenant("demo")
	fake := graphtest.NewServer(tenant)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	quiet := slog.New(slog.DiscardHandler)
	// A short retry budget: a throttled call reaches the executor at once.
	c, err := graph.New(graph.Config{BaseURL: srv.URL + "/v1.0", MFAGroups: []string{"mfaoptin"}, Logger: quiet, MaxRetryWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := approvals.OpenBolt(filepath.Join(t.TempDir(), "mfadesk.db"), approvals.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &execEnv{fake: fake, client: c, store: st, tenant: tenant, policy: approvals.Policy{
		HelpdeskGroupID: tenant.GroupID("mfadesk-helpdesk"), ApproversGroupID: tenant.GroupID("mfadesk-approvers"),
		Resume: map[approvals.Action]bool{approvals.ActionRevoke: true},
	}}
}

func (e *execEnv) assemble(t *testing.T, st approvals.Store) (*Router, *approvals.Service) {
	t.Helper()
	r, svc, err := Assemble(context.Background(), AssembleOptions{Backend: e.client, Store: st, Policy: e.policy, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return r, svc
}

// cardOf records an approval card for request id (these tests post none) and returns
// it, so that a click on it counts.
func cardOf(t *testing.T, r *Router, id string) CardRef {
	t.Helper()
	ref := CardRef{Platform: "web", Channel: "approvals", ID: "card-" + id}
	if err := r.cards.AddCard(context.Background(), id, ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

func (e *execEnv) caller(local string) Caller {
	return Caller{Platform: "web", ChatID: local, Name: local, ObjectID: e.tenant.FindUser(e.tenant.Email(local)).ID()}
}

func (e *execEnv) revokes() int {
	n := 0
	for _, rec := range e.fake.Records() {
		if rec.Method == "POST" && strings.HasSuffix(rec.Path, "/revokeSignInSessions") {
			n++
		}
	}
	return n
}

func (e *execEnv) fileRevoke(t *testing.T, r *Router) string {
	t.Helper()
	target := e.tenant.FindUser(e.tenant.Email("mfatest2"))
	m := r.Submit(context.Background(), e.caller("hana.helpdesk"), FormSubmission{
		Action: "revoke", Target: target.ID(), Reason: "phone stolen, sign out everywhere",
		Verification: string(approvals.VerifyInPerson), VerificationDetail: "badge checked at the desk", Ticket: "INC-4242",
	})
	if m.Refusal || m.RequestID == "" {
		t.Fatalf("submit: %+v", m)
	}
	return m.RequestID
}

// Graph signed the user out, then saving the result failed every time: the request
// stays executing with the sign-out recorded, and after a restart Recover finishes it
// without signing the user out a second time.
func TestSignOutRecordedIsNotRepeatedAfterARestart(t *testing.T) {
	e := newExecEnv(t)
	flaky := &diskFull{Store: e.store, pass: 1, fails: 3}
	flaky.armed = func() bool { return e.revokes() > 0 } // the step's own save passes
	r, _ := e.assemble(t, flaky)
	id := e.fileRevoke(t, r)

	ans := r.Decide(context.Background(), e.caller("sam.approver"), Decision{RequestID: id, Approve: true, Card: cardOf(t, r, id)})
	if !ans.Refusal {
		t.Fatalf("approve with a full disk answered %q", ans.Text)
	}
	if n := e.revokes(); n != 1 {
		t.Fatalf("revokeSignInSessions called %d times", n)
	}

	// Restart: a new service on the same file, its disk fine again.
	_, svc := e.assemble(t, e.store)
	if got, err := svc.Get(context.Background(), id); err != nil || got.State != approvals.StateExecuting || len(got.Steps) != 1 {
		t.Fatalf("after the failed saves: %+v, %v", got, err)
	}
	if _, err := svc.Recover(context.Background()); err != nil {
		t.Fatalf("recover: %v", err)
	}
	got, err := svc.Get(context.Background(), id)
	if err != nil || got.State != approvals.StateSucceeded || len(got.Steps) != 1 || got.Steps[0].Name != stepRevoke {
		t.Fatalf("after recovery: %+v, %v", got, err)
	}
	if n := e.revokes(); n != 1 {
		t.Fatalf("revokeSignInSessions called %d times: the recorded sign-out ran again", n)
	}
}

// Graph throttled the sign-out beyond the retry budget: the request fails as
// retryable, its card offers Retry, the requester may not press it, and an
// approver's Retry carries it out.
func TestRetryOnTheCardAfterThrottling(t *testing.T) {
	e := newExecEnv(t)
	r, svc := e.assemble(t, e.store)
	id := e.fileRevoke(t, r)
	e.fake.SetFaults(graphtest.Faults{ThrottleEvery: 1, ThrottleOnly: []string{"revokeSignInSessions"}, RetryAfter: 30 * time.Second})

	card := cardOf(t, r, id)
	r.Decide(context.Background(), e.caller("sam.approver"), Decision{RequestID: id, Approve: true, Card: card})
	failed, err := svc.Get(context.Background(), id)
	if err != nil || failed.State != approvals.StateFailed || !failed.Retryable || !strings.Contains(failed.Error, "throttling") {
		t.Fatalf("after throttling: %+v, %v", failed, err)
	}
	if m := r.render(failed); len(m.Buttons) != 1 || m.Buttons[0].Kind != ButtonRetry || m.Buttons[0].Value != id {
		t.Fatalf("failed card buttons = %+v", m.Buttons)
	}

	e.fake.SetFaults(graphtest.Faults{})
	if ans := r.Decide(context.Background(), e.caller("hana.helpdesk"), Decision{RequestID: id, Retry: true, Card: card}); !ans.Refusal || !strings.Contains(ans.Text, "you filed it") {
		t.Fatalf("the requester's retry answered %+v", ans)
	}
	ans := r.Decide(context.Background(), e.caller("alex.approver"), Decision{RequestID: id, Retry: true, Card: card})
	if ans.Refusal || !strings.Contains(ans.Text, "done") {
		t.Fatalf("the approver's retry answered %+v", ans)
	}
	done, _ := svc.Get(context.Background(), id)
	if done.State != approvals.StateSucceeded || e.revokes() < 2 {
		t.Fatalf("after the retry: %+v (revoke calls %d)", done, e.revokes())
	}
	if card := r.render(done); len(card.Buttons) != 0 {
		t.Fatalf("succeeded card buttons = %+v", card.Buttons)
	}
}
