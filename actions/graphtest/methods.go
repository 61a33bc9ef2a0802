package graphtest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Typed method collections under /users/{id}/authentication/ that have DELETE, by the
// @odata.type of their members. passwordMethods and the generic methods collection
// have none.
var methodCollections = map[string]string{
	"phoneMethods":                   "#microsoft.graph.phoneAuthenticationMethod",
	"microsoftAuthenticatorMethods":  "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
	"softwareOathMethods":            "#microsoft.graph.softwareOathAuthenticationMethod",
	"fido2Methods":                   "#microsoft.graph.fido2AuthenticationMethod",
	"windowsHelloForBusinessMethods": "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
	"platformCredentialMethods":      "#microsoft.graph.platformCredentialAuthenticationMethod",
	"emailMethods":                   "#microsoft.graph.emailAuthenticationMethod",
	"temporaryAccessPassMethods":     "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
}

const (
	typePhone   = "#microsoft.graph.phoneAuthenticationMethod"
	typeAuthApp = "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"
	typeOath    = "#microsoft.graph.softwareOathAuthenticationMethod"
	typeTAP     = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
)

// Graph's answers to the deletions it refuses.
const (
	msgDeleteDefault = "Cannot delete default method with other methods configured. Please change default method before deletion."
	// Graph's answer (400) to deleting the mobile phone while an alternate mobile remains.
	msgDeleteMobile = "A user can't have an alternateMobile number without a mobile number"
	msgTAPPolicy    = "Converged UserCredentialPolicy does not allow creating or updating this authentication method. AuthMethodType [TemporaryAccessPass]."
)

func (s *Server) listMethods(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.pathUser(w, r)
	if u == nil {
		return
	}
	out := make([]any, 0, len(u.Methods))
	for _, m := range u.Methods {
		c := copyMap(m)
		if c["@odata.type"] == typeTAP {
			c["temporaryAccessPass"] = nil // returned only when created
		}
		out = append(out, c)
	}
	writeCollection(w, r, v, "users('"+u.ID()+"')/authentication/methods", out, 100)
}

// deleteMethod deletes a method on its typed endpoint with Graph's rules: the default
// method cannot go while other second factors remain, the mobile phone cannot go while
// an alternate mobile remains, and neither password nor generic method ids have DELETE.
func (s *Server) deleteMethod(w http.ResponseWriter, r *http.Request, v string) {
	coll, mid := r.PathValue("coll"), r.PathValue("mid")
	if coll == "methods" || coll == "passwordMethods" {
		writeError(w, http.StatusMethodNotAllowed, "Request_BadRequest",
			fmt.Sprintf("No HTTP resource was found that matches the request URI '%s%s'.", baseURL(r), r.URL.Path))
		return
	}
	typ, ok := methodCollections[coll]
	if !ok {
		s.noRoute(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.pathUser(w, r)
	if u == nil {
		return
	}
	idx := -1
	for i, m := range u.Methods {
		if id, _ := m["id"].(string); strings.EqualFold(id, mid) && m["@odata.type"] == typ {
			idx = i
		}
	}
	if idx < 0 {
		notFound(w, mid)
		return
	}
	m := u.Methods[idx]
	if typ == typePhone && m["phoneType"] == "mobile" {
		for _, o := range u.Methods {
			if o["@odata.type"] == typePhone && o["phoneType"] == "alternateMobile" {
				writeError(w, http.StatusBadRequest, "badRequest", msgDeleteMobile)
				return
			}
		}
	}
	if def := u.defaultIndex(); def == idx {
		for i, o := range u.Methods {
			if i != idx && defaultCandidate(o) {
				writeError(w, http.StatusBadRequest, "badRequest", msgDeleteDefault)
				return
			}
		}
		if u.SignInPreferences != nil {
			u.SignInPreferences["userPreferredMethodForSecondaryAuthentication"] = nil
		}
	}
	u.Methods = append(u.Methods[:idx:idx], u.Methods[idx+1:]...)
	u.addAudit(s.now(), "Admin deleted security info", fmt.Sprintf("Admin deleted %s for user", methodName(m)))
	w.WriteHeader(http.StatusNoContent)
}

// defaultCandidate: the methods a legacy default second factor can be.
func defaultCandidate(m map[string]any) bool {
	switch m["@odata.type"] {
	case typePhone, typeAuthApp, typeOath:
		return true
	}
	return false
}

// defaultIndex maps the user's preferred second factor to one of their methods.
func (u *TenantUser) defaultIndex() int {
	pref, _ := u.SignInPreferences["userPreferredMethodForSecondaryAuthentication"].(string)
	first := func(typ, phoneType string) int {
		for i, m := range u.Methods {
			if m["@odata.type"] == typ && (phoneType == "" || m["phoneType"] == phoneType) {
				return i
			}
		}
		return -1
	}
	switch pref {
	case "push":
		return first(typeAuthApp, "")
	case "oath":
		if i := first(typeOath, ""); i >= 0 {
			return i
		}
		return first(typeAuthApp, "")
	case "sms", "voiceMobile":
		return first(typePhone, "mobile")
	case "voiceAlternateMobile":
		return first(typePhone, "alternateMobile")
	case "voiceOffice":
		return first(typePhone, "office")
	}
	return -1
}

func methodName(m map[string]any) string {
	switch m["@odata.type"] {
	case typePhone:
		return "Phone"
	case typeAuthApp:
		return "Authenticator App"
	case typeOath:
		return "Software OATH token"
	case typeTAP:
		return "Temporary Access Pass"
	}
	t, _ := m["@odata.type"].(string)
	return strings.TrimPrefix(t, "#microsoft.graph.")
}

// addAudit records an admin action on the user, as the Authentication Methods service does.
func (u *TenantUser) addAudit(now time.Time, activity, reason string) {
	u.Audits = append(u.Audits, map[string]any{
		"activityDisplayName": activity, "activityDateTime": now.UTC().Format(time.RFC3339),
		"loggedByService": "Authentication Methods", "category": "UserManagement", "operationType": "Delete",
		"result": "success", "resultReason": reason, "correlationId": uuid.NewString(),
		"initiatedBy": map[string]any{"app": map[string]any{"displayName": "mfadesk", "appId": nil, "servicePrincipalId": nil, "servicePrincipalName": nil}, "user": nil},
	})
	u.complete()
}

// preferenceValues are the values Graph accepts for userPreferredMethodForSecondaryAuthentication.
var preferenceValues = map[string]bool{"push": true, "oath": true, "voiceMobile": true, "voiceAlternateMobile": true, "voiceOffice": true, "sms": true}

// patchSignInPreferences changes the user's default second factor (beta only), 204.
// The value must be one Graph knows, name a method the user has, and not be refused by
// the tenant's methods policy (Tenant.DisabledPreferences). Graph's docs give no error
// text for the last two; these texts are the fake's.
func (s *Server) patchSignInPreferences(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "Invalid request body: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.pathUser(w, r)
	if u == nil {
		return
	}
	for k, v := range body {
		switch k {
		case "userPreferredMethodForSecondaryAuthentication":
			pref, _ := v.(string)
			if !preferenceValues[pref] {
				writeError(w, http.StatusBadRequest, "badRequest", fmt.Sprintf("Invalid value '%v' for userPreferredMethodForSecondaryAuthentication.", v))
				return
			}
			for _, d := range s.tenant.DisabledPreferences {
				if d == pref {
					writeError(w, http.StatusBadRequest, "badRequest", fmt.Sprintf("The authentication methods policy does not allow '%s' as the default method.", pref))
					return
				}
			}
			trial := &TenantUser{Methods: u.Methods, SignInPreferences: map[string]any{k: pref}}
			if trial.defaultIndex() < 0 {
				writeError(w, http.StatusBadRequest, "badRequest", fmt.Sprintf("The user has no registered method for '%s'.", pref))
				return
			}
		case "isSystemPreferredAuthenticationMethodEnabled":
			if _, ok := v.(bool); !ok {
				writeError(w, http.StatusBadRequest, "badRequest", "isSystemPreferredAuthenticationMethodEnabled must be a boolean.")
				return
			}
		default:
			writeError(w, http.StatusBadRequest, "badRequest", fmt.Sprintf("Property '%s' does not exist on type 'microsoft.graph.signInPreferences'.", k))
			return
		}
	}
	if u.SignInPreferences == nil {
		u.SignInPreferences = map[string]any{}
	}
	for k, v := range body {
		u.SignInPreferences[k] = v
	}
	u.addAudit(s.now(), "PATCH UserAuthMethod.PatchSignInPreferencesAsync", "Admin changed the default sign-in method")
	w.WriteHeader(http.StatusNoContent)
}

// listTAPs lists the user's temporary access passes, the pass itself never shown.
func (s *Server) listTAPs(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.pathUser(w, r)
	if u == nil {
		return
	}
	out := []any{}
	for _, m := range u.Methods {
		if m["@odata.type"] == typeTAP {
			c := copyMap(m)
			c["temporaryAccessPass"] = nil
			out = append(out, c)
		}
	}
	writeCollection(w, r, v, "users('"+u.ID()+"')/authentication/temporaryAccessPassMethods", out, 100)
}

// msgTAPExists is the fake's text for a second pass while one is valid: Graph's
// reference says the admin must delete the valid pass first (an expired one is
// replaced), but documents no error text.
const msgTAPExists = "The user already has a valid Temporary Access Pass. Delete it before creating a new one."

// tapValid reports whether an existing pass is still usable at now: not expired.
func tapValid(m map[string]any, now time.Time) bool {
	start, err := time.Parse(time.RFC3339, fmt.Sprint(m["startDateTime"]))
	if err != nil {
		return true
	}
	minutes, _ := m["lifetimeInMinutes"].(int)
	if f, ok := m["lifetimeInMinutes"].(float64); ok {
		minutes = int(f)
	}
	return now.Before(start.Add(time.Duration(minutes) * time.Minute))
}

// createTAP creates a temporary access pass (201, the pass returned only now). A user
// has one pass at a time: while one is valid Graph refuses another (400), an expired
// one is replaced.
func (s *Server) createTAP(w http.ResponseWriter, r *http.Request, v string) {
	var body struct {
		LifetimeInMinutes *int   `json:"lifetimeInMinutes"`
		IsUsableOnce      *bool  `json:"isUsableOnce"`
		StartDateTime     string `json:"startDateTime"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil && err != io.EOF {
		writeError(w, http.StatusBadRequest, "BadRequest", "Invalid request body: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.pathUser(w, r)
	if u == nil {
		return
	}
	if s.tenant.TAPDisabled {
		writeError(w, http.StatusBadRequest, "badRequest", msgTAPPolicy)
		return
	}
	lifetime := 60
	if body.LifetimeInMinutes != nil {
		lifetime = *body.LifetimeInMinutes
	}
	if lifetime < 10 || lifetime > 43200 {
		writeError(w, http.StatusBadRequest, "badRequest", "lifetimeInMinutes must be between 10 and 43200.")
		return
	}
	once := false
	if body.IsUsableOnce != nil {
		once = *body.IsUsableOnce
	}
	now := s.now().UTC()
	start := now
	if body.StartDateTime != "" {
		t, err := time.Parse(time.RFC3339Nano, body.StartDateTime)
		if err != nil {
			writeError(w, http.StatusBadRequest, "badRequest", "Invalid startDateTime.")
			return
		}
		start = t.UTC()
	}
	pass, err := newPass()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "generalException", "Could not generate a pass.")
		return
	}
	for _, m := range u.Methods {
		if m["@odata.type"] == typeTAP && tapValid(m, now) {
			writeError(w, http.StatusBadRequest, "badRequest", msgTAPExists)
			return
		}
	}
	kept := u.Methods[:0]
	for _, m := range u.Methods {
		if m["@odata.type"] != typeTAP {
			kept = append(kept, m)
		}
	}
	id := uuid.NewString()
	m := map[string]any{
		"@odata.type": typeTAP, "id": id, "temporaryAccessPass": nil,
		"createdDateTime": now.Format(time.RFC3339), "startDateTime": start.Format(time.RFC3339),
		"lifetimeInMinutes": lifetime, "isUsableOnce": once, "isUsable": true, "methodUsabilityReason": "EnabledByPolicy",
	}
	u.Methods = append(kept, m)
	u.addAudit(now, "Admin registered security info", "Admin registered temporary access pass method for user")
	out := copyMap(m)
	out["temporaryAccessPass"] = pass
	w.Header().Set("Location", baseURL(r)+"/"+v+"/users/"+u.ID()+"/authentication/temporaryAccessPassMethods/"+id)
	writeJSON(w, http.StatusCreated, withContext(r, v, "users('"+u.ID()+"')/authentication/temporaryAccessPassMethods/$entity", out))
}

// newPass makes a pass shaped like Entra's: 8 characters from letters, digits and a few
// symbols, from crypto/rand.
func newPass() (string, error) {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789#+%&"
	b := make([]byte, 8)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b), nil
}
