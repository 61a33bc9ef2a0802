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
// through PIM — directly, or through a group. memberOf shows only tenant-wide active
// roles, but a well-run tenant keeps its admins eligible rather than active, and an
// attacker who resets an eligible admin's MFA then activates the role. So it reads:
//   - the user's own role assignments and eligibilities;
//   - for each role-assignable group the user is an active member of, the group's
//     assignments and eligibilities (a member of a group that is only eligible for a
//     role is an admin one activation away);
//   - for each group the user may join through PIM for Groups (an eligible membership),
//     the group's assignments and eligibilities.
//
// Any read that fails fails the whole answer: protection fails closed. Azure resource
// roles and owners of applications and service principals are not directory roles and
// are not covered.
func (c *Client) PrivilegedRoles(ctx context.Context, userID string) ([]string, error) {
	op := "read the roles of " + userID
	if err := objectID(op, userID); err != nil {
		return nil, err
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	var out []string
	seen := map[string]bool{}
	add := func(roles []string, via string) {
		for _, r := range roles {
			name := r + " (" + via + ")"
			if via == "" {
				name = r
			} else if strings.HasSuffix(r, " (eligible)") {
				name = strings.TrimSuffix(r, ")") + ", " + via + ")"
			}
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	own, err := c.principalRoles(ctx, op, userID)
	if err != nil {
		return nil, err
	}
	add(own, "")
	groups, err := c.roleGroups(ctx, op, userID)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		roles, err := c.principalRoles(ctx, op, g.id)
		if err != nil {
			return nil, err
		}
		add(roles, g.via)
	}
	return out, nil
}

// roleGroup is a group through which a user may hold a role.
type roleGroup struct {
	id  string
	via string // how, for the role's name: "through the group X"
}

// principalRoles lists the roles a principal (user or group) is assigned or eligible
// for, named with their scope, e.g. "Global Administrator (eligible)".
func (c *Client) principalRoles(ctx context.Context, op, principalID string) ([]string, error) {
	var out []string
	for _, kind := range []struct{ path, suffix string }{
		{"/roleManagement/directory/roleAssignments", ""},
		{"/roleManagement/directory/roleEligibilityScheduleInstances", " (eligible)"},
	} {
		var page struct {
			Value []struct {
				DirectoryScopeID string `json:"directoryScopeId"`
				RoleDefinition   *struct {
					DisplayName string `json:"displayName"`
				} `json:"roleDefinition"`
				RoleDefinitionID string `json:"roleDefinitionId"`
			} `json:"value"`
		}
		q := url.Values{}
		q.Set("$filter", "principalId eq "+actions.Quote(strings.ToLower(principalID)))
		q.Set("$expand", "roleDefinition")
		if err := c.getJSON(ctx, op, kind.path, q, &page); err != nil {
			return nil, err
		}
		for _, a := range page.Value {
			name := a.RoleDefinitionID
			if a.RoleDefinition != nil && a.RoleDefinition.DisplayName != "" {
				name = a.RoleDefinition.DisplayName
			}
			if a.DirectoryScopeID != "" && a.DirectoryScopeID != "/" {
				name += " (scope " + a.DirectoryScopeID + ")"
			}
			out = append(out, name+kind.suffix)
		}
	}
	return out, nil
}

// groupEligibilityPath is PIM for Groups' list of eligible memberships and ownerships.
const groupEligibilityPath = "/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances"

// roleGroups lists the groups through which userID may hold a role: the role-assignable
// groups they are an active (transitive) member of, and the groups they are eligible to
// join or own through PIM for Groups (an owner can add themselves).
func (c *Client) roleGroups(ctx context.Context, op, userID string) ([]roleGroup, error) {
	var out []roleGroup
	q := url.Values{}
	q.Set("$select", "id,displayName,isAssignableToRole")
	q.Set("$top", "999")
	link := ""
	for pages := 0; ; pages++ {
		var page struct {
			Value []struct {
				Type               string `json:"@odata.type"`
				ID                 string `json:"id"`
				DisplayName        string `json:"displayName"`
				IsAssignableToRole *bool  `json:"isAssignableToRole"`
			} `json:"value"`
			NextLink string `json:"@odata.nextLink"`
		}
		var err error
		if link == "" {
			err = c.getJSON(ctx, op, "/users/"+url.PathEscape(userID)+"/transitiveMemberOf", q, &page)
		} else {
			var raw []byte
			if raw, err = c.nextPage(ctx, link, "/transitiveMemberOf"); err == nil {
				err = json.Unmarshal(raw, &page)
			}
		}
		if err != nil {
			return nil, err
		}
		for _, g := range page.Value {
			if g.Type == "#microsoft.graph.group" && g.IsAssignableToRole != nil && *g.IsAssignableToRole {
				out = append(out, roleGroup{id: g.ID, via: "through the group " + g.DisplayName})
			}
		}
		if page.NextLink == "" {
			break
		}
		if pages >= maxMorePages*4 {
			return nil, &actions.Error{Kind: actions.KindUnavailable, Op: op, Message: "too many groups to check for roles"}
		}
		link = page.NextLink
	}

	var elig struct {
		Value []struct {
			GroupID  string `json:"groupId"`
			AccessID string `json:"accessId"`
		} `json:"value"`
	}
	q = url.Values{}
	q.Set("$filter", "principalId eq "+actions.Quote(strings.ToLower(userID)))
	if err := c.getJSON(ctx, op, groupEligibilityPath, q, &elig); err != nil {
		return nil, err
	}
	for _, e := range elig.Value {
		name, err := c.GroupName(ctx, e.GroupID)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		how := "eligible member"
		if e.AccessID == "owner" {
			how = "eligible owner"
		}
		out = append(out, roleGroup{id: e.GroupID, via: "through PIM for Groups: " + how + " of the group " + name})
	}
	return out, nil
}

// getJSON GETs a v1.0 path with a query the SDK has no builder for and decodes the
// answer into v.
func (c *Client) getJSON(ctx context.Context, op, path string, q url.Values, v any) error {
	u, err := url.Parse(strings.TrimRight(c.adapter.GetBaseUrl(), "/") + path + "?" + strings.ReplaceAll(q.Encode(), "+", "%20"))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	ri := abs.NewRequestInformation()
	ri.Method = abs.GET
	ri.SetUri(*u)
	ri.Headers.TryAdd("Accept", "application/json")
	b, err := c.adapter.SendPrimitive(ctx, ri, "[]byte", errorMap)
	if err != nil {
		return classify(op, path, err)
	}
	raw, _ := b.([]byte)
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: decode %s: %w", op, path, err)
	}
	return nil
}
