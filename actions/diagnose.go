package actions

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Severity of a finding.
type Severity string

// Severities.
const (
	SeverityInfo    Severity = "info"
	SeverityWarning Severity = "warning"
	SeverityProblem Severity = "problem"
)

// Finding codes: stable names for tests, metrics and the chat rendering.
const (
	FindingAccountDisabled    = "account-disabled"
	FindingMFAGroup           = "mfa-group"
	FindingAdmin              = "admin-roles"
	FindingUnverified         = "authenticator-unverified"
	FindingNotRegistered      = "not-registered"
	FindingNoUsableMethod     = "no-usable-method"
	FindingUsable             = "mfa-usable"
	FindingPerUserDisabled    = "per-user-mfa-disabled"
	FindingPerUserEnabled     = "per-user-mfa-enabled"
	FindingSignInFailures     = "sign-in-failures"
	FindingRegistrationPrompt = "registration-interrupts"
)

// SecurityInfoURL is where users manage their own methods (aka.ms/mfasetup leads to the
// same page).
const SecurityInfoURL = "https://aka.ms/mysecurityinfo"

// Finding is one conclusion of Diagnose with the evidence behind it: which field or
// event said so, so a person can check it.
type Finding struct {
	Code     string
	Severity Severity
	Title    string
	Detail   string
	Evidence []string
}

// Recommendation is the next step. Verb, when set, is the request to file
// ("reregister" or "revoke").
type Recommendation struct {
	Text string
	Verb string
}

// Diagnosis is what Diagnose concludes.
type Diagnosis struct {
	Findings []Finding
	Next     Recommendation
	Methods  []Method // with usability marked
	Notes    []string // sources that could not be read, and why; how fresh the reports are
}

// Has reports whether the diagnosis holds a finding with this code.
func (d Diagnosis) Has(code string) bool {
	for _, f := range d.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}

// Find returns the finding with this code.
func (d Diagnosis) Find(code string) (Finding, bool) {
	for _, f := range d.Findings {
		if f.Code == code {
			return f, true
		}
	}
	return Finding{}, false
}

// Thresholds for sign-in failures: a burst is this many failures within the window.
const (
	burstCount  = 3
	burstWindow = 24 * time.Hour
)

// Diagnose folds one snapshot of evidence into findings and a next step. It is a pure
// function: the same evidence and time give the same answer, and it makes no calls.
func Diagnose(ev Evidence, now time.Time) Diagnosis {
	d := Diagnosis{Methods: Usability(ev), Notes: ev.Notes()}
	u := ev.User
	reg := ev.Registration
	if !ev.Has(SourceRegistration) {
		reg = nil
	}

	if !u.Enabled {
		d.add(Finding{Code: FindingAccountDisabled, Severity: SeverityProblem,
			Title:    "The account is disabled",
			Detail:   "Nobody can sign in to a disabled account, with or without MFA. MFA is not the problem here.",
			Evidence: []string{"user: accountEnabled = false"}})
	}
	if len(u.MFAGroups) > 0 {
		d.add(Finding{Code: FindingMFAGroup, Severity: SeverityInfo,
			Title:    "MFA is required for this user",
			Detail:   fmt.Sprintf("They are a member of %s, which makes MFA required: they cannot sign in without a working second factor.", strings.Join(u.MFAGroups, ", ")),
			Evidence: prefixAll("groups: transitive member of ", u.MFAGroups)})
	}
	if u.IsAdmin() {
		d.add(Finding{Code: FindingAdmin, Severity: SeverityInfo,
			Title:    "Holds admin roles: " + strings.Join(u.Roles, ", "),
			Detail:   "A protected target: changes to their methods may need a second approver, and a compromise is more serious.",
			Evidence: prefixAll("roles: ", u.Roles)})
	}

	failures := summariseFailures(ev)
	regState := authenticatorRegistration(ev)

	var strong, usable, unverified []Method
	for _, m := range d.Methods {
		if !StrongMethod(m.Type) {
			continue
		}
		strong = append(strong, m)
		if m.Usable != nil && *m.Usable {
			usable = append(usable, m)
		}
		if m.Type == MethodAuthenticator && m.Usable != nil && !*m.Usable {
			unverified = append(unverified, m)
		}
	}
	methodsKnown := ev.Has(SourceMethods)

	switch {
	case methodsKnown && len(unverified) > 0:
		var ev2 []string
		for _, m := range unverified {
			ev2 = append(ev2, fmt.Sprintf("methods: %s added %s", m.Label(), when(m.Created)))
		}
		if reg != nil {
			ev2 = append(ev2, fmt.Sprintf("registration report (updated %s): isMfaCapable = %t, methodsRegistered = [%s]", when(reg.Updated), reg.MFACapable, strings.Join(reg.MethodsRegistered, ", ")))
		}
		ev2 = append(ev2, regState.evidence()...)
		if failures.enrolment > 0 {
			ev2 = append(ev2, fmt.Sprintf("sign-ins: %d interrupted because the user must register for MFA (%s)", failures.enrolment, strings.Join(failures.enrolmentCodes, ", ")))
		}
		detail := fmt.Sprintf("%s was added to the account, but its registration was never completed: the user did not answer the test notification or enter the code, so it cannot satisfy MFA and the user is asked to register again at sign-in. The security-info page, the portal and Graph's method list still show it as registered.", labels(unverified))
		if len(usable) > 0 {
			detail += " Other methods still work: " + labels(usable) + "."
		}
		title := "Microsoft Authenticator added but never verified: not usable"
		if !regState.incomplete() {
			// Only the report speaks: the audit trail is older than the window or unreadable.
			title = "Microsoft Authenticator listed but not usable (likely never verified)"
		}
		d.add(Finding{Code: FindingUnverified, Severity: SeverityProblem, Title: title, Detail: detail, Evidence: ev2})
	case methodsKnown && len(strong) == 0:
		evs := []string{"methods: " + methodList(d.Methods)}
		if reg != nil {
			evs = append(evs, fmt.Sprintf("registration report (updated %s): isMfaRegistered = %t", when(reg.Updated), reg.MFARegistered))
		}
		if failures.enrolment > 0 {
			evs = append(evs, fmt.Sprintf("sign-ins: %d interrupted because the user must register for MFA (%s)", failures.enrolment, strings.Join(failures.enrolmentCodes, ", ")))
		}
		d.add(Finding{Code: FindingNotRegistered, Severity: SeverityProblem,
			Title:    "Not registered for MFA",
			Detail:   "The user has no second factor, only a password. Wherever MFA is required they will be asked to register first, and until then their account is protected by the password alone.",
			Evidence: evs})
	case methodsKnown && len(usable) == 0 && reg != nil && !reg.MFACapable:
		d.add(Finding{Code: FindingNoUsableMethod, Severity: SeverityProblem,
			Title:  "No usable MFA method",
			Detail: fmt.Sprintf("%s registered, but the registration report says the user is not MFA capable: the methods are not allowed by the authentication methods policy, or their registration is incomplete.", labels(strong)),
			Evidence: []string{"methods: " + methodList(d.Methods),
				fmt.Sprintf("registration report (updated %s): isMfaCapable = false, methodsRegistered = [%s]", when(reg.Updated), strings.Join(reg.MethodsRegistered, ", "))}})
	case methodsKnown && len(usable) > 0:
		evs := []string{"methods: " + labels(usable)}
		if reg != nil {
			evs = append(evs, fmt.Sprintf("registration report (updated %s): isMfaCapable = %t, methodsRegistered = [%s]", when(reg.Updated), reg.MFACapable, strings.Join(reg.MethodsRegistered, ", ")))
		}
		evs = append(evs, regState.evidence()...)
		if s, ok := lastMFASuccess(ev); ok {
			evs = append(evs, fmt.Sprintf("sign-in %s: MFA satisfied by %s", when(s.Time), s.MFAMethod()))
		}
		d.add(Finding{Code: FindingUsable, Severity: SeverityInfo,
			Title:    "MFA registered and usable",
			Detail:   fmt.Sprintf("%s can satisfy MFA.", labels(usable)),
			Evidence: evs})
	}

	// Per-user MFA is legacy: in a tenant that enforces MFA with Conditional Access or
	// security defaults it stays "disabled", and people "fix" it by enabling it.
	mfaWorks := len(usable) > 0 || (reg != nil && reg.MFACapable)
	switch {
	case ev.Has(SourcePerUserMFA) && ev.PerUserMFA == "disabled" && mfaWorks:
		evs := []string{"per-user MFA state: disabled (authentication/requirements, beta)"}
		if reg != nil {
			evs = append(evs, fmt.Sprintf("registration report: isMfaRegistered = %t, isMfaCapable = %t", reg.MFARegistered, reg.MFACapable))
		}
		if s, ok := lastMFASuccess(ev); ok {
			evs = append(evs, fmt.Sprintf("sign-in %s to %s: MFA satisfied by %s, Conditional Access %s", when(s.Time), s.App, s.MFAMethod(), s.ConditionalAccess))
		}
		d.add(Finding{Code: FindingPerUserDisabled, Severity: SeverityInfo,
			Title:    "Per-user MFA shows \"disabled\": expected, not a fault",
			Detail:   "The user registered through Conditional Access or security defaults, which is what enforces MFA here; the legacy per-user MFA state stays \"disabled\" and does not matter. Do not enable per-user MFA. To add or change methods, the user goes to the security-info page, " + SecurityInfoURL + " (also https://aka.ms/mfasetup).",
			Evidence: evs})
	case ev.Has(SourcePerUserMFA) && (ev.PerUserMFA == "enabled" || ev.PerUserMFA == "enforced"):
		d.add(Finding{Code: FindingPerUserEnabled, Severity: SeverityInfo,
			Title:    "Per-user MFA is " + ev.PerUserMFA,
			Detail:   "Legacy per-user MFA requires MFA on every sign-in, whatever Conditional Access says.",
			Evidence: []string{"per-user MFA state: " + ev.PerUserMFA + " (authentication/requirements, beta)"}})
	}

	if failures.total >= burstCount || failures.denied > 0 {
		sev := SeverityWarning
		if failures.suspicious() {
			sev = SeverityProblem
		}
		d.add(Finding{Code: FindingSignInFailures, Severity: sev,
			Title:    failures.title(),
			Detail:   failures.detail(),
			Evidence: failures.evidence()})
	} else if failures.enrolment > 0 && !d.Has(FindingUnverified) && !d.Has(FindingNotRegistered) {
		d.add(Finding{Code: FindingRegistrationPrompt, Severity: SeverityWarning,
			Title:    "Sign-ins ask the user to register for MFA",
			Detail:   "Entra ID does not consider the user registered, although methods are listed.",
			Evidence: []string{fmt.Sprintf("sign-ins: %d interrupted (%s)", failures.enrolment, strings.Join(failures.enrolmentCodes, ", "))}})
	}

	d.Next = nextStep(d, failures, len(usable) > 0, ev)
	sort.SliceStable(d.Findings, func(i, j int) bool { return rank(d.Findings[i].Severity) < rank(d.Findings[j].Severity) })
	return d
}

func (d *Diagnosis) add(f Finding) { d.Findings = append(d.Findings, f) }

func rank(s Severity) int {
	switch s {
	case SeverityProblem:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

func nextStep(d Diagnosis, f failureSummary, hasUsable bool, ev Evidence) Recommendation {
	switch {
	case f.suspicious():
		return Recommendation{Verb: "revoke",
			Text: "If the user did not start these sign-ins, treat the account as compromised: file a revoke request to sign them out everywhere, and have their password reset."}
	case d.Has(FindingAccountDisabled):
		return Recommendation{Text: "Find out why the account is disabled and re-enable it through your usual process; MFA changes will not help until then."}
	case d.Has(FindingUnverified):
		text := "Re-register: after verifying the caller's identity, file a re-register request; it deletes the unusable Authenticator entry so the user can add it again at " + SecurityInfoURL + " and complete the verification (approve the test notification)."
		if hasUsable {
			text = "The user can still sign in with another method: ask them to delete the unverified Authenticator at " + SecurityInfoURL + " and add it again, completing the verification. If they cannot, file a re-register request."
		}
		return Recommendation{Verb: "reregister", Text: text}
	case d.Has(FindingNotRegistered), d.Has(FindingNoUsableMethod):
		return Recommendation{Text: "Ask the user to register a method at " + SecurityInfoURL + " while they can still sign in. If they are locked out and you have verified who they are, file a re-register request so they can set MFA up again."}
	case d.Has(FindingSignInFailures):
		return Recommendation{Text: "Ask the user whether they made these sign-ins. If they did not, file a revoke request and have their password reset."}
	case undetermined(ev) != "":
		// Every conclusion below says "no problem": not without the methods and the
		// registration report, which are what says whether MFA works.
		return Recommendation{Text: undetermined(ev)}
	case d.Has(FindingPerUserDisabled):
		return Recommendation{Text: "No MFA problem found. Per-user MFA \"disabled\" is expected here: do not enable it. To add or change methods, send the user to " + SecurityInfoURL + " (aka.ms/mfasetup)."}
	case d.Has(FindingUsable):
		return Recommendation{Text: "No MFA problem found. If the user still cannot sign in, look at their latest sign-ins (signins --failed)."}
	}
	if len(ev.Missing) > 0 {
		return Recommendation{Text: "Not enough evidence for a conclusion: " + strings.Join(ev.Notes(), " ")}
	}
	return Recommendation{Text: "No MFA problem found."}
}

// Usability marks each method usable or not from the evidence: the registration report
// (isMfaCapable, methodsRegistered) and the security-info audit trail. The methods list
// alone cannot tell; that is the case the portal and Graph hide.
func Usability(ev Evidence) []Method {
	out := make([]Method, len(ev.Methods))
	copy(out, ev.Methods)
	var reg *Registration
	if ev.Has(SourceRegistration) {
		reg = ev.Registration
	}
	regState := authenticatorRegistration(ev)
	pref := preferredMethod(ev)
	hasOath := false
	for _, m := range out {
		hasOath = hasOath || m.Type == MethodSoftwareOath
	}
	inReport := func(names ...string) bool {
		if reg == nil {
			return false
		}
		for _, have := range reg.MethodsRegistered {
			for _, n := range names {
				if strings.EqualFold(have, n) {
					return true
				}
			}
		}
		return false
	}
	yes, no := true, false
	defaultIdx := defaultMethodIndex(out, pref)
	for i := range out {
		m := &out[i]
		if defaultIdx == i {
			m.Default = true
		}
		switch m.Type {
		case MethodAuthenticator:
			reportYes := inReport("microsoftAuthenticatorPush", "microsoftAuthenticatorPasswordless") ||
				(!hasOath && inReport("softwareOneTimePasscode"))
			switch {
			case regState.verified():
				m.Usable, m.UsableWhy = &yes, "verified: "+regState.registered.Activity+" "+when(regState.registered.Time)
			case regState.incomplete() && !reportYes:
				m.Usable, m.UsableWhy = &no, "registration started "+when(regState.started.Time)+" but never completed"
			case reportYes:
				m.Usable, m.UsableWhy = &yes, "in the registration report"
			case reg != nil && !reg.MFACapable:
				m.Usable, m.UsableWhy = &no, "not in the registration report, which says the user is not MFA capable"
			}
		case MethodPhone:
			name := map[string]string{"mobile": "mobilePhone", "alternateMobile": "alternateMobilePhone", "office": "officePhone"}[m.PhoneType]
			if inReport(name) {
				m.Usable, m.UsableWhy = &yes, "in the registration report"
			}
		case MethodSoftwareOath:
			if inReport("softwareOneTimePasscode") {
				m.Usable, m.UsableWhy = &yes, "in the registration report"
			}
		case MethodFido2:
			if inReport("fido2", "passKeyDeviceBound", "passKeyDeviceBoundAuthenticator") {
				m.Usable, m.UsableWhy = &yes, "in the registration report"
			}
		case MethodWindowsHello:
			if inReport("windowsHelloForBusiness", "passKeyDeviceBoundWindowsHello") {
				m.Usable, m.UsableWhy = &yes, "in the registration report"
			}
		case MethodPassword:
			m.UsableWhy = "a first factor, not MFA"
		case MethodEmail:
			m.UsableWhy = "for password reset only, not MFA"
		}
	}
	return out
}

// preferredMethod is the user's default second factor: the live sign-in preference,
// else the registration report's copy (which can lag).
func preferredMethod(ev Evidence) string {
	if ev.Has(SourcePreferences) && ev.Preferences != nil && ev.Preferences.UserPreferred != "" {
		return ev.Preferences.UserPreferred
	}
	if ev.Has(SourceRegistration) && ev.Registration != nil && ev.Registration.UserPreferred != "none" {
		return ev.Registration.UserPreferred
	}
	return ""
}

// DefaultMethodIndex returns which of methods is the default second factor for a
// preference value (push, oath, sms, voiceMobile, voiceAlternateMobile, voiceOffice),
// or -1. "oath" is a code from a software token, else from the Authenticator.
func DefaultMethodIndex(methods []Method, preference string) int {
	return defaultMethodIndex(methods, preference)
}

func defaultMethodIndex(methods []Method, pref string) int {
	first := func(match func(Method) bool) int {
		for i, m := range methods {
			if match(m) {
				return i
			}
		}
		return -1
	}
	phone := func(t string) int {
		return first(func(m Method) bool { return m.Type == MethodPhone && m.PhoneType == t })
	}
	switch pref {
	case "push":
		return first(func(m Method) bool { return m.Type == MethodAuthenticator })
	case "oath":
		if i := first(func(m Method) bool { return m.Type == MethodSoftwareOath }); i >= 0 {
			return i
		}
		return first(func(m Method) bool { return m.Type == MethodAuthenticator })
	case "sms", "voiceMobile":
		return phone("mobile")
	case "voiceAlternateMobile":
		return phone("alternateMobile")
	case "voiceOffice":
		return phone("office")
	}
	return -1
}

// undetermined says why whether MFA works could not be determined — the methods or the
// registration report could not be read, and the real cause (throttling, a missing
// permission by name, the licence, an outage) — or "" when both were read.
func undetermined(ev Evidence) string {
	var why []string
	for _, s := range []Source{SourceMethods, SourceRegistration} {
		if n := ev.Note(s); n != "" {
			why = append(why, n)
		}
	}
	if len(why) == 0 {
		return ""
	}
	return "Whether MFA works could not be determined. " + strings.Join(why, " ")
}

// regTrail is the Authenticator's registration as the audit log tells it.
type regTrail struct {
	started, registered, sasUpdate, cancelled *AuditEvent
}

// authenticatorRegistration reads the audit trail of Authenticator registrations: the
// latest "User started security info registration" for the Authenticator app, whether a
// successful "User registered security info" for it followed, and the MFA service's
// "Update user" that stamps the app on the user when it is added.
func authenticatorRegistration(ev Evidence) regTrail {
	var t regTrail
	if !ev.Has(SourceAudits) {
		return t
	}
	later := func(cur *AuditEvent, a *AuditEvent) bool { return cur == nil || a.Time.After(cur.Time) }
	for i := range ev.Audits {
		a := &ev.Audits[i]
		switch {
		case a.IsSecurityInfo() && strings.EqualFold(a.Activity, ActivityStarted) && a.MentionsAuthenticator():
			if later(t.started, a) {
				t.started = a
			}
		case a.IsSecurityInfo() && strings.EqualFold(a.Activity, ActivityRegistered) && a.MentionsAuthenticator() && strings.EqualFold(a.Result, "success"):
			if later(t.registered, a) {
				t.registered = a
			}
		case a.IsSecurityInfo() && strings.EqualFold(a.Activity, ActivityRegisteredAll) && strings.EqualFold(a.Result, "failure"):
			if later(t.cancelled, a) {
				t.cancelled = a
			}
		case a.ByStrongAuthService():
			if later(t.sasUpdate, a) {
				t.sasUpdate = a
			}
		}
	}
	return t
}

// verified: a successful registration of the Authenticator, not followed by a newer start.
func (t regTrail) verified() bool {
	return t.registered != nil && (t.started == nil || !t.registered.Time.Before(t.started.Time))
}

// incomplete: the latest start was never followed by a successful registration.
func (t regTrail) incomplete() bool {
	return t.started != nil && (t.registered == nil || t.registered.Time.Before(t.started.Time))
}

func (t regTrail) evidence() []string {
	var out []string
	if t.sasUpdate != nil {
		out = append(out, fmt.Sprintf("audit %s: %s by %s%s", when(t.sasUpdate.Time), t.sasUpdate.Activity, t.sasUpdate.InitiatedBy, modified(t.sasUpdate.Modified)))
	}
	if t.started != nil {
		out = append(out, fmt.Sprintf("audit %s: %s: %s", when(t.started.Time), t.started.Activity, t.started.Reason))
	}
	switch {
	case t.verified():
		out = append(out, fmt.Sprintf("audit %s: %s: %s", when(t.registered.Time), t.registered.Activity, t.registered.Reason))
	case t.incomplete():
		out = append(out, "audit: no \""+ActivityRegistered+"\" for the Authenticator app after it")
	}
	if t.cancelled != nil {
		out = append(out, fmt.Sprintf("audit %s: %s failed: %s", when(t.cancelled.Time), t.cancelled.Activity, t.cancelled.Reason))
	}
	return out
}

func modified(props []string) string {
	if len(props) == 0 {
		return ""
	}
	return " (" + strings.Join(props, ", ") + ")"
}

func lastMFASuccess(ev Evidence) (SignIn, bool) {
	if !ev.Has(SourceSignIns) {
		return SignIn{}, false
	}
	for _, s := range ev.SignIns { // newest first
		if !s.Failed() && s.MFAMethod() != "" {
			return s, true
		}
	}
	return SignIn{}, false
}

func labels(ms []Method) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Label())
	}
	return joinAnd(out)
}

func methodList(ms []Method) string {
	if len(ms) == 0 {
		return "none"
	}
	var out []string
	for _, m := range ms {
		out = append(out, TypeLabel(m.Type))
	}
	return strings.Join(out, ", ")
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func prefixAll(p string, s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = p + v
	}
	return out
}

func when(t time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
