package graph_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// TestManager reads GET /users/{id}/manager with the identity fields selected: the
// manager of a user who has one, 404 Request_ResourceNotFound (KindNotFound, in one
// sentence) for one who has none, and a malformed id refused before any request.
func TestManager(t *testing.T) {
	const (
		mia   = "5a1b0001-0000-4000-8000-000000000002"
		nora  = "5a1b0001-0000-4000-8000-000000000105"
		olive = "5a1b0001-0000-4000-8000-000000000004"
	)
	c, fake := fakeTenant(t, func(tn *graphtest.Tenant) { tn.FindUser(mia).Manager = nora }, graph.Config{})
	ctx := context.Background()
	tests := []struct {
		name, user, wantID string
		kind               actions.ErrorKind
		trips              int64
	}{
		{"has a manager", mia, nora, 0, 1},
		{"no manager", olive, "", actions.KindNotFound, 1},
		{"not an object id", "olive.optin@mfademo.example", "", actions.KindInvalidInput, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fake.Requests()
			m, err := c.Manager(ctx, tt.user)
			if got := fake.Requests() - before; got != tt.trips {
				t.Errorf("%d round trips, want %d", got, tt.trips)
			}
			if tt.kind != 0 {
				if actions.KindOf(err) != tt.kind {
					t.Fatalf("err = %v, want kind %d", err, tt.kind)
				}
				if msg := actions.Explain(err); strings.Contains(msg, "\n") || msg == "" {
					t.Errorf("explanation %q is not one line", msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.ID != tt.wantID || m.UPN != "nora.norights@mfademo.example" || !m.Enabled || m.UserType != "Member" || !m.Created.IsZero() {
				t.Errorf("manager = %+v (only the identity fields are selected)", m)
			}
			recs := fake.Records()
			last := recs[len(recs)-1]
			if !strings.Contains(last.Path, "/users/"+mia+"/manager") {
				t.Errorf("path = %s", last.Path)
			}
		})
	}
}
