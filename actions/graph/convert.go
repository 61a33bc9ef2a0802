package graph

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/mfadesk/mfadesk/actions"
)

// toMethod maps one polymorphic authentication method (discriminated by @odata.type)
// to the domain type, keeping each type's own fields.
func toMethod(m models.AuthenticationMethodable) actions.Method {
	out := actions.Method{ID: deref(m.GetId()), ODataType: deref(m.GetOdataType()), Type: actions.MethodUnknown}
	switch v := m.(type) {
	case models.MicrosoftAuthenticatorAuthenticationMethodable:
		out.Type = actions.MethodAuthenticator
		out.DisplayName = deref(v.GetDisplayName())
		out.Detail = strings.TrimSpace(strings.Join(nonEmpty("version "+deref(v.GetPhoneAppVersion()), deref(v.GetDeviceTag())), ", "))
		out.Created = derefTime(v.GetCreatedDateTime())
	case models.PhoneAuthenticationMethodable:
		out.Type = actions.MethodPhone
		out.PhoneNumber = deref(v.GetPhoneNumber())
		if t := v.GetPhoneType(); t != nil {
			out.PhoneType = t.String()
		}
		if st := v.GetSmsSignInState(); st != nil {
			out.Detail = "SMS sign-in " + st.String()
		}
	case models.SoftwareOathAuthenticationMethodable:
		out.Type = actions.MethodSoftwareOath
	case models.Fido2AuthenticationMethodable:
		out.Type = actions.MethodFido2
		out.DisplayName = deref(v.GetDisplayName())
		out.Detail = deref(v.GetModel())
		out.Created = derefTime(v.GetCreatedDateTime())
	// Platform credentials first: their interface is a superset of Windows Hello's,
	// so the Windows Hello case would also match them.
	case models.PlatformCredentialAuthenticationMethodable:
		out.Type = actions.MethodPlatformCred
		out.DisplayName = deref(v.GetDisplayName())
		if p := v.GetPlatform(); p != nil {
			out.Detail = p.String()
		}
		out.Created = derefTime(v.GetCreatedDateTime())
	case models.WindowsHelloForBusinessAuthenticationMethodable:
		out.Type = actions.MethodWindowsHello
		out.DisplayName = deref(v.GetDisplayName())
		if k := v.GetKeyStrength(); k != nil {
			out.Detail = "key " + k.String()
		}
		out.Created = derefTime(v.GetCreatedDateTime())
	case models.EmailAuthenticationMethodable:
		out.Type = actions.MethodEmail
		out.Detail = deref(v.GetEmailAddress())
	case models.TemporaryAccessPassAuthenticationMethodable:
		out.Type = actions.MethodTemporaryAccess
		out.Created = derefTime(v.GetCreatedDateTime())
		use := "multi-use"
		if deref(v.GetIsUsableOnce()) {
			use = "one-time"
		}
		out.Detail = fmt.Sprintf("%s, %d min from %s", use, deref(v.GetLifetimeInMinutes()), derefTime(v.GetStartDateTime()).UTC().Format("2006-01-02 15:04 UTC"))
		if r := deref(v.GetMethodUsabilityReason()); r != "" {
			out.Detail += ", " + r
		}
	case models.PasswordAuthenticationMethodable:
		out.Type = actions.MethodPassword
		out.Created = derefTime(v.GetCreatedDateTime())
	}
	return out
}

func toRegistration(r models.UserRegistrationDetailsable) actions.Registration {
	out := actions.Registration{
		MFARegistered:          deref(r.GetIsMfaRegistered()),
		MFACapable:             deref(r.GetIsMfaCapable()),
		SSPRRegistered:         deref(r.GetIsSsprRegistered()),
		SSPREnabled:            deref(r.GetIsSsprEnabled()),
		SSPRCapable:            deref(r.GetIsSsprCapable()),
		PasswordlessCapable:    deref(r.GetIsPasswordlessCapable()),
		SystemPreferredEnabled: deref(r.GetIsSystemPreferredAuthenticationMethodEnabled()),
		SystemPreferred:        r.GetSystemPreferredAuthenticationMethods(),
		MethodsRegistered:      r.GetMethodsRegistered(),
		IsAdmin:                deref(r.GetIsAdmin()),
		Updated:                derefTime(r.GetLastUpdatedDateTime()),
	}
	if p := r.GetUserPreferredMethodForSecondaryAuthentication(); p != nil {
		out.UserPreferred = p.String()
	}
	return out
}

func toAudit(a models.DirectoryAuditable) actions.AuditEvent {
	out := actions.AuditEvent{
		ID:            deref(a.GetId()),
		Time:          derefTime(a.GetActivityDateTime()),
		Activity:      deref(a.GetActivityDisplayName()),
		Service:       deref(a.GetLoggedByService()),
		Category:      deref(a.GetCategory()),
		Reason:        deref(a.GetResultReason()),
		CorrelationID: deref(a.GetCorrelationId()),
	}
	if r := a.GetResult(); r != nil {
		out.Result = r.String()
	}
	if by := a.GetInitiatedBy(); by != nil {
		if u := by.GetUser(); u != nil && (u.GetUserPrincipalName() != nil || u.GetId() != nil) {
			out.InitiatedBy = deref(u.GetUserPrincipalName())
			out.InitiatedByID, out.IP = deref(u.GetId()), deref(u.GetIpAddress())
			if out.InitiatedBy == "" {
				out.InitiatedBy = deref(u.GetId())
			}
		} else if app := by.GetApp(); app != nil {
			out.InitiatedBy, out.ByApp = deref(app.GetDisplayName()), true
		}
	}
	for _, d := range a.GetAdditionalDetails() {
		if k, v := deref(d.GetKey()), deref(d.GetValue()); k != "" && v != "" {
			if out.Details == nil {
				out.Details = map[string]string{}
			}
			out.Details[k] = v
		}
	}
	for _, t := range a.GetTargetResources() {
		if id := deref(t.GetId()); id != "" {
			out.TargetIDs = append(out.TargetIDs, id)
		}
		for _, p := range t.GetModifiedProperties() {
			if n := deref(p.GetDisplayName()); n != "" && n != "Included Updated Properties" {
				out.Modified = append(out.Modified, n)
			}
		}
	}
	return out
}

// rawSignIn is the beta signIn shape: v1.0 (and the v1.0 SDK model) lacks
// authenticationRequirement and authenticationDetails.
type rawSignIn struct {
	ID                string    `json:"id"`
	Created           time.Time `json:"createdDateTime"`
	App               string    `json:"appDisplayName"`
	ClientApp         string    `json:"clientAppUsed"`
	IP                string    `json:"ipAddress"`
	ConditionalAccess string    `json:"conditionalAccessStatus"`
	Requirement       string    `json:"authenticationRequirement"`
	Location          *struct {
		City    string `json:"city"`
		Country string `json:"countryOrRegion"`
	} `json:"location"`
	Status *struct {
		ErrorCode         *float64 `json:"errorCode"`
		FailureReason     *string  `json:"failureReason"`
		AdditionalDetails *string  `json:"additionalDetails"`
	} `json:"status"`
	Details []struct {
		Time        time.Time `json:"authenticationStepDateTime"`
		Method      *string   `json:"authenticationMethod"`
		Detail      *string   `json:"authenticationMethodDetail"`
		Succeeded   *bool     `json:"succeeded"`
		Result      *string   `json:"authenticationStepResultDetail"`
		Requirement *string   `json:"authenticationStepRequirement"`
	} `json:"authenticationDetails"`
}

func (r rawSignIn) toSignIn() actions.SignIn {
	s := actions.SignIn{ID: r.ID, Time: r.Created, App: r.App, ClientApp: r.ClientApp, IP: r.IP,
		ConditionalAccess: r.ConditionalAccess, Requirement: r.Requirement}
	if r.Location != nil {
		s.Location = strings.Join(nonEmpty(r.Location.City, r.Location.Country), ", ")
		s.Country = strings.ToUpper(strings.TrimSpace(r.Location.Country))
	}
	if r.Status != nil {
		if r.Status.ErrorCode != nil {
			s.ErrorCode = int(*r.Status.ErrorCode)
		}
		s.FailureReason = deref(r.Status.FailureReason)
		s.AdditionalDetails = deref(r.Status.AdditionalDetails)
	}
	for _, d := range r.Details {
		s.Steps = append(s.Steps, actions.AuthStep{Time: d.Time, Method: deref(d.Method), Detail: deref(d.Detail),
			Succeeded: deref(d.Succeeded), Result: deref(d.Result), Requirement: deref(d.Requirement)})
	}
	return s
}

func nonEmpty(parts ...string) []string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" && p != "version" {
			out = append(out, p)
		}
	}
	return out
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if !u.IsAbs() {
		return nil, fmt.Errorf("next link %q is not absolute", s)
	}
	return u, nil
}
