package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// TestGroupUsers: the transitive user members of a group, across pages, and a refusal
// past the maximum.
func TestGroupUsers(t *testing.T) {
	const group = "0c7a5e1e-0009-4000-8000-000000000001"
	c, _ := fakeTenant(t, func(tn *graphtest.Tenant) {
		tn.Groups = append(tn.Groups, graphtest.DirectoryItem{ID: group, DisplayName: "rollback"})
		tmpl := tn.Users[0]
		for i := 0; i < 1200; i++ {
			u := &graphtest.TenantUser{User: map[string]any{"id": fmt.Sprintf("5a1b0003-0000-4000-8000-%012d", i),
				"userPrincipalName": fmt.Sprintf("r%d@%s", i, tn.Domain), "displayName": "R", "userType": "Member", "accountEnabled": true},
				MemberOf: []string{group}, Requirements: tmpl.Requirements}
			tn.Users = append(tn.Users, u)
		}
	}, graph.Config{})
	refs, err := c.GroupUsers(context.Background(), group, 2000)
	if err != nil || len(refs) != 1200 || refs[0].Kind != actions.RefObjectID {
		t.Fatalf("GroupUsers = %d users, %v; want 1200 over two pages", len(refs), err)
	}
	if _, err := c.GroupUsers(context.Background(), group, 1000); actions.KindOf(err) != actions.KindInvalidInput {
		t.Errorf("past the maximum: %v", err)
	}
	if _, err := c.GroupUsers(context.Background(), "0c7a5e1e-0009-4000-8000-00000000dead", 1000); actions.KindOf(err) != actions.KindNotFound {
		t.Errorf("unknown group: %v", err)
	}
}

// TestGroupByName: the demo's group of affected users is found by its name; an
// unknown name is not found, in one line.
func TestGroupByName(t *testing.T) {
	var want string
	c, _ := fakeTenant(t, func(tn *graphtest.Tenant) { want = tn.GroupID("mfa-rollback-affected") }, graph.Config{})
	id, err := c.GroupByName(context.Background(), "mfa-rollback-affected")
	if err != nil || id != want || want == "" {
		t.Fatalf("GroupByName = %q, %v; want %q", id, err, want)
	}
	_, err = c.GroupByName(context.Background(), "no such group")
	if actions.KindOf(err) != actions.KindNotFound || !strings.Contains(actions.Explain(err), "No group named 'no such group'") {
		t.Fatalf("unknown group: %v", err)
	}
}
