package graphtest

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

//go:embed tenants/*.json
var tenantFiles embed.FS

// Tenant is the directory the fake serves. Objects are kept in Graph's own JSON shape so
// that what the fake returns is what Graph returns, field names and @odata.type included.
type Tenant struct {
	Domain string `json:"domain"`
	// AsOf is the time the data file was written for. NewServer shifts every timestamp
	// in the tenant by (now - AsOf), so sign-ins and audit events are always recent
	// whenever the demo or a test runs, and keep their spacing (the seeds' minutes
	// between "started" and "registered" stay minutes). Empty means no shift.
	AsOf string `json:"asOf,omitempty"`
	// NoPremiumLicense makes the tenant lack Entra ID P1: sign-ins, signInActivity and
	// the registration report answer 403 as Graph does without the licence.
	NoPremiumLicense bool `json:"noPremiumLicense,omitempty"`
	// TAPDisabled makes the authentication methods policy refuse temporary access passes.
	TAPDisabled bool `json:"tapDisabled,omitempty"`
	// DisabledPreferences are default-method values (e.g. "sms") the authentication
	// methods policy refuses: setting one as a user's default answers 400.
	DisabledPreferences []string `json:"disabledPreferences,omitempty"`

	Groups []DirectoryItem `json:"groups"`
	Roles  []DirectoryItem `json:"roles"`
	Users  []*TenantUser   `json:"users"`
	// AdministrativeUnits are the tenant's administrative units, the usual scope of a
	// delegated role (GET /directory/administrativeUnits/{id}).
	AdministrativeUnits []DirectoryItem `json:"administrativeUnits,omitempty"`
}

// ScopedRole is a role held at a scope narrower than the tenant: Scope is Graph's
// directoryScopeId, "/administrativeUnits/{id}" or "/{object id}" (an application,
// a group, ...). Role is the role's id in Tenant.Roles.
type ScopedRole struct {
	Role     string `json:"role"`
	Scope    string `json:"scope"`
	Eligible bool   `json:"eligible,omitempty"`
}

// DirectoryItem is a group or a directory role.
type DirectoryItem struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Description string `json:"description,omitempty"`
	// IsAssignableToRole marks a role-assignable group: only those can hold directory
	// roles. Roles and EligibleRoles are the role ids such a group holds, actively or
	// through PIM eligibility (listed by roleAssignments and
	// roleEligibilityScheduleInstances with the group as principal).
	IsAssignableToRole bool     `json:"isAssignableToRole,omitempty"`
	Roles              []string `json:"roles,omitempty"`
	EligibleRoles      []string `json:"eligibleRoles,omitempty"`
}

// TenantUser is one user with everything Graph can tell about them.
type TenantUser struct {
	// User holds the user's properties as Graph returns them (id, userPrincipalName, ...).
	User map[string]any `json:"user"`
	// MemberOf lists the ids of the groups and roles the user is a (transitive) member of.
	MemberOf []string `json:"memberOf"`
	// EligibleRoles are ids of roles the user may activate through PIM but does not hold:
	// invisible in memberOf, listed by roleEligibilityScheduleInstances.
	EligibleRoles []string `json:"eligibleRoles,omitempty"`
	// EligibleGroups are ids of groups the user may join through PIM for Groups (an
	// eligible membership): invisible in memberOf, listed by
	// identityGovernance/privilegedAccess/group/eligibilityScheduleInstances.
	EligibleGroups []string `json:"eligibleGroups,omitempty"`
	// ScopedRoles are roles held (or eligible) at an administrative unit or an object:
	// invisible in memberOf, listed by roleAssignments / roleEligibilityScheduleInstances
	// with their directoryScopeId.
	ScopedRoles []ScopedRole `json:"scopedRoles,omitempty"`
	// Methods are authentication methods, each with its @odata.type.
	Methods []map[string]any `json:"methods"`
	// Registration is the userRegistrationDetails report row.
	Registration map[string]any `json:"registration"`
	// Requirements is the beta strongAuthenticationRequirements (perUserMfaState).
	Requirements map[string]any `json:"requirements"`
	// SignInPreferences is the beta signInPreferences object.
	SignInPreferences map[string]any `json:"signInPreferences"`
	// SignIns are beta-shaped sign-in events (the v1.0 view drops the beta-only fields).
	SignIns []map[string]any `json:"signIns"`
	// Audits are directoryAudit events that target this user.
	Audits []map[string]any `json:"audits"`
	// Manager is the object id of the user's manager (GET /users/{id}/manager); empty
	// means none, which Graph answers with 404 Request_ResourceNotFound.
	Manager string `json:"manager,omitempty"`
}

// ID returns the user's object id.
func (u *TenantUser) ID() string { s, _ := u.User["id"].(string); return s }

// UPN returns the user's principal name.
func (u *TenantUser) UPN() string { s, _ := u.User["userPrincipalName"].(string); return s }

// Mail returns the user's mail address.
func (u *TenantUser) Mail() string { s, _ := u.User["mail"].(string); return s }

// LoadTenant reads an embedded tenant by name (e.g. "demo").
func LoadTenant(name string) (*Tenant, error) {
	b, err := tenantFiles.ReadFile("tenants/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("load tenant %q: %w", name, err)
	}
	return ParseTenant(b)
}

// ParseTenant decodes a tenant data file.
func ParseTenant(b []byte) (*Tenant, error) {
	var t Tenant
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("parse tenant: %w", err)
	}
	seen := map[string]bool{}
	for i, u := range t.Users {
		if u.ID() == "" || u.UPN() == "" {
			return nil, fmt.Errorf("parse tenant: user %d has no id or userPrincipalName", i)
		}
		if seen[strings.ToLower(u.ID())] {
			return nil, fmt.Errorf("parse tenant: duplicate user id %s", u.ID())
		}
		seen[strings.ToLower(u.ID())] = true
		u.complete()
	}
	if t.AsOf != "" {
		if _, err := time.Parse(time.RFC3339, t.AsOf); err != nil {
			return nil, fmt.Errorf("parse tenant: asOf: %w", err)
		}
	}
	return &t, nil
}

// complete fills what a data file may leave out but Graph always sends: the user on
// each sign-in, the target of each audit event, ids.
func (u *TenantUser) complete() {
	name, _ := u.User["displayName"].(string)
	for i, s := range u.SignIns {
		s["userId"] = u.ID()
		s["userPrincipalName"] = strings.ToLower(u.UPN())
		s["userDisplayName"] = name
		if _, ok := s["id"]; !ok {
			s["id"] = fmt.Sprintf("%s-s%03d", u.ID()[:8], i)
		}
	}
	for i, a := range u.Audits {
		if _, ok := a["targetResources"]; !ok {
			a["targetResources"] = []any{map[string]any{"id": u.ID(), "type": "User", "displayName": name, "userPrincipalName": u.UPN(), "modifiedProperties": []any{}}}
		}
		if _, ok := a["id"]; !ok {
			a["id"] = fmt.Sprintf("Directory_%s_a%03d", u.ID()[:8], i)
		}
		if _, ok := a["category"]; !ok {
			a["category"] = "UserManagement"
		}
		if _, ok := a["additionalDetails"]; !ok {
			a["additionalDetails"] = []any{}
		}
	}
}

// Rebase shifts every timestamp in the tenant so that AsOf becomes now. It does nothing
// when AsOf is empty, and sets AsOf to now, so a second call is a no-op.
func (t *Tenant) Rebase(now time.Time) {
	if t.AsOf == "" {
		return
	}
	asOf, err := time.Parse(time.RFC3339, t.AsOf)
	if err != nil {
		return
	}
	shift := now.Sub(asOf)
	for _, u := range t.Users {
		u.User = shiftTimes(u.User, shift).(map[string]any)
		for i := range u.Methods {
			u.Methods[i] = shiftTimes(u.Methods[i], shift).(map[string]any)
		}
		if u.Registration != nil {
			u.Registration = shiftTimes(u.Registration, shift).(map[string]any)
		}
		for i := range u.SignIns {
			u.SignIns[i] = shiftTimes(u.SignIns[i], shift).(map[string]any)
		}
		for i := range u.Audits {
			u.Audits[i] = shiftTimes(u.Audits[i], shift).(map[string]any)
		}
	}
	t.AsOf = now.UTC().Format(time.RFC3339)
}

// shiftTimes returns v with every RFC 3339 date-time string moved by d.
func shiftTimes(v any, d time.Duration) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = shiftTimes(e, d)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = shiftTimes(e, d)
		}
		return x
	case string:
		if len(x) >= 20 && x[4] == '-' && x[10] == 'T' {
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t.Add(d).UTC().Format(time.RFC3339)
			}
		}
	}
	return v
}

// MustTenant is LoadTenant for tests and the demo, where the embedded file is known good.
func MustTenant(name string) *Tenant {
	t, err := LoadTenant(name)
	if err != nil {
		panic(err)
	}
	return t
}

// FindUser finds a user by object id or UPN (case-insensitive), as Graph's /users/{id} does.
func (t *Tenant) FindUser(key string) *TenantUser {
	for _, u := range t.Users {
		if strings.EqualFold(u.ID(), key) || strings.EqualFold(u.UPN(), key) {
			return u
		}
	}
	return nil
}

// GroupID returns the object id of the group with this display name, or "".
func (t *Tenant) GroupID(name string) string {
	for _, g := range t.Groups {
		if g.DisplayName == name {
			return g.ID
		}
	}
	return ""
}

// Email returns the UPN of the user with this local part in the tenant's domain.
func (t *Tenant) Email(local string) string { return local + "@" + t.Domain }

func (t *Tenant) item(id string) (DirectoryItem, string, bool) {
	for _, g := range t.Groups {
		if strings.EqualFold(g.ID, id) {
			return g, "#microsoft.graph.group", true
		}
	}
	for _, r := range t.Roles {
		if strings.EqualFold(r.ID, id) {
			return r, "#microsoft.graph.directoryRole", true
		}
	}
	return DirectoryItem{}, "", false
}
