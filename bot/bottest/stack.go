// Package bottest wires the whole bot for tests, the way serve and demo do: the fake
// Graph tenant "demo" served over HTTP, the real msgraph-sdk-go client talking to it, a
// bbolt store in a temporary directory, and bot.Assemble around them. Adapter tests add
// their own Notifier and drive the router through their platform's wire format.
package bottest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
)

// Demo tenant groups that grant rights.
const (
	HelpdeskGroup  = "mfadesk-helpdesk"
	ApproversGroup = "mfadesk-approvers"
)

// Options adjust a Stack.
type Options struct {
	Notifiers map[bot.Platform]bot.Notifier
	// EditTenant changes the demo tenant before it is served.
	EditTenant func(*graphtest.Tenant)
	// EditPolicy changes the approvals policy (groups and resume are set already).
	EditPolicy func(*approvals.Policy)
	Logger     *slog.Logger // default: discard
	// Clock is the router's and approvals' clock (default time.Now): tests that
	// need time to pass (an expired confirmation) advance it instead of sleeping.
	Clock func() time.Time
}

// Stack is the assembled bot.
type Stack struct {
	Tenant    *graphtest.Tenant
	Graph     *graphtest.Server
	Client    *graph.Client
	Store     *approvals.BoltStore
	Router    *bot.Router
	Approvals *approvals.Service
	Policy    approvals.Policy
}

// New assembles the bot; everything is closed when the test ends.
func New(t testing.TB, o Options) *Stack {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	tenant := graphtest.MustTenant("demo")
	if o.EditTenant != nil {
		o.EditTenant(tenant)
	}
	fake := graphtest.NewServer(tenant)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	client, err := graph.New(graph.Config{BaseURL: srv.URL + "/v1.0", MFAGroups: []string{"mfaoptin"}, Logger: o.Logger})
	if err != nil {
		t.Fatal(err)
	}
	store, err := approvals.OpenBolt(filepath.Join(t.TempDir(), "mfadesk.db"), approvals.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	policy := approvals.Policy{
		HelpdeskGroupID:  tenant.GroupID(HelpdeskGroup),
		ApproversGroupID: tenant.GroupID(ApproversGroup),
		Resume:           bot.Executor{}.Resumable(),
	}
	if o.EditPolicy != nil {
		o.EditPolicy(&policy)
	}
	router, svc, err := bot.Assemble(context.Background(), bot.AssembleOptions{
		Backend: client, Store: store, Policy: policy, Notifiers: o.Notifiers, Logger: o.Logger, Clock: o.Clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &Stack{Tenant: tenant, Graph: fake, Client: client, Store: store, Router: router, Approvals: svc, Policy: policy}
}

// UserID returns the object id of the demo user with this UPN local part.
func (s *Stack) UserID(t testing.TB, local string) string {
	t.Helper()
	var id string
	s.Graph.Tenant(func(tn *graphtest.Tenant) {
		if u := tn.FindUser(tn.Email(local)); u != nil {
			id = u.ID()
		}
	})
	if id == "" {
		t.Fatalf("demo tenant has no user %s", local)
	}
	return id
}
