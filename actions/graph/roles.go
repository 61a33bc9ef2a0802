package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/mfadesk/mfadesk/actions"
)

// PrivilegedRoles lists the directory roles a user holds at any scope or may activate
// through PIM. memberOf shows only tenant-wide active roles, but a well-run tenant keeps
// its admins eligible rather than active — and an attacker who resets an eligible
// admin's MFA then activates the role. Roles held through a role-assignable group are
// not resolved here; membership of such a group shows up as a directory role in
// memberOf once active, and protected_groups covers the group itself.
func (c *Client) PrivilegedRoles(ctx context.Context, userID string) ([]string, error) {
	op := "read the roles of " + userID
	if err := objectID(op, userID); err != nil {
		return nil, err
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	var out []string
	seen := map[string]bool{}
	for _, kind := range []struct{ path, suffix string }{
		{"/roleManagement/directory/roleAssignments", ""},
		{"/roleManagement/directory/roleEligibilityScheduleInstances", " (eligible)"},
	} {
		q := url.Values{}
		q.Set("$filter", "principalId eq "+actions.Quote(strings.ToLower(userID)))
		q.Set("$expand", "roleDefinition")
		u, err := url.Parse(strings.TrimRight(c.adapter.GetBaseUrl(), "/") + kind.path + "?" + strings.ReplaceAll(q.Encode(), "+", "%20"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		ri := abs.NewRequestInformation()
		ri.Method = abs.GET
		ri.SetUri(*u)
		ri.Headers.TryAdd("Accept", "application/json")
		b, err := c.adapter.SendPrimitive(ctx, ri, "[]byte", errorMap)
		if err != nil {
			return nil, classify(op, kind.path, err)
		}
		raw, _ := b.([]byte)
		var page struct {
			Value []struct {
				DirectoryScopeID string `json:"directoryScopeId"`
				RoleDefinition   *struct {
					DisplayName string `json:"displayName"`
				} `json:"roleDefinition"`
				RoleDefinitionID string `json:"roleDefinitionId"`
			} `json:"value"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("%s: decode %s: %w", op, kind.path, err)
		}
		for _, a := range page.Value {
			name := a.RoleDefinitionID
			if a.RoleDefinition != nil && a.RoleDefinition.DisplayName != "" {
				name = a.RoleDefinition.DisplayName
			}
			if a.DirectoryScopeID != "" && a.DirectoryScopeID != "/" {
				name += " (scope " + a.DirectoryScopeID + ")"
			}
			name += kind.suffix
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out, nil
}
