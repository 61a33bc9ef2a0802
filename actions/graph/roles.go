package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/directory"

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
	groups, err := c.roleGroups(ctx, op, userID)
	if err != nil {
		return nil, err
	}
	held := [][]heldRole{own}
	for _, g := range groups {
		roles, err := c.principalRoles(ctx, op, g.id)
		if err != nil {
			return nil, err
		}
		held = append(held, roles)
	}
	// Every scope of the user, named in one round trip; a scope that cannot be read
	// keeps its id (the role is still shown: protection does not depend on the name).
	var scopes []string
	for _, rs := range held {
		for _, r := range rs {
			if r.scope != "" && r.scope != "/" {
				scopes = append(scopes, r.scope)
			}
		}
	}
	names := c.scopeNames(ctx, scopes)
	for i, rs := range held {
		via := ""
		if i > 0 {
			via = groups[i-1].via
		}
		var roles []string
		for _, r := range rs {
			roles = append(roles, r.name(names))
		}
		add(roles, via)
	}
	return out, nil
}

// heldRole is one role assignment or eligibility of a principal.
type heldRole struct {
	role     string // the role's display name (its definition id if unnamed)
	scope    string // directoryScopeId: "/" is the tenant
	eligible bool
}

// name is how a message shows the role, e.g. "User Administrator (scope
// administrative unit Paris Office) (eligible)"; a scope missing from names shows its
// id.
func (r heldRole) name(names map[string]string) string {
	s := r.role
	if r.scope != "" && r.scope != "/" {
		scope := r.scope
		if n, ok := names[r.scope]; ok {
			scope = n
		}
		s += " (scope " + scope + ")"
	}
	if r.eligible {
		s += " (eligible)"
	}
	return s
}

// auScopePrefix starts the directoryScopeId of a role scoped to an administrative unit.
const auScopePrefix = "/administrativeUnits/"

// scopeNames names role scopes for messages: "/administrativeUnits/{id}" becomes
// "administrative unit <name>", "/{id}" (an application, a group, ...) becomes its
// kind and name, e.g. "application Payroll". All scopes cost one JSON $batch per 20. A
// scope that cannot be read or parsed is left out, so the caller shows its id.
func (c *Client) scopeNames(ctx context.Context, scopes []string) map[string]string {
	out := map[string]string{}
	var fs []*fetch
	var keys []string
	for _, sc := range scopes {
		if slices.Contains(keys, sc) {
			continue
		}
		op := "read the role scope " + sc
		var ri *abs.RequestInformation
		var err error
		if id, ok := strings.CutPrefix(sc, auScopePrefix); ok && objectID(op, id) == nil {
			ri, err = c.sdk.Directory().AdministrativeUnits().ByAdministrativeUnitId(id).ToGetRequestInformation(ctx,
				&directory.AdministrativeUnitsAdministrativeUnitItemRequestBuilderGetRequestConfiguration{
					QueryParameters: &directory.AdministrativeUnitsAdministrativeUnitItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}},
				})
		} else if id, ok := strings.CutPrefix(sc, "/"); ok && objectID(op, id) == nil {
			ri, err = c.sdk.DirectoryObjects().ByDirectoryObjectId(id).ToGetRequestInformation(ctx, nil)
		} else {
			continue
		}
		if err != nil {
			continue
		}
		keys = append(keys, sc)
		fs = append(fs, &fetch{op: op, path: "/directoryObjects", ri: ri})
	}
	for len(fs) > 0 {
		n := min(len(fs), 20)
		chunk, chunkKeys := fs[:n], keys[:n]
		fs, keys = fs[n:], keys[n:]
		if c.cfg.Unbatched {
			c.runEach(ctx, c.adapter, chunk)
		} else if err := c.runBatch(ctx, c.adapter, chunk); err != nil {
			c.log.InfoContext(ctx, "role scope names unavailable", "err", err)
			continue
		}
		for i, f := range chunk {
			if f.err != nil {
				c.log.InfoContext(ctx, "role scope name unavailable", "scope", chunkKeys[i], "err", f.err)
				continue
			}
			var o struct {
				Type        string `json:"@odata.type"`
				DisplayName string `json:"displayName"`
			}
			if err := json.Unmarshal(f.body, &o); err != nil || o.DisplayName == "" {
				continue
			}
			kind := "administrative unit"
			if !strings.HasPrefix(chunkKeys[i], auScopePrefix) {
				kind = objectKind(o.Type)
			}
			out[chunkKeys[i]] = strings.TrimSpace(kind + " " + o.DisplayName)
		}
	}
	return out
}

// objectKind turns an @odata.type into words: "#microsoft.graph.servicePrincipal" is
// "service principal".
func objectKind(odataType string) string {
	t := strings.TrimPrefix(odataType, "#microsoft.graph.")
	var b strings.Builder
	for _, r := range t {
		if unicode.IsUpper(r) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return strings.TrimSpace(b.String())
}

// roleGroup is a group through which a user may hold a role.
type roleGroup struct {
	id  string
	via string // how, for the role's name: "through the group X"
}

// principalRoles lists the roles a principal (user or group) is assigned or eligible
// for, with their scopes.
func (c *Client) principalRoles(ctx context.Context, op, principalID string) ([]heldRole, error) {
	var out []heldRole
	for _, kind := range []struct {
		path     string
		eligible bool
	}{
		{"/roleManagement/directory/roleAssignments", false},
		{"/roleManagement/directory/roleEligibilityScheduleInstances", true},
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
			out = append(out, heldRole{role: name, scope: a.DirectoryScopeID, eligible: kind.eligible})
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
