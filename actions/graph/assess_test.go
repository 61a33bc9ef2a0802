package graph_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
)

// TestAssessBatchedOrNot: Assess answers the same whether its reads ride in one
// $batch (1 request when the target is in no role-assignable group) or go one by one
// (Config.Unbatched), and StandingByName finds a person by UPN the same both ways.
func TestAssessBatchedOrNot(t *testing.T) {
	ctx := context.Background()
	type answer struct {
		A       actions.Assessment
		U       actions.User
		In      []string
		UE, ME  bool
		Request int64
	}
	run := func(cfg graph.Config) answer {
		c, fake := fakeTenant(t, nil, cfg)
		hana, alex, ada := idOf(t, fake, "hana.helpdesk"), idOf(t, fake, "alex.approver"), idOf(t, fake, "ada.admin")
		helpdesk, approvers := "0c7a5e1e-0001-4000-8000-000000000002", "0c7a5e1e-0001-4000-8000-000000000003"
		finance := "0c7a5e1e-0001-4000-8000-000000000004"
		before := fake.Requests()
		a := c.Assess(ctx, []actions.StandingQuery{{ID: hana, Groups: []string{helpdesk}}, {ID: alex, Groups: []string{approvers}}}, ada, []string{finance})
		n := fake.Requests() - before
		u, in, ue, me := c.StandingByName(ctx, actions.UserRef{Kind: actions.RefUPN, Value: "hana.helpdesk@mfademo.example"}, []string{helpdesk, approvers})
		return answer{A: a, U: u, In: in, UE: ue != nil, ME: me != nil, Request: n}
	}
	batched, single := run(graph.Config{}), run(graph.Config{Unbatched: true})
	if batched.Request != 1 {
		t.Errorf("batched Assess: %d Graph requests, want 1", batched.Request)
	}
	if single.Request <= batched.Request {
		t.Errorf("unbatched Assess: %d Graph requests, want more than batched", single.Request)
	}
	a := batched.A
	if len(a.People) != 2 || a.People[0].UserErr != nil || a.People[0].MemErr != nil || len(a.People[0].In) != 1 || len(a.People[1].In) != 1 {
		t.Errorf("people: %+v", a.People)
	}
	if a.TargetErr != nil || a.RolesErr != nil || a.ProtectedErr != nil || len(a.Target.Roles) == 0 || len(a.Protected) != 0 {
		t.Errorf("target: %+v", a)
	}
	batched.Request, single.Request = 0, 0
	for _, x := range []*answer{&batched, &single} {
		// Two fakes shift the tenant's timestamps to when each started: compare the
		// rest, which is what the rules weigh.
		for _, u := range []*actions.User{&x.A.People[0].User, &x.A.People[1].User, &x.A.Target, &x.U} {
			u.Created, u.LastPasswordChange, u.SessionsValidFrom, u.LastSignIn = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		}
	}
	if !reflect.DeepEqual(batched, single) {
		t.Errorf("batched and unbatched differ:\n%+v\n%+v", batched, single)
	}
	if batched.UE || batched.ME || batched.U.UPN != "hana.helpdesk@mfademo.example" || len(batched.In) != 1 {
		t.Errorf("StandingByName: %+v", batched)
	}
}
