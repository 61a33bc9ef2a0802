package graph_test

import (
	"context"
	"slices"
	"testing"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// TestStanding: the account and the memberships come from one $batch, each with its
// own error: a gone user is KindNotFound, a refused membership check is memErr only.
func TestStanding(t *testing.T) {
	c, fake := fakeTenant(t, func(tn *graphtest.Tenant) {
		tn.FindUser(tn.Email("mfatest1")).User["accountEnabled"] = false
	}, graph.Config{})
	var helpdesk, approvers string
	fake.Tenant(func(tn *graphtest.Tenant) {
		helpdesk, approvers = tn.GroupID("mfadesk-helpdesk"), tn.GroupID("mfadesk-approvers")
	})
	groups := []string{helpdesk, approvers}
	ctx := context.Background()
	for _, tt := range []struct {
		name, id string
		enabled  bool
		in       []string
		gone     bool
	}{
		{"helpdesk member", idOf(t, fake, "hana.helpdesk"), true, []string{helpdesk}, false},
		{"in no group", idOf(t, fake, "mfatest2"), true, nil, false},
		{"disabled", idOf(t, fake, "mfatest1"), false, nil, false},
		{"gone", "0c7a5e1e-9999-4000-8000-000000000001", false, nil, true},
	} {
		before := fake.Requests()
		u, in, userErr, memErr := c.Standing(ctx, tt.id, groups)
		if n := fake.Requests() - before; n != 1 {
			t.Errorf("%s: %d round trips, want 1", tt.name, n)
		}
		if tt.gone != (actions.KindOf(userErr) == actions.KindNotFound) || (!tt.gone && userErr != nil) {
			t.Errorf("%s: user error %v", tt.name, userErr)
			continue
		}
		if tt.gone {
			continue
		}
		if memErr != nil || u.ID != tt.id || u.Enabled != tt.enabled || !slices.Equal(in, tt.in) {
			t.Errorf("%s: user %+v in %v memErr %v", tt.name, u, in, memErr)
		}
	}
	fake.SetFaults(graphtest.Faults{Forbidden: []string{"checkMemberGroups"}})
	u, _, userErr, memErr := c.Standing(ctx, idOf(t, fake, "hana.helpdesk"), groups)
	if userErr != nil || !u.Enabled || actions.KindOf(memErr) != actions.KindForbidden {
		t.Errorf("403 on the membership check: user err %v, mem err %v", userErr, memErr)
	}
	if _, _, err, _ := c.Standing(ctx, "x' or 1 eq 1", groups); err == nil {
		t.Error("a malformed id reached Graph")
	}
}
