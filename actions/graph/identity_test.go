package graph_test

import (
	"context"
	"testing"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// TestIdentity maps chat names to directory users with the identity fields only: one
// round trip by UPN or object id (User takes two: the name, then a batch with groups
// and last sign-in), the account state read live each time, a cached name trusted only
// while the user still carries it.
func TestIdentity(t *testing.T) {
	c, fake := fakeTenant(t, nil, graph.Config{})
	ctx := context.Background()
	tests := []struct {
		name   string
		ref    string
		wantID string
		trips  int64
		kind   actions.ErrorKind
	}{
		{"upn", "mfatest2@mfademo.example", "5a1b0001-0000-4000-8000-000000000002", 1, 0},
		{"upn again, cached id", "MFATEST2@mfademo.example", "5a1b0001-0000-4000-8000-000000000002", 1, 0},
		{"object id", "5a1b0001-0000-4000-8000-000000000004", "5a1b0001-0000-4000-8000-000000000004", 1, 0},
		// Casey's mail is not her UPN: /users/{mail} 404s, then the $filter finds her.
		{"mail", "casey@mfademo.example", "5a1b0001-0000-4000-8000-000000000003", 2, 0},
		{"mail again, cached id", "casey@mfademo.example", "5a1b0001-0000-4000-8000-000000000003", 1, 0},
		{"unknown", "nobody@mfademo.example", "", 2, actions.KindNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fake.Requests()
			u, err := c.Identity(ctx, ref(t, tt.ref))
			if got := fake.Requests() - before; got != tt.trips {
				t.Errorf("%d round trips, want %d", got, tt.trips)
			}
			if tt.kind != 0 {
				if actions.KindOf(err) != tt.kind {
					t.Fatalf("err = %v, want kind %d", err, tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.ID != tt.wantID || !u.Enabled || u.UserType != "Member" || u.UPN == "" {
				t.Errorf("user = %+v", u)
			}
			// Only the identity fields were asked for: nothing else came back.
			if !u.Created.IsZero() || !u.LastPasswordChange.IsZero() || u.MFAGroups != nil || !u.LastSignIn.IsZero() {
				t.Errorf("read more than the identity fields: %+v", u)
			}
		})
	}

	t.Run("disabled since cached", func(t *testing.T) {
		fake.Tenant(func(tn *graphtest.Tenant) { tn.FindUser("mfatest2@mfademo.example").User["accountEnabled"] = false })
		u, err := c.Identity(ctx, ref(t, "mfatest2@mfademo.example"))
		if err != nil || u.Enabled {
			t.Fatalf("a disabled account read from a cached id: %+v %v", u, err)
		}
	})
	t.Run("name moved to someone else", func(t *testing.T) {
		// The UPN cached for user 2 is given to user 1: the cached id must not be trusted.
		fake.Tenant(func(tn *graphtest.Tenant) {
			tn.FindUser("mfatest2@mfademo.example").User["userPrincipalName"] = "old2@mfademo.example"
			tn.FindUser("mfatest1@mfademo.example").User["userPrincipalName"] = "mfatest2@mfademo.example"
		})
		u, err := c.Identity(ctx, ref(t, "mfatest2@mfademo.example"))
		if err != nil || u.ID != "5a1b0001-0000-4000-8000-000000000001" {
			t.Fatalf("got %+v %v, want user 1", u, err)
		}
	})
}
