package bot

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// TestProtectionThroughGroups: the approvals' protection check protects an active
// member of a role-assignable group that is only eligible for a role, and a user
// eligible through PIM for Groups for a group that holds a role.
func TestProtectionThroughGroups(t *testing.T) {
	const ga = "0c7a5e1e-0002-4000-8000-000000000001"
	tenant := graphtest.MustTenant("demo")
	tenant.Groups = append(tenant.Groups,
		graphtest.DirectoryItem{ID: "0c7a5e1e-0001-4000-8000-0000000000a1", DisplayName: "PIM GA eligible", IsAssignableToRole: true, EligibleRoles: []string{ga}},
		graphtest.DirectoryItem{ID: "0c7a5e1e-0001-4000-8000-0000000000a2", DisplayName: "Tier 0 admins", IsAssignableToRole: true, Roles: []string{ga}})
	member, eligible := tenant.FindUser(tenant.Email("mfatest1")), tenant.FindUser(tenant.Email("mfatest2"))
	member.MemberOf = append(member.MemberOf, "0c7a5e1e-0001-4000-8000-0000000000a1")
	eligible.EligibleGroups = []string{"0c7a5e1e-0001-4000-8000-0000000000a2"}
	srv := httptest.NewServer(graphtest.NewServer(tenant))
	t.Cleanup(srv.Close)
	c, err := graph.New(graph.Config{BaseURL: srv.URL + "/v1.0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	dir := ApprovalsDirectory{Dir: c}
	for _, tt := range []struct {
		id, group string
	}{{member.ID(), "PIM GA eligible"}, {eligible.ID(), "Tier 0 admins"}} {
		p, err := dir.Protection(context.Background(), tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Protected || !strings.Contains(strings.Join(p.Reasons, "; "), "Global Administrator") || !strings.Contains(strings.Join(p.Reasons, "; "), tt.group) {
			t.Errorf("%s: protection %+v, want Global Administrator through %s", tt.id, p, tt.group)
		}
	}
}
