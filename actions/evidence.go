package actions

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Source is one thing the directory can tell about a user. Sources combine as a bit
// set, so a lookup asks for exactly what it shows and an implementation can fetch
// them together (Graph: one JSON $batch).
type Source uint16

// The sources. Each may be missing on its own (a permission, a licence, throttling)
// without failing the others.
const (
	SourceUser         Source = 1 << iota // the user object; always fetched
	SourceGroups                          // transitive groups (MFA-relevant ones) and directory roles
	SourceLastSignIn                      // signInActivity: needs AuditLog.Read.All and Entra ID P1
	SourceMethods                         // registered authentication methods
	SourceRegistration                    // the userRegistrationDetails report row
	SourcePerUserMFA                      // per-user MFA state (beta requirements)
	SourcePreferences                     // sign-in preferences: the default MFA method (beta)
	SourceSignIns                         // recent sign-ins with MFA detail (beta)
	SourceAudits                          // directory audit events that target the user
)

// What each lookup verb asks for. Methods and status need more than their names say:
// usability is judged from the registration report and the audit log, and the default
// method comes from the sign-in preferences.
const (
	ForUser     = SourceUser | SourceGroups | SourceLastSignIn
	ForMethods  = SourceUser | SourceMethods | SourceRegistration | SourcePreferences | SourceAudits
	ForStatus   = SourceUser | SourceRegistration | SourcePerUserMFA | SourcePreferences
	ForSignIns  = SourceUser | SourceSignIns
	ForAudit    = SourceUser | SourceAudits
	ForDiagnose = SourceUser | SourceGroups | SourceLastSignIn | SourceMethods | SourceRegistration |
		SourcePerUserMFA | SourcePreferences | SourceSignIns | SourceAudits
)

var sourceNames = []struct {
	s    Source
	name string
}{
	{SourceUser, "user"},
	{SourceGroups, "groups and roles"},
	{SourceLastSignIn, "last sign-in"},
	{SourceMethods, "authentication methods"},
	{SourceRegistration, "registration report"},
	{SourcePerUserMFA, "per-user MFA state"},
	{SourcePreferences, "sign-in preferences"},
	{SourceSignIns, "sign-ins"},
	{SourceAudits, "audit log"},
}

// String names the sources for people, e.g. "sign-ins, audit log".
func (s Source) String() string {
	var names []string
	for _, n := range sourceNames {
		if s&n.s != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ", ")
}

// Each returns the single sources in s, in a fixed order.
func (s Source) Each() []Source {
	var out []Source
	for _, n := range sourceNames {
		if s&n.s != 0 {
			out = append(out, n.s)
		}
	}
	return out
}

// Query says what to gather about a user. The zero value of a limit means its default.
type Query struct {
	Sources Source
	// SignInLast is how many sign-ins to return (default 10, at most 200).
	SignInLast int
	// SignInFailedOnly keeps failed sign-ins only. Later pages are read only for this:
	// the caller asked for N failures, and the first page may hold fewer.
	SignInFailedOnly bool
	// SignInDays is how far back sign-ins are read (default 7, at most 30: Graph's retention).
	SignInDays int
	// AuditDays is how far back audit events are read (default 7, at most 30).
	AuditDays int
}

// Defaults of Query.
const (
	DefaultSignInLast = 10
	MaxSignInLast     = 200
	DefaultDays       = 7
	MaxDays           = 30
)

// Normalized returns q with defaults applied and limits enforced; SourceUser is always set.
func (q Query) Normalized() Query {
	q.Sources |= SourceUser
	clamp := func(v, def, max int) int {
		if v <= 0 {
			return def
		}
		if v > max {
			return max
		}
		return v
	}
	q.SignInLast = clamp(q.SignInLast, DefaultSignInLast, MaxSignInLast)
	q.SignInDays = clamp(q.SignInDays, DefaultDays, MaxDays)
	q.AuditDays = clamp(q.AuditDays, DefaultDays, MaxDays)
	return q
}

// Evidence is one snapshot of what the directory said about one user: the input of
// Diagnose and of every lookup's rendering. A source that was asked for but could not
// be read is in Missing with the reason, so the answer can say what it lacks.
type Evidence struct {
	Query Query
	Taken time.Time

	User         User
	Methods      []Method
	Registration *Registration
	PerUserMFA   string // disabled, enabled or enforced; "" when not read
	Preferences  *SignInPreferences
	SignIns      []SignIn // newest first
	SignInsMore  bool     // more matched than were read
	Audits       []AuditEvent
	AuditsMore   bool

	// Missing holds, per single source, why it is absent (an *Error).
	Missing map[Source]error
	// RoundTrips is how many HTTP requests the gathering took.
	RoundTrips int
	// ReportsAsOf is when the oldest report answer shown (registration report,
	// sign-ins, audit log) was read, if it was reused from a short cache; zero when
	// everything was read for this lookup.
	ReportsAsOf time.Time
	// Queued is how long the lookup waited for the tenant's report budget.
	Queued time.Duration
}

// Freshness says, in one line, whether report data was reused or the lookup waited
// for Graph's report budget; "" when neither.
func (e Evidence) Freshness() string {
	var out []string
	if !e.ReportsAsOf.IsZero() {
		out = append(out, fmt.Sprintf("Report data (registration, sign-ins, audit log) as of %d s ago.", secondsCeil(e.Taken.Sub(e.ReportsAsOf))))
	}
	if e.Queued > 0 {
		out = append(out, fmt.Sprintf("Queued %d s for Microsoft Graph's report budget.", secondsCeil(e.Queued)))
	}
	return strings.Join(out, " ")
}

func secondsCeil(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 0)
}

// Has reports whether s was asked for and read.
func (e Evidence) Has(s Source) bool {
	if e.Query.Sources&s == 0 {
		return false
	}
	_, missing := e.Missing[s]
	return !missing
}

// Note explains in one line why source s is missing, or returns "".
func (e Evidence) Note(s Source) string {
	err, ok := e.Missing[s]
	if !ok {
		return ""
	}
	return capitalize(s.String()) + " unavailable: " + Explain(err)
}

// Notes explains every missing source, in a fixed order, then how fresh the report
// data is.
func (e Evidence) Notes() []string {
	var out []string
	for _, s := range ForDiagnose.Each() {
		if n := e.Note(s); n != "" {
			out = append(out, n)
		}
	}
	if f := e.Freshness(); f != "" {
		out = append(out, f)
	}
	return out
}

// Registration is the userRegistrationDetails report row. It is a report: it can lag
// behind the live methods list, so Updated is always shown.
type Registration struct {
	MFARegistered          bool
	MFACapable             bool
	SSPRRegistered         bool
	SSPREnabled            bool
	SSPRCapable            bool
	PasswordlessCapable    bool
	SystemPreferredEnabled bool
	SystemPreferred        []string // push, oath, voiceMobile, ...
	UserPreferred          string   // userPreferredMethodForSecondaryAuthentication
	MethodsRegistered      []string // mobilePhone, microsoftAuthenticatorPush, ...
	IsAdmin                bool
	Updated                time.Time
}

// SignInPreferences is the beta signInPreferences object: the user's default MFA method.
type SignInPreferences struct {
	SystemPreferredEnabled bool
	UserPreferred          string // push, oath, voiceMobile, voiceAlternateMobile, voiceOffice, sms
}

// SignIn is one sign-in event (beta shape: with MFA detail).
type SignIn struct {
	ID                string
	Time              time.Time
	App               string
	ClientApp         string
	IP                string
	Location          string // "City, CC"
	Country           string // countryOrRegion, a two-letter code; "" when Graph gave none
	ErrorCode         int    // 0 = success
	FailureReason     string
	AdditionalDetails string
	ConditionalAccess string // success, failure, notApplied
	Requirement       string // singleFactorAuthentication or multiFactorAuthentication
	Steps             []AuthStep
}

// Failed reports whether the sign-in did not succeed.
func (s SignIn) Failed() bool { return s.ErrorCode != 0 }

// MFAMethod is the method of the sign-in's second factor ("Mobile app notification",
// "Previously satisfied", ...), or "".
func (s SignIn) MFAMethod() string {
	for _, st := range s.Steps {
		if st.Method != "" && !strings.EqualFold(st.Method, "Password") && !strings.Contains(strings.ToLower(st.Requirement), "primary") {
			return st.Method
		}
	}
	return ""
}

// MFADetail is the result detail of the second-factor step ("MFA denied; user declined
// the authentication"), or "".
func (s SignIn) MFADetail() string {
	for _, st := range s.Steps {
		if st.Method != "" && !strings.EqualFold(st.Method, "Password") && st.Result != "" {
			return st.Result
		}
	}
	return ""
}

// AuthStep is one entry of a sign-in's authenticationDetails.
type AuthStep struct {
	Time        time.Time
	Method      string // Password, Mobile app notification, Text message, ...
	Detail      string // authenticationMethodDetail
	Succeeded   bool
	Result      string // authenticationStepResultDetail
	Requirement string // Primary authentication, Multi-factor authentication
}

// AuditEvent is one directory audit event that targets the user.
type AuditEvent struct {
	ID            string
	Time          time.Time
	Activity      string // activityDisplayName
	Service       string // loggedByService: Authentication Methods, Core Directory
	Category      string
	Result        string // success, failure, timeout
	Reason        string // resultReason, e.g. "User registered Authenticator App with Notification and Code"
	InitiatedBy   string // the user's UPN or the app's display name
	ByApp         bool
	CorrelationID string
	Modified      []string // names of modified properties
	// InitiatedByID and IP are the initiating user's object id and address, when a
	// user (not an app) acted; TargetIDs are the ids of the target resources; Details
	// are additionalDetails (key → value), where Graph puts a device or app when known.
	InitiatedByID string
	IP            string
	TargetIDs     []string
	Details       map[string]string
}

// Security-info activities logged by the Authentication Methods service.
const (
	ActivityStarted       = "User started security info registration"
	ActivityRegistered    = "User registered security info"
	ActivityRegisteredAll = "User registered all required security info"
	ActivityDeleted       = "User deleted security info"
	ActivityChangedDef    = "User changed default security info"
	ActivityReviewed      = "User reviewed security info"
	ActivityUpdateUser    = "Update user"
	ServiceAuthMethods    = "Authentication Methods"
	strongAuthService     = "StrongAuthenticationService"
)

// IsSecurityInfo reports whether the event is about the user's security info.
func (a AuditEvent) IsSecurityInfo() bool {
	return strings.EqualFold(a.Service, ServiceAuthMethods)
}

// ByStrongAuthService reports whether the event is the MFA service stamping methods
// on the user ("Update user" by "Azure MFA StrongAuthenticationService").
func (a AuditEvent) ByStrongAuthService() bool {
	return strings.EqualFold(a.Activity, ActivityUpdateUser) && strings.Contains(a.InitiatedBy, strongAuthService)
}

// MentionsAuthenticator reports whether the event's reason names the Authenticator app.
// The reason strings are not documented as stable: match on a substring only.
func (a AuditEvent) MentionsAuthenticator() bool {
	return strings.Contains(strings.ToLower(a.Reason), "authenticator app")
}

// Gatherer reads what the directory knows about one user. Implementations return an
// error only when the user cannot be resolved at all; a source that cannot be read is
// recorded in Evidence.Missing and the rest still comes.
type Gatherer interface {
	Gather(ctx context.Context, ref UserRef, q Query) (Evidence, error)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
