package graph_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// fakeTenant starts the seeded fake tenant (optionally changed by edit) and points the
// real SDK at it over HTTP, with no credential.
func fakeTenant(t testing.TB, edit func(*graphtest.Tenant), cfg graph.Config) (*graph.Client, *graphtest.Server) {
	t.Helper()
	tenant := graphtest.MustTenant("demo")
	if edit != nil {
		edit(tenant)
	}
	fake := graphtest.NewServer(tenant)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL + "/v1.0"
	if cfg.MFAGroups == nil {
		cfg.MFAGroups = []string{"mfaoptin"}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = newFakeClock() // the write path's retries wait on no real clock
	}
	c, err := graph.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, fake
}

func ref(t testing.TB, s string) actions.UserRef {
	t.Helper()
	r, err := actions.ParseUserRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// idOf returns the object id of a demo user by the local part of their UPN.
func idOf(t testing.TB, fake *graphtest.Server, local string) string {
	t.Helper()
	var id string
	fake.Tenant(func(tn *graphtest.Tenant) {
		if u := tn.FindUser(tn.Email(local)); u != nil {
			id = u.ID()
		}
	})
	if id == "" {
		t.Fatalf("no demo user %s", local)
	}
	return id
}

var diagnoseQuery = actions.Query{Sources: actions.ForDiagnose, SignInLast: 50, AuditDays: 30}

// TestLookups reads each lookup's sources for the seed users and checks what each
// lookup shows comes through the SDK with its own fields.
func TestLookups(t *testing.T) {
	c, fake := fakeTenant(t, nil, graph.Config{})
	ctx := context.Background()
	tests := []struct {
		name  string
		user  string
		q     actions.Query
		check func(t *testing.T, ev actions.Evidence)
	}{
		{"user: groups, roles, last sign-in", "olive.optin", actions.Query{Sources: actions.ForUser}, func(t *testing.T, ev actions.Evidence) {
			if strings.Join(ev.User.MFAGroups, ",") != "mfaoptin" || ev.User.LastSignIn.IsZero() || !ev.User.Enabled {
				t.Errorf("user = %+v", ev.User)
			}
		}},
		{"user: admin", "ada.admin", actions.Query{Sources: actions.ForUser}, func(t *testing.T, ev actions.Evidence) {
			if !ev.User.IsAdmin() || ev.User.Roles[0] != "Global Administrator" {
				t.Errorf("roles = %v", ev.User.Roles)
			}
		}},
		{"methods: each type with its fields", "casey.ca", actions.Query{Sources: actions.ForMethods, AuditDays: 30}, func(t *testing.T, ev actions.Evidence) {
			byType := map[actions.MethodType]actions.Method{}
			for _, m := range ev.Methods {
				byType[m.Type] = m
			}
			if p := byType[actions.MethodPhone]; p.PhoneNumber != "+1 4255550199" || p.PhoneType != "mobile" {
				t.Errorf("phone = %+v", p)
			}
			if a := byType[actions.MethodAuthenticator]; a.DisplayName != "Pixel 8" || a.Created.IsZero() || !strings.Contains(a.Detail, "6.2405.3212") {
				t.Errorf("authenticator = %+v", a)
			}
			if _, ok := byType[actions.MethodPassword]; !ok {
				t.Error("no password method")
			}
			if ev.Preferences == nil || ev.Preferences.UserPreferred != "push" {
				t.Errorf("preferences = %+v", ev.Preferences)
			}
			def := 0
			for _, m := range actions.Usability(ev) {
				if m.Default {
					def++
					if m.Type != actions.MethodAuthenticator {
						t.Errorf("default is %s, want the Authenticator (push)", m.Type)
					}
				}
				if m.Type == actions.MethodAuthenticator && (m.Usable == nil || !*m.Usable) {
					t.Errorf("authenticator not usable: %+v", m)
				}
			}
			if def != 1 {
				t.Errorf("%d default methods", def)
			}
		}},
		{"status: report and per-user MFA", "mfatest2", actions.Query{Sources: actions.ForStatus}, func(t *testing.T, ev actions.Evidence) {
			if ev.Registration == nil || ev.Registration.MFACapable || ev.Registration.MFARegistered || ev.Registration.Updated.IsZero() {
				t.Errorf("registration = %+v", ev.Registration)
			}
			if ev.PerUserMFA != "disabled" {
				t.Errorf("per-user MFA = %q", ev.PerUserMFA)
			}
		}},
		{"signins: beta fields", "fiona.failures", actions.Query{Sources: actions.ForSignIns, SignInLast: 3, SignInDays: 30}, func(t *testing.T, ev actions.Evidence) {
			if len(ev.SignIns) != 3 || !ev.SignInsMore {
				t.Fatalf("%d sign-ins (more %v), want the newest 3 of more", len(ev.SignIns), ev.SignInsMore)
			}
			s := ev.SignIns[0]
			if s.ErrorCode != 500121 || s.App == "" || s.IP == "" || s.Location != "Lagos, NG" || s.ConditionalAccess != "failure" ||
				s.Requirement != "multiFactorAuthentication" || s.MFAMethod() != "Mobile app notification" || !strings.Contains(s.MFADetail(), "fraud") {
				t.Errorf("newest sign-in = %+v", s)
			}
			for i := 1; i < len(ev.SignIns); i++ {
				if ev.SignIns[i].Time.After(ev.SignIns[i-1].Time) {
					t.Error("sign-ins are not newest first")
				}
			}
		}},
		{"signins --failed reads further pages", "fiona.failures", actions.Query{Sources: actions.ForSignIns, SignInLast: 8, SignInFailedOnly: true, SignInDays: 30}, func(t *testing.T, ev actions.Evidence) {
			if len(ev.SignIns) != 8 {
				t.Fatalf("%d failed sign-ins, want 8", len(ev.SignIns))
			}
			for _, s := range ev.SignIns {
				if !s.Failed() {
					t.Errorf("successful sign-in in --failed: %+v", s)
				}
			}
		}},
		{"audit: security info and the MFA service", "mfatest1", actions.Query{Sources: actions.ForAudit, AuditDays: 7}, func(t *testing.T, ev actions.Evidence) {
			var started, registered, sas bool
			for _, a := range ev.Audits {
				started = started || a.Activity == actions.ActivityStarted && a.IsSecurityInfo() && a.MentionsAuthenticator()
				registered = registered || a.Activity == actions.ActivityRegistered && a.Result == "success"
				sas = sas || a.ByStrongAuthService() && len(a.Modified) > 0
			}
			if !started || !registered || !sas {
				t.Errorf("started %v registered %v strong-auth update %v in %+v", started, registered, sas, ev.Audits)
			}
		}},
		{"audit --days excludes older events", "casey.ca", actions.Query{Sources: actions.ForAudit, AuditDays: 7}, func(t *testing.T, ev actions.Evidence) {
			for _, a := range ev.Audits {
				if time.Since(a.Time) > 7*24*time.Hour {
					t.Errorf("event older than 7 days: %+v", a)
				}
			}
			if len(ev.Audits) == 0 {
				t.Error("the recent review event is missing")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := c.Gather(ctx, ref(t, tt.user+"@mfademo.example"), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(ev.Missing) > 0 {
				t.Fatalf("missing sources: %v", ev.Notes())
			}
			tt.check(t, ev)
		})
	}
	_ = fake
}

// TestRoundTrips: every source in one $batch, so one round trip when the user is named
// by object id and two when named by UPN (resolved first).
func TestRoundTrips(t *testing.T) {
	c, fake := fakeTenant(t, nil, graph.Config{})
	id := idOf(t, fake, "mfatest2")
	for _, tt := range []struct {
		ref  string
		want int
	}{{id, 1}, {"mfatest2@mfademo.example", 2}, {"MFATest2@mfademo.example", 1}} {
		before := fake.Requests()
		ev, err := c.Gather(context.Background(), ref(t, tt.ref), diagnoseQuery)
		if err != nil {
			t.Fatal(err)
		}
		if got := int(fake.Requests() - before); got != tt.want || ev.RoundTrips != tt.want {
			t.Errorf("%s: %d requests at the fake, %d counted, want %d", tt.ref, got, ev.RoundTrips, tt.want)
		}
		if len(ev.Missing) != 0 || len(ev.Methods) == 0 || ev.Registration == nil || ev.PerUserMFA == "" || ev.Preferences == nil || len(ev.SignIns) == 0 || len(ev.Audits) == 0 {
			t.Errorf("%s: incomplete evidence: %+v", tt.ref, ev)
		}
	}
}

// TestNameCacheFollowsReassignedUPN: a cached name is trusted only while the user
// fetched by id still carries it.
func TestNameCacheFollowsReassignedUPN(t *testing.T) {
	c, fake := fakeTenant(t, nil, graph.Config{})
	upn := "mfatest2@mfademo.example"
	ev, err := c.Gather(context.Background(), ref(t, upn), diagnoseQuery)
	if err != nil || ev.User.DisplayName != "MFA Test 2" {
		t.Fatalf("first: %v %+v", err, ev.User)
	}
	// MFA Test 2 is renamed and MFA Test 1 is given the old name.
	fake.Tenant(func(tn *graphtest.Tenant) {
		tn.FindUser(upn).User["userPrincipalName"] = "mfatest2.old@mfademo.example"
		tn.FindUser("mfatest1@mfademo.example").User["userPrincipalName"] = upn
	})
	ev, err = c.Gather(context.Background(), ref(t, upn), diagnoseQuery)
	if err != nil || ev.User.DisplayName != "MFA Test 1" {
		t.Fatalf("after the rename the name must resolve to its new owner: %v %+v", err, ev.User)
	}
	if ev.RoundTrips != 3 {
		t.Errorf("round trips = %d, want 3 (cached id, then resolve, then batch)", ev.RoundTrips)
	}
}

// TestDiagnoseSeedCases makes each finding diagnose knows from the seeded tenant.
func TestDiagnoseSeedCases(t *testing.T) {
	c, _ := fakeTenant(t, nil, graph.Config{})
	tests := []struct {
		user     string
		code     string
		severity actions.Severity
		verb     string   // the recommended request, if any
		evidence []string // substrings the finding's evidence must hold
		not      []string // findings that must not be made
	}{
		{user: "mfatest1", code: actions.FindingUsable, severity: actions.SeverityInfo,
			evidence: []string{"isMfaCapable = true", actions.ActivityRegistered, "Mobile app notification"},
			not:      []string{actions.FindingUnverified, actions.FindingNotRegistered, actions.FindingSignInFailures}},
		{user: "mfatest2", code: actions.FindingUnverified, severity: actions.SeverityProblem, verb: "reregister",
			evidence: []string{"isMfaCapable = false", actions.ActivityStarted, "StrongAuthenticationService", "no \"User registered security info\"", "50079"},
			not:      []string{actions.FindingUsable, actions.FindingPerUserDisabled}},
		{user: "casey.ca", code: actions.FindingPerUserDisabled, severity: actions.SeverityInfo,
			evidence: []string{"per-user MFA state: disabled", "isMfaCapable = true"},
			not:      []string{actions.FindingUnverified, actions.FindingNotRegistered}},
		{user: "olive.optin", code: actions.FindingMFAGroup, severity: actions.SeverityInfo,
			evidence: []string{"mfaoptin"}},
		{user: "paul.password", code: actions.FindingNotRegistered, severity: actions.SeverityProblem,
			evidence: []string{"methods: password", "isMfaRegistered = false"},
			not:      []string{actions.FindingUsable, actions.FindingPerUserDisabled}},
		{user: "fiona.failures", code: actions.FindingSignInFailures, severity: actions.SeverityProblem, verb: "revoke",
			evidence: []string{"error 500121 × 6", "error 50126 × 2", "Lagos, NG"}},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			ev, err := c.Gather(context.Background(), ref(t, tt.user+"@mfademo.example"), diagnoseQuery)
			if err != nil {
				t.Fatal(err)
			}
			d := actions.Diagnose(ev, time.Now())
			f, ok := d.Find(tt.code)
			if !ok {
				t.Fatalf("no %s finding in %+v", tt.code, d.Findings)
			}
			if f.Severity != tt.severity || f.Title == "" || f.Detail == "" {
				t.Errorf("finding = %+v", f)
			}
			all := strings.Join(f.Evidence, "\n")
			for _, want := range tt.evidence {
				if !strings.Contains(all, want) {
					t.Errorf("evidence lacks %q:\n%s", want, all)
				}
			}
			for _, code := range tt.not {
				if d.Has(code) {
					t.Errorf("unexpected finding %s", code)
				}
			}
			if d.Next.Verb != tt.verb || d.Next.Text == "" {
				t.Errorf("next = %+v, want verb %q", d.Next, tt.verb)
			}
		})
	}
}

// TestDiagnoseDetails checks what each finding tells the helpdesk to do.
func TestDiagnoseDetails(t *testing.T) {
	c, _ := fakeTenant(t, nil, graph.Config{})
	diag := func(user string) actions.Diagnosis {
		ev, err := c.Gather(context.Background(), ref(t, user+"@mfademo.example"), diagnoseQuery)
		if err != nil {
			t.Fatal(err)
		}
		return actions.Diagnose(ev, time.Now())
	}
	casey := diag("casey.ca")
	if f, _ := casey.Find(actions.FindingPerUserDisabled); !strings.Contains(f.Detail, "aka.ms/mysecurityinfo") || !strings.Contains(f.Detail, "Do not enable per-user MFA") {
		t.Errorf("per-user finding = %+v", f)
	}
	if !strings.Contains(casey.Next.Text, actions.SecurityInfoURL) {
		t.Errorf("casey next = %q", casey.Next.Text)
	}
	// MFATest2: the Authenticator is marked unusable in the methods too.
	for _, m := range diag("mfatest2").Methods {
		if m.Type == actions.MethodAuthenticator && (m.Usable == nil || *m.Usable) {
			t.Errorf("MFATest2's Authenticator = %+v, want not usable", m)
		}
	}
	olive := diag("olive.optin")
	if f, _ := olive.Find(actions.FindingMFAGroup); !strings.Contains(f.Title, "MFA is required") {
		t.Errorf("mfa group finding = %+v", f)
	}
	paul := diag("paul.password")
	if !strings.Contains(paul.Next.Text, actions.SecurityInfoURL) {
		t.Errorf("paul next = %q", paul.Next.Text)
	}
	fiona := diag("fiona.failures")
	if f, _ := fiona.Find(actions.FindingSignInFailures); !strings.Contains(f.Detail, "500121") || !strings.Contains(f.Detail, "declined") {
		t.Errorf("failures finding = %+v", f)
	}
	if fiona.Findings[0].Code != actions.FindingSignInFailures {
		t.Errorf("problems first: %+v", fiona.Findings[0])
	}
}
