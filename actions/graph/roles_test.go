package graph_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

func TestPrivilegedRoles(t *testing.T) {
	c, fake := fakeTenant(t, nil, graph.Config{})
	for _, tt := range []struct{ user, want string }{
		{"ada.admin", "Global Administrator"},
		{"erin.eligible", "Global Administrator (eligible)"},
		{"mfatest2", ""},
	} {
		roles, err := c.PrivilegedRoles(context.Background(), idOf(t, fake, tt.user))
		if err != nil {
			t.Fatalf("%s: %v", tt.user, err)
		}
		if got := strings.Join(roles, ", "); got != tt.want {
			t.Errorf("%s: roles %q, want %q", tt.user, got, tt.want)
		}
	}
	fake.SetFaults(graphtest.Faults{Forbidden: []string{"/roleManagement/"}})
	_, err := c.PrivilegedRoles(context.Background(), idOf(t, fake, "erin.eligible"))
	if actions.KindOf(err) != actions.KindForbidden || !strings.Contains(actions.Explain(err), "RoleManagement.Read.Directory") {
		t.Fatalf("403: %v / %q", err, actions.Explain(err))
	}
	if _, err := c.PrivilegedRoles(context.Background(), "x' or 1 eq 1"); err == nil {
		t.Fatal("a malformed id reached Graph")
	}
}
