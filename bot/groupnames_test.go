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

// plainDirectory hides the Graph client's group names, and only them.
type plainDirectory struct {
	Directory
	privilegedRoles
}

// TestProtectionNamesGroups: a protection reason names the protected group by its
// display name, read through the real SDK from the fake tenant, all names in one
// round trip.
func TestProtectionNamesGroups(t *testing.T) {
	tenant := graphtest.MustTenant("demo")
	fake := graphtest.NewServer(tenant)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	c, err := graph.New(graph.Config{BaseURL: srv.URL + "/v1.0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	groups := []string{tenant.GroupID("mfadesk-helpdesk"), tenant.GroupID("mfadesk-approvers")}
	alex := tenant.FindUser(tenant.Email("alex.approver")).ID()
	ctx := context.Background()

	before := fake.Requests()
	p, err := ApprovalsDirectory{Dir: c, ProtectedGroups: groups}.Protection(ctx, alex)
	if err != nil {
		t.Fatal(err)
	}
	named := fake.Requests() - before
	why := strings.Join(p.Reasons, "; ")
	if !p.Protected || !strings.Contains(why, "is in the protected group mfadesk-helpdesk") || !strings.Contains(why, "is in the protected group mfadesk-approvers") || strings.Contains(why, groups[0]) {
		t.Fatalf("reasons: %q", why)
	}

	before = fake.Requests()
	if _, err := (ApprovalsDirectory{Dir: plainDirectory{c, c}, ProtectedGroups: groups}).Protection(ctx, alex); err != nil {
		t.Fatal(err)
	}
	if extra := named - (fake.Requests() - before); extra != 1 {
		t.Errorf("naming two groups cost %d round trips, want 1", extra)
	}

	// A name that cannot be read degrades the wording, never the protection.
	fake.SetFaults(graphtest.Faults{Forbidden: []string{"/groups/"}})
	p, err = ApprovalsDirectory{Dir: c, ProtectedGroups: groups}.Protection(ctx, alex)
	if err != nil || !p.Protected || !strings.Contains(strings.Join(p.Reasons, "; "), groups[0]) {
		t.Fatalf("with group names unreadable: %+v, %v", p, err)
	}
}
