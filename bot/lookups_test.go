package bot

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// lookupRouter wires the router to the real Graph SDK talking HTTP to the seeded fake
// tenant, and returns Hana (helpdesk) as the caller.
func lookupRouter(t *testing.T, edit func(*graphtest.Tenant)) (*Router, *graphtest.Server, Caller) {
	t.Helper()
	tenant := graphtest.MustTenant("demo")
	if edit != nil {
		edit(tenant)
	}
	group := tenant.GroupID
	hana := tenant.FindUser(tenant.Email("hana.helpdesk"))
	fake := graphtest.NewServer(tenant)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	quiet := slog.New(slog.DiscardHandler)
	c, err := graph.New(graph.Config{BaseURL: srv.URL + "/v1.0", MFAGroups: []string{"mfaoptin"}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRouter(RouterOptions{Directory: c, Gatherer: c, Groups: Groups{Helpdesk: group("mfadesk-helpdesk"), Approvers: group("mfadesk-approvers")}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return r, fake, Caller{Platform: "web", ChatID: "hana", ObjectID: hana.ID()}
}

// flat is everything a message says, for substring checks.
func flat(m Message) string {
	var b strings.Builder
	b.WriteString(m.Title + "\n" + m.Text + "\n")
	for _, s := range m.Sections {
		b.WriteString(s.Heading + "\n" + s.Text + "\n" + s.Note + "\n")
		for _, f := range s.Facts {
			b.WriteString(f.Label + ": " + f.Value + "\n")
		}
		if s.Table != nil {
			b.WriteString(strings.Join(s.Table.Columns, " | ") + "\n")
			for _, r := range s.Table.Rows {
				b.WriteString(strings.Join(r, " | ") + "\n")
			}
		}
		for _, f := range s.Findings {
			b.WriteString(string(f.Severity) + ": " + f.Title + "\n" + f.Detail + "\n" + f.Evidence + "\n")
		}
	}
	return b.String()
}

func TestLookupVerbs(t *testing.T) {
	r, _, hana := lookupRouter(t, nil)
	tests := []struct {
		text string
		want []string
		not  []string
	}{
		{"user olive.optin@mfademo.example", []string{"Olive Optin", "mfaoptin (MFA required)", "Last sign-in: 20"}, nil},
		{"methods casey.ca@mfademo.example", []string{"+1 4255550199", "Pixel 8", "Microsoft Authenticator", "yes (in the registration report)"}, nil},
		{"methods mfatest2@mfademo.example", []string{"1 NOT usable", "NO (registration started", "iPhone 14 Pro Max"}, nil},
		{"status mfatest2@mfademo.example", []string{"MFA capable: no", "Per-user MFA: disabled", "Report updated"}, nil},
		{"status olive.optin@mfademo.example", []string{"Default MFA method: oath", "Methods registered: mobilePhone, alternateMobilePhone, softwareOneTimePasscode"}, nil},
		{"signins fiona.failures@mfademo.example --last 3 --failed", []string{"3 failed sign-ins", "failed 500121", "Lagos, NG", "MFA required: Mobile app notification (MFA denied"}, []string{"success"}},
		{"signins mfatest1@mfademo.example", []string{"success", "MFA required: Mobile app notification", "203.0.113.24 (Seattle, US)"}, nil},
		{"audit mfatest1@mfademo.example --days 7", []string{"User started security info registration", "User registered security info", "Azure MFA StrongAuthenticationService", "StrongAuthenticationPhoneAppDetail"}, nil},
		{"diagnose mfatest2@mfademo.example", []string{"problem: Microsoft Authenticator added but never verified", "Next step", "Request: reregister mfatest2@mfademo.example"}, []string{"+1 "}},
		{"diagnose casey.ca@mfademo.example", []string{"Per-user MFA shows \"disabled\"", "aka.ms/mysecurityinfo"}, []string{"4255550199"}},
		{"diagnose paul.password@mfademo.example", []string{"problem: Not registered for MFA"}, nil},
		{"diagnose fiona.failures@mfademo.example", []string{"problem: 8 failed sign-ins", "500121 × 6", "Request: revoke fiona.failures@mfademo.example"}, nil},
		{"diagnose olive.optin@mfademo.example", []string{"MFA is required for this user", "mfaoptin"}, []string{"7700900123"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			m := r.Handle(context.Background(), Event{Caller: hana, Text: tt.text})
			if m.Refusal || !m.Private {
				t.Fatalf("refusal %v private %v: %s", m.Refusal, m.Private, m.Text)
			}
			all := flat(m)
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("answer lacks %q:\n%s", w, all)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(all, w) {
					t.Errorf("answer shows %q:\n%s", w, all)
				}
			}
		})
	}
}

func TestLookupRefusals(t *testing.T) {
	r, fake, hana := lookupRouter(t, func(tn *graphtest.Tenant) { tn.NoPremiumLicense = true })
	tests := []struct {
		text       string
		want       string
		noRequests bool
	}{
		{"diagnose a@b.co'or'1'eq'1", "is not a UPN", true},
		{"signins bob@@contoso", "is not a UPN", true},
		{"methods", "Name a user", true},
		{"audit nobody@mfademo.example", "No user nobody@mfademo.example in the directory.", false},
		{"signins fiona.failures@mfademo.example", "no Entra ID P1 or P2 licence", false},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			before := fake.Requests()
			m := r.Handle(context.Background(), Event{Caller: hana, Text: tt.text})
			if !m.Refusal || !m.Private || !strings.Contains(m.Text, tt.want) || strings.Contains(m.Text, "\n") {
				t.Fatalf("got %+v, want a one-line refusal with %q", m, tt.want)
			}
			if tt.noRequests && fake.Requests() != before {
				t.Errorf("%d requests reached Graph for bad input", fake.Requests()-before)
			}
		})
	}
	// Without the licence, diagnose still answers, and says what it could not read.
	m := r.Handle(context.Background(), Event{Caller: hana, Text: "diagnose mfatest2@mfademo.example"})
	if m.Refusal || !strings.Contains(flat(m), "Sign-ins unavailable") || !strings.Contains(flat(m), "never verified") {
		t.Errorf("degraded diagnose:\n%s", flat(m))
	}
}

func TestLookupWithoutGatherer(t *testing.T) {
	d := &stubDirectory{member: map[string][]string{agentID: {helpdeskGroup}}}
	r := newTestRouter(t, d)
	m := r.Handle(context.Background(), Event{Caller: Caller{ObjectID: agentID}, Text: "diagnose a@b.co"})
	if !m.Refusal || !strings.Contains(m.Text, "not available") {
		t.Fatalf("got %+v", m)
	}
}

// signins and diagnose explain known error codes in plain words with a next step, and
// show Graph's raw reason for a code the table does not know.
func TestLookupSignInErrorsExplained(t *testing.T) {
	r, _, hana := lookupRouter(t, func(tn *graphtest.Tenant) {
		u := tn.FindUser(tn.Email("fiona.failures"))
		s := map[string]any{}
		for k, v := range u.SignIns[0] {
			s[k] = v
		}
		s["status"] = map[string]any{"errorCode": 999999, "failureReason": "A reason mfadesk has no words for.", "additionalDetails": nil}
		u.SignIns = append([]map[string]any{s}, u.SignIns...)
	})
	mfa, _ := actions.SignInErrorOf(500121)
	pw, _ := actions.SignInErrorOf(50126)
	tests := []struct {
		text string
		want []string
		not  []string
	}{
		{"signins fiona.failures@mfademo.example --failed --last 50", []string{
			"failed 500121: " + mfa.Meaning, "failed 50126: " + pw.Meaning, "What the errors mean", mfa.Next, pw.Next,
			"failed 999999: A reason mfadesk has no words for"},
			[]string{"Authentication failed during strong authentication request", "Error 999999"}},
		{"diagnose fiona.failures@mfademo.example", []string{"500121 × 6 (" + mfa.Meaning, "For 500121: " + mfa.Next}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			all := flat(r.Handle(context.Background(), Event{Caller: hana, Text: tt.text}))
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("answer lacks %q:\n%s", w, all)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(all, w) {
					t.Errorf("answer shows %q:\n%s", w, all)
				}
			}
		})
	}
}
