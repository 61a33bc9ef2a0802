package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// Each platform is taught its own way to call the bot: /mfa in Slack, @mfadesk in
// Teams, plain verbs in the demo; never another platform's.
func TestPlatformSyntax(t *testing.T) {
	r, _, hana := lookupRouter(t, nil)
	tests := []struct {
		platform Platform
		prefix   string
		foreign  []string
	}{
		{PlatformSlack, "/mfa ", []string{"@mfadesk"}},
		{PlatformTeams, "@mfadesk ", []string{"/mfa"}},
		{PlatformWeb, "", []string{"/mfa", "@mfadesk"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.platform), func(t *testing.T) {
			c := hana
			c.Platform = tt.platform
			ask := func(text string) string { return flat(r.Handle(context.Background(), Event{Caller: c, Text: text})) }
			answers := map[string][]string{
				"help":                              {tt.prefix + "signins <user> [--last N] [--failed]"},
				"help diagnose":                     {"Example: " + tt.prefix + "diagnose mfatest2@mfademo.example"},
				"user":                              {"Usage: " + tt.prefix + "user <user>"},
				"frobnicate":                        {"Try " + tt.prefix + "help."},
				"diagnose mfatest2@mfademo.example": {"Request: " + tt.prefix + "reregister mfatest2@mfademo.example"},
			}
			for text, wants := range answers {
				got := ask(tt.prefix + text)
				for _, w := range wants {
					if !strings.Contains(got, w) {
						t.Errorf("%q: answer lacks %q:\n%s", text, w, got)
					}
				}
				for _, f := range tt.foreign {
					if strings.Contains(got, f) {
						t.Errorf("%q: answer teaches another platform's %q:\n%s", text, f, got)
					}
				}
				if strings.Contains(got, "contoso.com") {
					t.Errorf("%q: example outside the tenant's domain:\n%s", text, got)
				}
			}
		})
	}
	if got := flat(HelpFor(PlatformSlack, "diagnose", "")); !strings.Contains(got, "diagnose mfatest2@your-domain.example") {
		t.Errorf("help without a known domain shows no placeholder:\n%s", got)
	}
}

// Typos get a suggestion: a verb one or two edits away, and a bare name that starts
// exactly one user's UPN (only for callers with rights: it reveals a name).
func TestTypoSuggestions(t *testing.T) {
	r, fake, hana := lookupRouter(t, nil)
	tenant := graphtest.MustTenant("demo")
	nora := Caller{Platform: PlatformSlack, ChatID: "nora", ObjectID: tenant.FindUser(tenant.Email("nora.norights")).ID()}
	slack := hana
	slack.Platform = PlatformSlack
	tests := []struct {
		name   string
		caller Caller
		text   string
		want   string
		not    string
	}{
		{"verb typo keeps the arguments", slack, "dignose mfatest2@mfademo.example", "Did you mean /mfa diagnose mfatest2@mfademo.example?", ""},
		{"swapped letters", hana, "sigins mfatest2@mfademo.example --failed", "Did you mean signins mfatest2@mfademo.example --failed?", ""},
		{"nothing close", slack, "frobnicate", "Try /mfa help.", "Did you mean"},
		{"help topic typo", slack, "help dignose", "Did you mean /mfa help diagnose?", ""},
		{"one user starts with the name", slack, "user mfatest1", "Did you mean /mfa user mfatest1@mfademo.example?", ""},
		{"two users start with the name", slack, "methods mfatest", "Usage: /mfa methods <user>", "Did you mean"},
		{"no user starts with the name", slack, "user zed", "Usage: /mfa user <user>", "Did you mean"},
		{"a quote in the name is escaped", slack, "user o'neil", "Usage: /mfa user <user>", "Did you mean"},
		{"no suggestion without rights", nora, "user mfatest1", "Usage: /mfa user <user>", "mfatest1@"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := r.Handle(context.Background(), Event{Caller: tt.caller, Text: tt.text})
			if !m.Refusal || !strings.Contains(m.Text, tt.want) || tt.not != "" && strings.Contains(m.Text, tt.not) {
				t.Fatalf("Handle(%q) = %q, want a refusal with %q and without %q", tt.text, m.Text, tt.want, tt.not)
			}
		})
	}
	// The suggestions came from Graph user searches.
	for _, rec := range fake.Records() {
		if rec.Path == "/v1.0/users" && rec.Method == "GET" {
			return
		}
	}
	t.Error("no user search reached Graph")
}
