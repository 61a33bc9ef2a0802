package actions

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// These cases complement the seed cases (tested against the fake tenant in
// actions/graph): what Diagnose concludes when part of the evidence is missing, and
// where its thresholds lie.

var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func evidence(mutate func(*Evidence)) Evidence {
	ev := Evidence{
		Query: Query{Sources: ForDiagnose}.Normalized(),
		User:  User{ID: "u1", UPN: "u@contoso.com", DisplayName: "U", Enabled: true},
		Methods: []Method{
			{ID: "pw", Type: MethodPassword},
			{ID: "a1", Type: MethodAuthenticator, DisplayName: "iPhone", Created: t0.Add(-time.Hour)},
		},
		Registration: &Registration{MFARegistered: true, MFACapable: true, MethodsRegistered: []string{"microsoftAuthenticatorPush"}, Updated: t0},
		PerUserMFA:   "disabled",
		Preferences:  &SignInPreferences{UserPreferred: "push"},
		Missing:      map[Source]error{},
	}
	mutate(&ev)
	return ev
}

func fail(at time.Time, code int, mfa string, place string) SignIn {
	s := SignIn{Time: at, ErrorCode: code, App: "Exchange", IP: "198.51.100.1", Location: place,
		Steps: []AuthStep{{Method: "Password", Succeeded: true, Requirement: "Primary authentication"}}}
	if mfa != "" {
		s.Steps = append(s.Steps, AuthStep{Method: "Mobile app notification", Result: mfa, Requirement: "Multi-factor authentication"})
	}
	return s
}

func TestDiagnoseEdgeCases(t *testing.T) {
	forbidden := &Error{Kind: KindForbidden, Message: "Insufficient privileges", Permission: "AuditLog.Read.All"}
	started := AuditEvent{Time: t0.Add(-50 * time.Minute), Activity: ActivityStarted, Service: ServiceAuthMethods, Result: "success",
		Reason: "User started the registration for Authenticator App with Notification and Code"}
	registered := started
	registered.Time, registered.Activity, registered.Reason = t0.Add(-49*time.Minute), ActivityRegistered, "User registered Authenticator App with Notification and Code"
	tests := []struct {
		name      string
		ev        Evidence
		want, not []string
		verb      string
		title     string // substring of the first finding's title
	}{
		{name: "report alone says not capable: likely unverified",
			ev: evidence(func(e *Evidence) {
				e.Registration = &Registration{Updated: t0}
				e.Missing[SourceAudits] = forbidden
			}),
			want: []string{FindingUnverified}, verb: "reregister", title: "likely never verified"},
		{name: "audit trail alone: started, never registered",
			ev: evidence(func(e *Evidence) {
				e.Registration = nil
				e.Missing[SourceRegistration] = forbidden
				e.Audits = []AuditEvent{started}
			}),
			want: []string{FindingUnverified}, verb: "reregister", title: "never verified"},
		{name: "registered after a start: usable even if the report lags",
			ev: evidence(func(e *Evidence) {
				e.Registration = &Registration{Updated: t0.Add(-2 * time.Hour)}
				e.Audits = []AuditEvent{started, registered}
			}),
			want: []string{FindingUsable}, not: []string{FindingUnverified}},
		{name: "unverified but another method works: self-service first",
			ev: evidence(func(e *Evidence) {
				e.Registration = &Registration{MFACapable: true, MethodsRegistered: []string{"mobilePhone"}, Updated: t0}
				e.Methods = append(e.Methods, Method{ID: "3179e48a", Type: MethodPhone, PhoneType: "mobile", PhoneNumber: "+1 4255550199"})
				e.Audits = []AuditEvent{started}
			}),
			want: []string{FindingUnverified}, not: []string{FindingNotRegistered}, verb: "reregister"},
		{name: "nothing but e-mail: not registered",
			ev: evidence(func(e *Evidence) {
				e.Methods = []Method{{ID: "pw", Type: MethodPassword}, {ID: "e1", Type: MethodEmail, Detail: "u@example.com"}}
				e.Registration = &Registration{Updated: t0}
			}),
			want: []string{FindingNotRegistered}},
		{name: "two failures are not a burst",
			ev: evidence(func(e *Evidence) {
				e.SignIns = []SignIn{fail(t0, 50126, "", "Seattle, US"), fail(t0.Add(-time.Minute), 50126, "", "Seattle, US")}
			}),
			not: []string{FindingSignInFailures}},
		{name: "failures a day apart are not a burst",
			ev: evidence(func(e *Evidence) {
				e.SignIns = []SignIn{fail(t0, 50126, "", "US"), fail(t0.Add(-25*time.Hour), 50126, "", "US"), fail(t0.Add(-26*time.Hour), 50126, "", "US")}
			}),
			not: []string{FindingSignInFailures}},
		{name: "password failures burst: warning, ask the user",
			ev: evidence(func(e *Evidence) {
				for i := range 4 {
					e.SignIns = append(e.SignIns, fail(t0.Add(-time.Duration(i)*time.Minute), 50126, "", "Seattle, US"))
				}
			}),
			want: []string{FindingSignInFailures}},
		{name: "one reported fraud is enough to suspect compromise",
			ev: evidence(func(e *Evidence) {
				e.SignIns = []SignIn{fail(t0, 500121, "MFA denied; fraud code entered", "Seattle, US")}
			}),
			want: []string{FindingSignInFailures}, verb: "revoke"},
		{name: "MFA prompts are interrupts, not failures",
			ev: evidence(func(e *Evidence) {
				for i := range 5 {
					e.SignIns = append(e.SignIns, fail(t0.Add(-time.Duration(i)*time.Minute), 50074, "", "Seattle, US"))
				}
			}),
			not: []string{FindingSignInFailures}},
		{name: "disabled account",
			ev:   evidence(func(e *Evidence) { e.User.Enabled = false }),
			want: []string{FindingAccountDisabled}},
		{name: "per-user MFA enforced",
			ev:   evidence(func(e *Evidence) { e.PerUserMFA = "enforced" }),
			want: []string{FindingPerUserEnabled}, not: []string{FindingPerUserDisabled}},
		{name: "per-user disabled and nothing registered: not the CA case",
			ev: evidence(func(e *Evidence) {
				e.Methods = e.Methods[:1]
				e.Registration = &Registration{Updated: t0}
			}),
			want: []string{FindingNotRegistered}, not: []string{FindingPerUserDisabled}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Diagnose(tt.ev, t0)
			for _, c := range tt.want {
				if !d.Has(c) {
					t.Errorf("missing %s in %+v", c, d.Findings)
				}
			}
			for _, c := range tt.not {
				if d.Has(c) {
					t.Errorf("unexpected %s", c)
				}
			}
			if d.Next.Verb != tt.verb || d.Next.Text == "" {
				t.Errorf("next = %+v, want verb %q", d.Next, tt.verb)
			}
			if tt.title != "" && (len(d.Findings) == 0 || !strings.Contains(d.Findings[0].Title, tt.title)) {
				t.Errorf("first finding %+v, want title with %q", d.Findings, tt.title)
			}
			for _, f := range d.Findings {
				if len(f.Evidence) == 0 {
					t.Errorf("%s has no evidence", f.Code)
				}
			}
		})
	}
}

func TestDiagnoseNotesMissingSources(t *testing.T) {
	ev := evidence(func(e *Evidence) {
		e.Missing[SourceSignIns] = &Error{Kind: KindForbidden, Licence: "Entra ID P1 or P2"}
		e.Missing[SourceMethods] = errors.New("boom")
		e.Methods = nil
	})
	d := Diagnose(ev, t0)
	if len(d.Notes) != 2 || !strings.Contains(strings.Join(d.Notes, " "), "Sign-ins unavailable: Microsoft Graph refused (403): the tenant has no Entra ID P1 or P2 licence") {
		t.Errorf("notes = %q", d.Notes)
	}
}

func TestDefaultMethodIndex(t *testing.T) {
	ms := []Method{
		{Type: MethodPassword}, {Type: MethodAuthenticator}, {Type: MethodPhone, PhoneType: "alternateMobile"},
		{Type: MethodPhone, PhoneType: "mobile"}, {Type: MethodSoftwareOath},
	}
	for pref, want := range map[string]int{"push": 1, "oath": 4, "sms": 3, "voiceMobile": 3, "voiceAlternateMobile": 2, "voiceOffice": -1, "none": -1, "": -1} {
		if got := DefaultMethodIndex(ms, pref); got != want {
			t.Errorf("%q → %d, want %d", pref, got, want)
		}
	}
	if got := DefaultMethodIndex(ms[:4], "oath"); got != 1 {
		t.Errorf("oath without a software token → %d, want the Authenticator", got)
	}
}

// TestDiagnoseUndetermined: when the methods or the registration report could not be
// read, diagnose never says "No MFA problem found": it says the answer could not be
// determined, and the real cause.
func TestDiagnoseUndetermined(t *testing.T) {
	tests := []struct {
		name string
		src  Source
		err  error
		why  string
	}{
		{"methods throttled", SourceMethods, &Error{Kind: KindThrottled, RetryAfter: 7 * time.Second}, "Authentication methods unavailable: Microsoft Graph is throttling the bot; try again in 7 s."},
		{"methods permission", SourceMethods, &Error{Kind: KindForbidden, Permission: "UserAuthenticationMethod.Read.All"}, "lacks UserAuthenticationMethod.Read.All"},
		{"report licence", SourceRegistration, &Error{Kind: KindForbidden, Licence: "Entra ID P1 or P2"}, "the tenant has no Entra ID P1 or P2 licence"},
		{"report outage", SourceRegistration, &Error{Kind: KindUnavailable, Message: "Microsoft Graph did not answer in time"}, "did not answer in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := evidence(func(e *Evidence) {
				e.Missing[tt.src] = tt.err
				if tt.src == SourceMethods {
					e.Methods = nil
				} else {
					e.Registration = nil
					// The audit trail alone shows a completed registration.
					e.Audits = []AuditEvent{{Time: t0.Add(-49 * time.Minute), Activity: ActivityRegistered, Service: ServiceAuthMethods, Result: "success",
						Reason: "User registered Authenticator App with Notification and Code"}}
				}
			})
			d := Diagnose(ev, t0)
			if strings.Contains(d.Next.Text, "No MFA problem") {
				t.Errorf("next = %q: claims no problem without the evidence", d.Next.Text)
			}
			if !strings.Contains(d.Next.Text, "could not be determined") || !strings.Contains(d.Next.Text, tt.why) {
				t.Errorf("next = %q, want it undetermined because %q", d.Next.Text, tt.why)
			}
		})
	}
}
