package slack

import (
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// TestDirectoryCallerRule: the adapter only maps a Slack user to a directory user;
// the core's caller rule refuses a disabled account and a guest account, with the
// cause, through Slack as through every platform.
func TestDirectoryCallerRule(t *testing.T) {
	tests := []struct {
		name, slackUser, local string
		edit                   func(u *graphtest.TenantUser)
		want                   string
	}{
		{"disabled", userAlex, "alex.approver", func(u *graphtest.TenantUser) { u.User["accountEnabled"] = false }, "Your directory account is disabled"},
		{"guest", userHana, "hana.helpdesk", func(u *graphtest.TenantUser) { u.User["userType"] = "Guest" }, "Your directory account is a guest account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFlowEnv(t)
			e.graph.Tenant(func(tn *graphtest.Tenant) { tt.edit(tn.FindUser(tn.Email(tt.local))) })
			_, ru := e.slash(tt.slackUser, "user mfatest2@mfademo.example")
			if got := e.fake.waitResponses(ru, 1)[0]["text"].(string); !strings.Contains(got, tt.want) {
				t.Errorf("answer %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDirectoryFailureNamed: when the directory cannot be asked who a Slack user is
// (403, throttling beyond the retry budget), the answer says so — not that the
// email address matches no directory user.
func TestDirectoryFailureNamed(t *testing.T) {
	tests := []struct {
		name   string
		faults graphtest.Faults
		want   string
	}{
		{"403", graphtest.Faults{Forbidden: []string{"/users"}}, "Microsoft Graph refused (403)"},
		{"429 beyond the retry budget", graphtest.Faults{ThrottleFirst: 1000, RetryAfter: time.Hour}, "throttling"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFlowEnv(t)
			e.graph.SetFaults(tt.faults)
			_, ru := e.slash("U0SAM", "user mfatest2@mfademo.example")
			got := e.fake.waitResponses(ru, 1)[0]["text"].(string)
			if !strings.Contains(got, "could not be checked") || !strings.Contains(got, tt.want) || strings.Contains(got, "does not match") || strings.Contains(got, "\n") {
				t.Errorf("answer %q, want one line naming %q", got, tt.want)
			}
		})
	}
}

// TestIdentityRefusalAudited: a Slack user refused for who they are (here an email
// that matches no directory user) is in the audit log, like every other refusal; a
// directory that failed is not (nobody was refused for who they are).
func TestIdentityRefusalAudited(t *testing.T) {
	e := newFlowEnv(t)
	e.fake.addUser("U0EVE", "eve@elsewhere.example", nil)
	_, ru := e.slash("U0EVE", "user mfatest2@mfademo.example")
	if got := e.fake.waitResponses(ru, 1)[0]["text"].(string); !strings.Contains(got, "does not match") {
		t.Fatalf("answer %q", got)
	}
	e.fake.waitFor("the refusal in the audit channel", func() bool {
		for _, m := range e.fake.messages {
			if m.Channel == testAudit && strings.Contains(m.Text, "access_refused") && strings.Contains(m.Text, "U0EVE") && strings.Contains(m.Text, "does not match") {
				return true
			}
		}
		return false
	})
}
