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

// A platform credential satisfies the SDK's Windows Hello interface too; it must still
// be shown as what it is.
func TestPlatformCredentialIsNotWindowsHello(t *testing.T) {
	c, fake := fakeTenant(t, func(tn *graphtest.Tenant) {
		u := tn.FindUser("paul.password@mfademo.example")
		u.Methods = append(u.Methods,
			map[string]any{"@odata.type": "#microsoft.graph.platformCredentialAuthenticationMethod", "id": "aa11", "displayName": "MacBook Pro", "keyStrength": "normal", "platform": "macOS", "createdDateTime": "2023-08-01T09:00:00Z"},
			map[string]any{"@odata.type": "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod", "id": "bb22", "displayName": "Surface", "keyStrength": "normal", "createdDateTime": "2023-08-01T09:00:00Z"},
		)
	}, graph.Config{})
	ev, err := c.Gather(context.Background(), ref(t, idOf(t, fake, "paul.password")), actions.Query{Sources: actions.SourceMethods})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]actions.MethodType{}
	for _, m := range ev.Methods {
		got[m.ID] = m.Type
	}
	if got["aa11"] != actions.MethodPlatformCred || got["bb22"] != actions.MethodWindowsHello {
		t.Fatalf("types %v", got)
	}
}

// TestPrivilegedRolesThroughGroups: roles held through groups make a user protected
// too — an active member of a role-assignable group that is only eligible for a role,
// and a user eligible through PIM for Groups to join a group that holds a role (active
// or eligible). A plain group member is not.
func TestPrivilegedRolesThroughGroups(t *testing.T) {
	const (
		ga       = "0c7a5e1e-0002-4000-8000-000000000001"
		eligGrp  = "0c7a5e1e-0001-4000-8000-0000000000a1" // eligible for Global Administrator
		activGrp = "0c7a5e1e-0001-4000-8000-0000000000a2" // holds Global Administrator
	)
	edit := func(tn *graphtest.Tenant) {
		tn.Groups = append(tn.Groups,
			graphtest.DirectoryItem{ID: eligGrp, DisplayName: "PIM GA eligible", IsAssignableToRole: true, EligibleRoles: []string{ga}},
			graphtest.DirectoryItem{ID: activGrp, DisplayName: "Tier 0 admins", IsAssignableToRole: true, Roles: []string{ga}})
		member := tn.FindUser(tn.Email("mfatest1"))
		member.MemberOf = append(member.MemberOf, eligGrp)
		eligible := tn.FindUser(tn.Email("mfatest2"))
		eligible.EligibleGroups = []string{activGrp, eligGrp}
	}
	c, fake := fakeTenant(t, edit, graph.Config{})
	for _, tt := range []struct{ user, want string }{
		{"mfatest1", "Global Administrator (eligible, through the group PIM GA eligible)"},
		{"mfatest2", "Global Administrator (through PIM for Groups: eligible member of the group Tier 0 admins), " +
			"Global Administrator (eligible, through PIM for Groups: eligible member of the group PIM GA eligible)"},
		{"casey.ca", ""},
	} {
		id := idOf(t, fake, tt.user)
		before := fake.Requests()
		roles, err := c.PrivilegedRoles(context.Background(), id)
		if err != nil {
			t.Fatalf("%s: %v", tt.user, err)
		}
		if got := strings.Join(roles, ", "); got != tt.want {
			t.Errorf("%s: roles\n %q\nwant\n %q", tt.user, got, tt.want)
		}
		// The user's own reads in one $batch, every group's roles (and PIM groups'
		// names) in a second, whatever the number of groups.
		if n, want := fake.Requests()-before, int64(1+min(len(tt.want), 1)); n != want {
			t.Errorf("%s: %d round trips, want %d", tt.user, n, want)
		}
	}
	// Without the PIM for Groups permission the answer fails (protection fails closed)
	// and names the permission.
	fake.SetFaults(graphtest.Faults{Forbidden: []string{"/privilegedAccess/group/"}})
	_, err := c.PrivilegedRoles(context.Background(), idOf(t, fake, "mfatest2"))
	if actions.KindOf(err) != actions.KindForbidden || !strings.Contains(actions.Explain(err), "PrivilegedEligibilitySchedule.Read.AzureADGroup") {
		t.Fatalf("403: %v / %q", err, actions.Explain(err))
	}
}

// TestPrivilegedRolesScopeNames: a role scoped to an administrative unit or to an
// object is named by the scope's display name, all scopes in one $batch; a scope that
// cannot be read keeps its id, and the role is still listed (protection does not
// depend on the name).
func TestPrivilegedRolesScopeNames(t *testing.T) {
	const (
		ga      = "0c7a5e1e-0002-4000-8000-000000000001"
		paris   = "0c7a5e1e-0003-4000-8000-000000000001"
		gone    = "0c7a5e1e-0003-4000-8000-0000000000ff" // deleted administrative unit
		finance = "0c7a5e1e-0001-4000-8000-000000000004"
	)
	edit := func(tn *graphtest.Tenant) {
		tn.AdministrativeUnits = append(tn.AdministrativeUnits, graphtest.DirectoryItem{ID: paris, DisplayName: "Paris Office"})
		u := tn.FindUser(tn.Email("mfatest1"))
		u.ScopedRoles = []graphtest.ScopedRole{
			{Role: ga, Scope: "/administrativeUnits/" + paris},
			{Role: ga, Scope: "/" + finance, Eligible: true},
			{Role: ga, Scope: "/administrativeUnits/" + gone},
		}
	}
	c, fake := fakeTenant(t, edit, graph.Config{})
	id := idOf(t, fake, "mfatest1")
	before := fake.Requests()
	roles, err := c.PrivilegedRoles(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := "Global Administrator (scope administrative unit Paris Office), " +
		"Global Administrator (scope /administrativeUnits/" + gone + "), " +
		"Global Administrator (scope group Finance) (eligible)"
	if got := strings.Join(roles, ", "); got != want {
		t.Errorf("roles\n %q\nwant\n %q", got, want)
	}
	// One $batch for roleAssignments, roleEligibilityScheduleInstances,
	// transitiveMemberOf and PIM for Groups; one for the three scopes.
	if n := fake.Requests() - before; n != 2 {
		t.Errorf("%d round trips, want 2 (the scopes in one $batch)", n)
	}

	// Without the right to read administrative units the role still shows, by id.
	fake.SetFaults(graphtest.Faults{Forbidden: []string{"/administrativeUnits/"}})
	roles, err = c.PrivilegedRoles(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(roles, ", "); !strings.Contains(got, "(scope /administrativeUnits/"+paris+")") {
		t.Errorf("unreadable scope: %q", got)
	}
}
