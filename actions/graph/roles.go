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
	msgroups "github.com/microsoftgraph/msgraph-sdk-go/groups"

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
	// Round trip 1: the user's own roles, groups and PIM for Groups eligibilities.
	fs, err := c.userRoleFetches(op, userID)
	if err != nil {
		return nil, err
	}
	if err := c.runAll(ctx, fs); err != nil {
		return nil, err
	}
	return c.privilegedRolesFrom(ctx, op, fs)
}

// privilegedRolesFrom finishes PrivilegedRoles from the answered userRoleFetches
// (which may have ridden in a larger $batch): the rest of a long membership list,
// the roles of the groups found and the names of scopes.
func (c *Client) privilegedRolesFrom(ctx context.Context, op string, fs []*fetch) ([]string, error) {
	for _, f := range fs {
		if f.err != nil {
			return nil, f.err
		}
	}
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
	own, groups, err := c.parseUserRoleReads(ctx, op, fs)
	if err != nil {
		return nil, err
	}
	// Round trip 2: the roles of every such group (and the names of PIM groups).
	held := [][]heldRole{own}
	more, err := c.groupRoles(ctx, op, groups)
	if err != nil {
		return nil, err
	}
	held = append(held, more...)
	// Round trip 3: every scope of the user, named; a scope that cannot be read keeps
	// its id (the role is still shown: protection does not depend on the name).
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
	pim string // "eligible member" or "eligible owner" for PIM for Groups; "" otherwise
}

// roleListPaths are the two lists of a principal's roles: active, then eligible.
var roleListPaths = []string{"/roleManagement/directory/roleAssignments", "/roleManagement/directory/roleEligibilityScheduleInstances"}

// groupEligibilityPath is PIM for Groups' list of eligible memberships and ownerships.
const groupEligibilityPath = "/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances"

// roleFetches are the reads of a principal's active and eligible roles.
func (c *Client) roleFetches(op, principalID string) ([]*fetch, error) {
	q := url.Values{}
	q.Set("$filter", "principalId eq "+actions.Quote(strings.ToLower(principalID)))
	q.Set("$expand", "roleDefinition")
	var out []*fetch
	for _, p := range roleListPaths {
		f, err := c.getFetch(op, p, q)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// parseRoles reads an answered role list.
func parseRoles(op string, f *fetch, eligible bool) ([]heldRole, error) {
	var page struct {
		Value []struct {
			DirectoryScopeID string `json:"directoryScopeId"`
			RoleDefinition   *struct {
				DisplayName string `json:"displayName"`
			} `json:"roleDefinition"`
			RoleDefinitionID string `json:"roleDefinitionId"`
		} `json:"value"`
	}
	if err := json.Unmarshal(f.body, &page); err != nil {
		return nil, fmt.Errorf("%s: decode %s: %w", op, f.path, err)
	}
	var out []heldRole
	for _, a := range page.Value {
		name := a.RoleDefinitionID
		if a.RoleDefinition != nil && a.RoleDefinition.DisplayName != "" {
			name = a.RoleDefinition.DisplayName
		}
		out = append(out, heldRole{role: name, scope: a.DirectoryScopeID, eligible: eligible})
	}
	return out, nil
}

// runAll runs fetches in JSON $batches of at most 20 (or one by one when batching is
// off) and fails on the first item that failed: role reads fail closed.
func (c *Client) runAll(ctx context.Context, fs []*fetch) error {
	for i := 0; i < len(fs); i += 20 {
		chunk := fs[i:min(i+20, len(fs))]
		if c.cfg.Unbatched {
			c.runEach(ctx, c.adapter, chunk)
		} else if err := c.runBatch(ctx, c.adapter, chunk); err != nil {
			return err
		}
	}
	for _, f := range fs {
		if f.err != nil {
			return f.err
		}
	}
	return nil
}

// userRoleFetches are the reads, for one $batch, of the user's own active and
// eligible roles, the role-assignable groups they are an active (transitive) member
// of, and the groups they are eligible to join or own through PIM for Groups (an
// owner can add themselves). A long membership list is paged on afterwards.
func (c *Client) userRoleFetches(op, userID string) ([]*fetch, error) {
	fs, err := c.roleFetches(op, userID)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("$select", "id,displayName,isAssignableToRole")
	q.Set("$top", "999")
	member, err := c.getFetch(op, "/users/"+url.PathEscape(userID)+"/transitiveMemberOf", q)
	if err != nil {
		return nil, err
	}
	q = url.Values{}
	q.Set("$filter", "principalId eq "+actions.Quote(strings.ToLower(userID)))
	elig, err := c.getFetch(op, groupEligibilityPath, q)
	if err != nil {
		return nil, err
	}
	return append(fs, member, elig), nil
}

// parseUserRoleReads reads the answered userRoleFetches, paging on through a long
// membership list.
func (c *Client) parseUserRoleReads(ctx context.Context, op string, fs []*fetch) ([]heldRole, []roleGroup, error) {
	member, elig := fs[len(roleListPaths)], fs[len(roleListPaths)+1]
	var own []heldRole
	for i := range roleListPaths {
		rs, err := parseRoles(op, fs[i], i == 1)
		if err != nil {
			return nil, nil, err
		}
		own = append(own, rs...)
	}

	var groups []roleGroup
	raw := member.body
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
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, nil, fmt.Errorf("%s: decode transitiveMemberOf: %w", op, err)
		}
		for _, g := range page.Value {
			if g.Type == "#microsoft.graph.group" && g.IsAssignableToRole != nil && *g.IsAssignableToRole {
				groups = append(groups, roleGroup{id: g.ID, via: "through the group " + g.DisplayName})
			}
		}
		if page.NextLink == "" {
			break
		}
		if pages >= maxMorePages*4 {
			return nil, nil, &actions.Error{Kind: actions.KindUnavailable, Op: op, Message: "too many groups to check for roles"}
		}
		var err error
		if raw, err = c.nextPage(ctx, page.NextLink, "/transitiveMemberOf"); err != nil {
			return nil, nil, err
		}
	}

	var eligible struct {
		Value []struct {
			GroupID  string `json:"groupId"`
			AccessID string `json:"accessId"`
		} `json:"value"`
	}
	if err := json.Unmarshal(elig.body, &eligible); err != nil {
		return nil, nil, fmt.Errorf("%s: decode %s: %w", op, groupEligibilityPath, err)
	}
	for _, e := range eligible.Value {
		if err := objectID(op, e.GroupID); err != nil {
			return nil, nil, err
		}
		how := "eligible member"
		if e.AccessID == "owner" {
			how = "eligible owner"
		}
		groups = append(groups, roleGroup{id: e.GroupID, pim: how})
	}
	return own, groups, nil
}

// groupRoles reads the roles of each group in one $batch (per 20 reads), with the
// names of the PIM for Groups groups, which the membership list did not name. It
// fills in how each PIM group gives its roles.
func (c *Client) groupRoles(ctx context.Context, op string, groups []roleGroup) ([][]heldRole, error) {
	var fs []*fetch
	names := map[int]*fetch{}
	for i, g := range groups {
		rf, err := c.roleFetches(op, g.id)
		if err != nil {
			return nil, err
		}
		fs = append(fs, rf...)
		if g.pim != "" {
			ri, err := c.sdk.Groups().ByGroupId(g.id).ToGetRequestInformation(ctx, &msgroups.GroupItemRequestBuilderGetRequestConfiguration{
				QueryParameters: &msgroups.GroupItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}},
			})
			if err != nil {
				return nil, fmt.Errorf("%s: build request: %w", op, err)
			}
			f := &fetch{op: "read group " + g.id, path: "/groups", ri: ri}
			names[i] = f
			fs = append(fs, f)
		}
	}
	if len(fs) == 0 {
		return nil, nil
	}
	if err := c.runAll(ctx, fs); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var out [][]heldRole
	k := 0
	for i := range groups {
		var rs []heldRole
		for j := range roleListPaths {
			more, err := parseRoles(op, fs[k], j == 1)
			if err != nil {
				return nil, err
			}
			rs = append(rs, more...)
			k++
		}
		if f, ok := names[i]; ok {
			k++
			var g struct {
				DisplayName string `json:"displayName"`
			}
			if err := json.Unmarshal(f.body, &g); err != nil {
				return nil, fmt.Errorf("%s: decode group %s: %w", op, groups[i].id, err)
			}
			groups[i].via = "through PIM for Groups: " + groups[i].pim + " of the group " + g.DisplayName
		}
		out = append(out, rs)
	}
	return out, nil
}

// getFetch is a GET of a v1.0 path with a query the SDK has no builder for, to run
// in a $batch.
func (c *Client) getFetch(op, path string, q url.Values) (*fetch, error) {
	u, err := url.Parse(strings.TrimRight(c.adapter.GetBaseUrl(), "/") + path + "?" + strings.ReplaceAll(q.Encode(), "+", "%20"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	ri := abs.NewRequestInformation()
	ri.Method = abs.GET
	ri.SetUri(*u)
	ri.Headers.TryAdd("Accept", "application/json")
	return &fetch{op: op, path: path, ri: ri}, nil
}
