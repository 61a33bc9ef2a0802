package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/bot/teams"
)

const baseConfig = `
graph:
  base_url: https://graph.microsoft.com/v1.0
  credential: client_secret
  tenant_id: 11111111-1111-4111-8111-111111111111
  client_id: 22222222-2222-4222-8222-222222222222
groups:
  helpdesk: 33333333-3333-4333-8333-333333333333
  approvers: 44444444-4444-4444-8444-444444444444
slack:
  enabled: true
  team_id: T0TEAM
  approvals_channel: C0APPROVE
  audit_channel: C0AUDIT
`

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var goodEnv = map[string]string{
	"MFADESK_GRAPH_CLIENT_SECRET": "s3cret",
	"MFADESK_SLACK_BOT_TOKEN":     "xoxb-1",
	"MFADESK_SLACK_APP_TOKEN":     "xapp-1",
}

func TestConfigValid(t *testing.T) {
	c, err := ParseConfig([]byte(baseConfig), env(goodEnv))
	if err != nil {
		t.Fatal(err)
	}
	if c.Graph.ClientSecret != "s3cret" || c.Slack.Mode != "socket" || c.Approvals.Expiry.Minutes() != 30 || c.Listen != "127.0.0.1:8080" {
		t.Fatalf("defaults/env not applied: %+v", c)
	}
	if got := strings.Join(c.Graph.MFAGroups, ","); got != "mfaoptin" {
		t.Errorf("mfa groups default = %q", got)
	}
}

func TestConfigSecretFromFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(f, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := map[string]string{"MFADESK_GRAPH_CLIENT_SECRET_FILE": f, "MFADESK_SLACK_BOT_TOKEN": "xoxb-1", "MFADESK_SLACK_APP_TOKEN": "xapp-1"}
	c, err := ParseConfig([]byte(baseConfig), env(e))
	if err != nil {
		t.Fatal(err)
	}
	if c.Graph.ClientSecret != "from-file" {
		t.Fatalf("secret = %q", c.Graph.ClientSecret)
	}
	e["MFADESK_GRAPH_CLIENT_SECRET_FILE"] = filepath.Join(t.TempDir(), "missing")
	if _, err := ParseConfig([]byte(baseConfig), env(e)); err == nil || !strings.Contains(err.Error(), "MFADESK_GRAPH_CLIENT_SECRET_FILE") {
		t.Fatalf("missing secret file: %v", err)
	}
}

// teamsBase is a valid teams section, to which a case appends the key it tests.
const teamsBase = "teams:\n  enabled: true\n  app_id: 55555555-5555-4555-8555-555555555555\n  tenant_id: 11111111-1111-4111-8111-111111111111\n  credential: managed_identity\n  approvals_channel: a\n  audit_channel: b\n"

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(string) string
		env     map[string]string
		wantKey string
	}{
		{"unknown key", func(s string) string { return s + "typo_key: 1\n" }, goodEnv, "config: typo_key: is not a known setting"},
		{"no approvers group", func(s string) string {
			return strings.Replace(s, "  approvers: 44444444-4444-4444-8444-444444444444\n", "", 1)
		}, goodEnv, "groups.approvers"},
		{"approvers not a guid", func(s string) string {
			return strings.Replace(s, "approvers: 44444444-4444-4444-8444-444444444444", "approvers: Approvers", 1)
		}, goodEnv, "groups.approvers"},
		{"no helpdesk group", func(s string) string {
			return strings.Replace(s, "helpdesk: 33333333-3333-4333-8333-333333333333", "helpdesk: \"\"", 1)
		}, goodEnv, "groups.helpdesk"},
		{"same groups", func(s string) string {
			return strings.Replace(s, "44444444-4444-4444-8444-444444444444", "33333333-3333-4333-8333-333333333333", 1)
		}, goodEnv, "groups.approvers"},
		{"no client secret", func(s string) string { return s }, map[string]string{"MFADESK_SLACK_BOT_TOKEN": "xoxb-1", "MFADESK_SLACK_APP_TOKEN": "xapp-1"}, "graph.client_secret"},
		{"bad tenant", func(s string) string {
			return strings.Replace(s, "tenant_id: 11111111-1111-4111-8111-111111111111", "tenant_id: contoso", 1)
		}, goodEnv, "graph.tenant_id"},
		{"credential none remote", func(s string) string { return strings.Replace(s, "credential: client_secret", "credential: none", 1) }, goodEnv, "graph.credential"},
		{"credential unknown", func(s string) string {
			return strings.Replace(s, "credential: client_secret", "credential: password", 1)
		}, goodEnv, "graph.credential"},
		{"http graph remote", func(s string) string {
			return strings.Replace(s, "https://graph.microsoft.com/v1.0", "http://graph.example.com/v1.0", 1)
		}, goodEnv, "graph.base_url"},
		{"graph without v1.0", func(s string) string {
			return strings.Replace(s, "https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/beta", 1)
		}, goodEnv, "graph.base_url"},
		{"slack socket without app token", func(s string) string { return s }, map[string]string{"MFADESK_GRAPH_CLIENT_SECRET": "x", "MFADESK_SLACK_BOT_TOKEN": "xoxb-1"}, "slack.app_token"},
		{"slack http without signing secret", func(s string) string { return strings.Replace(s, "enabled: true", "enabled: true\n  mode: http", 1) }, goodEnv, "slack.signing_secret"},
		{"slack user token", func(s string) string { return s }, map[string]string{"MFADESK_GRAPH_CLIENT_SECRET": "x", "MFADESK_SLACK_BOT_TOKEN": "xoxp-1", "MFADESK_SLACK_APP_TOKEN": "xapp-1"}, "slack.bot_token"},
		{"slack no team", func(s string) string { return strings.Replace(s, "  team_id: T0TEAM\n", "", 1) }, goodEnv, "slack.team_id"},
		{"slack no audit channel", func(s string) string { return strings.Replace(s, "  audit_channel: C0AUDIT\n", "", 1) }, goodEnv, "slack.audit_channel"},
		{"nothing enabled", func(s string) string { return strings.Replace(s, "enabled: true", "enabled: false", 1) }, goodEnv, "neither slack nor teams"},
		{"teams entra tenant without callers", func(s string) string {
			return s + "teams:\n  enabled: true\n  app_id: 55555555-5555-4555-8555-555555555555\n  tenant_id: 11111111-1111-4111-8111-111111111111\n  credential: managed_identity\n  approvals_channel: a\n  audit_channel: b\n  entra_tenants: [11111111-1111-4111-8111-111111111111]\n"
		}, goodEnv, "teams.entra_callers"},
		{"teams without app id", func(s string) string { return s + "teams:\n  enabled: true\n" }, goodEnv, "teams.app_id"},
		{"teams entra metadata over http", func(s string) string {
			return s + teamsBase + "  entra_metadata_url: http://login.microsoftonline.us/common/v2.0/.well-known/openid-configuration\n"
		}, goodEnv, "teams.entra_metadata_url"},
		{"teams openid metadata not a URL", func(s string) string { return s + teamsBase + "  openid_metadata_url: login.botframework.com\n" }, goodEnv, "teams.openid_metadata_url"},
		{"teams authority with a tenant path", func(s string) string {
			return s + teamsBase + "  authority_host: https://login.microsoftonline.us/contoso.onmicrosoft.us\n"
		}, goodEnv, "teams.authority_host"},
		{"teams authority over http", func(s string) string { return s + teamsBase + "  authority_host: http://login.microsoftonline.us/\n" }, goodEnv, "teams.authority_host"},
		{"teams service host with a scheme", func(s string) string {
			return s + teamsBase + "  service_hosts: [https://smba.trafficmanager.net/teams/]\n"
		}, goodEnv, "teams.service_hosts"},
		{"write retry budget", func(s string) string {
			return strings.Replace(s, "  credential: client_secret\n", "  credential: client_secret\n  write_retry_budget: 1h\n", 1)
		}, goodEnv, "graph.write_retry_budget"},
		{"expiry too long", func(s string) string { return s + "approvals:\n  expiry: 48h\n" }, goodEnv, "approvals.expiry"},
		{"protected mode", func(s string) string { return s + "approvals:\n  protected: allow\n" }, goodEnv, "approvals.protected"},
		{"listen", func(s string) string { return s + "listen: 8080\n" }, goodEnv, "listen"},
		{"not yaml", func(string) string { return "graph: [" }, goodEnv, "config:"},
		{"duration not a duration", func(s string) string { return s + "approvals:\n  expiry: soon\n" }, goodEnv, `config: approvals.expiry: "soon" is not a duration such as 30m or 1h`},
		{"number not a number", func(s string) string { return s + "approvals:\n  rate_limit: many\n" }, goodEnv, `config: approvals.rate_limit: "many" is not a whole number`},
		{"list entry", func(s string) string { return s + "approvals:\n  protected_groups: [[a]]\n" }, goodEnv, "config: approvals.protected_groups: a list is not text (line 16)"},
		{"list entry on its own line", func(s string) string { return s + "approvals:\n  protected_groups:\n    - [a]\n" }, goodEnv, "config: approvals.protected_groups[0]: a list is not text (line 17)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.edit(baseConfig)), env(tt.env))
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantKey) {
				t.Fatalf("err = %q, want it to name %q", msg, tt.wantKey)
			}
			// Every problem is reported, one line each, each naming its key.
			for _, l := range strings.Split(msg, "\n") {
				if !strings.HasPrefix(l, "config: ") || strings.HasPrefix(l, "config: config:") {
					t.Errorf("line %q does not read config: <key>: …", l)
				}
			}
			for _, v := range tt.env {
				if strings.Contains(msg, v) && len(v) > 3 {
					t.Fatalf("error leaks a secret: %q", msg)
				}
			}
		})
	}
}

func TestConfigNoneOnLoopback(t *testing.T) {
	s := strings.Replace(baseConfig, "https://graph.microsoft.com/v1.0", "http://127.0.0.1:9/v1.0", 1)
	s = strings.Replace(s, "credential: client_secret", "credential: none", 1)
	if _, err := ParseConfig([]byte(s), env(goodEnv)); err != nil {
		t.Fatal(err)
	}
}

func TestCloudFor(t *testing.T) {
	tests := map[string]string{
		"https://graph.microsoft.com/v1.0":             "https://login.microsoftonline.com/",
		"https://graph.microsoft.us/v1.0":              "https://login.microsoftonline.us/",
		"https://dod-graph.microsoft.us/v1.0":          "https://login.microsoftonline.us/",
		"https://microsoftgraph.chinacloudapi.cn/v1.0": "https://login.chinacloudapi.cn/",
	}
	for base, want := range tests {
		if got := cloudFor(base, "").ActiveDirectoryAuthorityHost; got != want {
			t.Errorf("cloudFor(%s) = %s, want %s", base, got, want)
		}
	}
}

// The Teams keys for national clouds: defaults are the public cloud's; set values are
// kept and reach the credential's authority.
func TestTeamsCloudKeys(t *testing.T) {
	cfg, err := ParseConfig([]byte(baseConfig+teamsBase), env(goodEnv))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Teams.EntraMetadataURL != teams.DefaultEntraMetadataURL || cfg.Teams.OpenIDMetadataURL != teams.DefaultOpenIDMetadataURL || cfg.Teams.AuthorityHost != "" {
		t.Errorf("defaults: %+v", cfg.Teams)
	}
	gov := teamsBase + "  entra_metadata_url: https://login.microsoftonline.us/common/v2.0/.well-known/openid-configuration\n  authority_host: https://login.microsoftonline.us/\n"
	cfg, err = ParseConfig([]byte(baseConfig+gov), env(goodEnv))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Teams.EntraMetadataURL != "https://login.microsoftonline.us/common/v2.0/.well-known/openid-configuration" || cfg.Teams.AuthorityHost != "https://login.microsoftonline.us/" {
		t.Errorf("national cloud: %+v", cfg.Teams)
	}
	if _, err := teamsCredential(cfg.Teams); err != nil {
		t.Errorf("credential: %v", err)
	}
}

// TestConfigManagerAndSecurity: approvals.notify_manager defaults to false; it and the
// optional security channels are read as written.
func TestConfigManagerAndSecurity(t *testing.T) {
	c, err := ParseConfig([]byte(baseConfig), env(goodEnv))
	if err != nil {
		t.Fatal(err)
	}
	if c.Approvals.NotifyManager || c.Slack.SecurityChannel != "" {
		t.Fatalf("defaults: notify_manager %v, security channel %q", c.Approvals.NotifyManager, c.Slack.SecurityChannel)
	}
	cfg := baseConfig + "  security_channel: C0SECURITY\napprovals:\n  notify_manager: true\n" + strings.Replace(teamsBase, "  audit_channel: b\n", "  audit_channel: b\n  security_channel: \"19:sec@thread.tacv2\"\n", 1)
	c, err = ParseConfig([]byte(cfg), env(goodEnv))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Approvals.NotifyManager || c.Slack.SecurityChannel != "C0SECURITY" || c.Teams.SecurityChannel != "19:sec@thread.tacv2" {
		t.Fatalf("read: notify_manager %v, slack %q, teams %q", c.Approvals.NotifyManager, c.Slack.SecurityChannel, c.Teams.SecurityChannel)
	}
}
