package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mfadesk/mfadesk/bot/teams"
	"go.yaml.in/yaml/v3"
)

// Config is the YAML configuration file. Secrets may also come from environment
// variables (MFADESK_<KEY>) or from files those variables name (MFADESK_<KEY>_FILE),
// so they need not sit in the file.
type Config struct {
	Listen   string `yaml:"listen"`   // health, readiness, metrics, Slack HTTP and Teams endpoints
	Database string `yaml:"database"` // bbolt file, or etcd://host:2379[,host:2379...] (see Etcd)
	LogLevel string `yaml:"log_level"`

	Graph     GraphConfig     `yaml:"graph"`
	Groups    GroupsConfig    `yaml:"groups"`
	Approvals ApprovalsConfig `yaml:"approvals"`
	Slack     SlackConfig     `yaml:"slack"`
	Teams     TeamsConfig     `yaml:"teams"`
	Etcd      EtcdConfig      `yaml:"etcd"`
}

// GraphConfig says where Microsoft Graph is and how the bot authenticates.
type GraphConfig struct {
	BaseURL string `yaml:"base_url"`
	// Credential: client_secret, certificate, managed_identity, workload_identity, or none
	// (only with a loopback base_url, for local fakes).
	Credential      string   `yaml:"credential"`
	TenantID        string   `yaml:"tenant_id"`
	ClientID        string   `yaml:"client_id"`
	ClientSecret    string   `yaml:"client_secret"`    // secret: MFADESK_GRAPH_CLIENT_SECRET(_FILE)
	CertificateFile string   `yaml:"certificate_file"` // PEM or PKCS#12 with the private key
	CertificatePass string   `yaml:"certificate_password"`
	AuthorityHost   string   `yaml:"authority_host"` // default: derived from base_url's cloud
	MFAGroups       []string `yaml:"mfa_groups"`     // group names that make MFA required
}

// GroupsConfig names the groups that grant rights, by object id.
type GroupsConfig struct {
	Helpdesk  string `yaml:"helpdesk"`
	Approvers string `yaml:"approvers"`
}

// ApprovalsConfig is the two-person policy.
type ApprovalsConfig struct {
	Expiry          time.Duration `yaml:"expiry"`           // default 30m
	Protected       string        `yaml:"protected"`        // refuse (default) or two_approvers
	ProtectedGroups []string      `yaml:"protected_groups"` // object ids
	AllowPhoneKBA   bool          `yaml:"allow_phone_kba"`  // for unprotected targets
	RateLimit       int           `yaml:"rate_limit"`       // requests per requester per rate_window (default 5)
	RateWindow      time.Duration `yaml:"rate_window"`      // default 1h
}

// SlackConfig configures the Slack adapter.
type SlackConfig struct {
	Enabled          bool   `yaml:"enabled"`
	Mode             string `yaml:"mode"`           // socket (default) or http
	APIURL           string `yaml:"api_url"`        // default https://slack.com/api/ (GovSlack: https://slack-gov.com/api/)
	TeamID           string `yaml:"team_id"`        // the workspace served; people of other workspaces are refused
	EnterpriseID     string `yaml:"enterprise_id"`  // instead of team_id, for an org-wide Enterprise Grid install
	BotToken         string `yaml:"bot_token"`      // secret: MFADESK_SLACK_BOT_TOKEN(_FILE)
	AppToken         string `yaml:"app_token"`      // secret: MFADESK_SLACK_APP_TOKEN(_FILE), Socket Mode
	SigningSecret    string `yaml:"signing_secret"` // secret: MFADESK_SLACK_SIGNING_SECRET(_FILE), HTTP mode
	ApprovalsChannel string `yaml:"approvals_channel"`
	AuditChannel     string `yaml:"audit_channel"`
}

// TeamsConfig configures the Teams adapter.
type TeamsConfig struct {
	Enabled           bool   `yaml:"enabled"`
	AppID             string `yaml:"app_id"`
	TenantID          string `yaml:"tenant_id"`
	Credential        string `yaml:"credential"`   // client_secret, certificate, managed_identity
	AppPassword       string `yaml:"app_password"` // secret: MFADESK_TEAMS_APP_PASSWORD(_FILE)
	CertificateFile   string `yaml:"certificate_file"`
	CertificatePass   string `yaml:"certificate_password"` // secret: MFADESK_TEAMS_CERTIFICATE_PASSWORD(_FILE)
	OpenIDMetadataURL string `yaml:"openid_metadata_url"`  // default: Bot Framework's
	ServiceURL        string `yaml:"service_url"`          // e.g. https://smba.trafficmanager.net/teams/
	// EntraTenants whose Entra-issued tokens are accepted; default the Bot Service's own.
	// Any other tenant (ours included) needs EntraCallers: every app registered there
	// could otherwise mint a token that speaks for any user.
	EntraTenants     []string `yaml:"entra_tenants"`
	EntraCallers     []string `yaml:"entra_callers"`     // app ids accepted from those tenants
	ApprovalsChannel string   `yaml:"approvals_channel"` // channel conversation id
	AuditChannel     string   `yaml:"audit_channel"`
}

// ConfigError names the key that is wrong.
type ConfigError struct{ Key, Msg string }

func (e *ConfigError) Error() string { return fmt.Sprintf("config: %s: %s", e.Key, e.Msg) }

// LoadConfig reads, fills from the environment, defaults and validates a config file.
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(b, getenv)
}

// ParseConfig is LoadConfig on bytes. Unknown keys are errors: a typo in a security
// setting must not silently fall back to a default.
func ParseConfig(b []byte, getenv func(string) string) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %s", oneLine(err.Error()))
	}
	if err := c.fromEnv(getenv); err != nil {
		return nil, err
	}
	c.defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// secret fills *dst from MFADESK_<NAME> or the file named by MFADESK_<NAME>_FILE.
func secret(getenv func(string) string, name string, dst *string) error {
	if v := getenv("MFADESK_" + name); v != "" {
		*dst = v
	}
	if f := getenv("MFADESK_" + name + "_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return &ConfigError{Key: "MFADESK_" + name + "_FILE", Msg: fmt.Sprintf("cannot read %s: %v", f, errors.Unwrap(err))}
		}
		*dst = strings.TrimSpace(string(b))
	}
	return nil
}

func (c *Config) fromEnv(getenv func(string) string) error {
	for _, s := range []struct {
		name string
		dst  *string
	}{
		{"GRAPH_CLIENT_SECRET", &c.Graph.ClientSecret},
		{"GRAPH_CERTIFICATE_PASSWORD", &c.Graph.CertificatePass},
		{"SLACK_BOT_TOKEN", &c.Slack.BotToken},
		{"SLACK_APP_TOKEN", &c.Slack.AppToken},
		{"SLACK_SIGNING_SECRET", &c.Slack.SigningSecret},
		{"TEAMS_APP_PASSWORD", &c.Teams.AppPassword},
		{"TEAMS_CERTIFICATE_PASSWORD", &c.Teams.CertificatePass},
		{"ETCD_USERNAME", &c.Etcd.Username},
		{"ETCD_PASSWORD", &c.Etcd.Password},
	} {
		if err := secret(getenv, s.name, s.dst); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) defaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.Listen, "127.0.0.1:8080")
	def(&c.Database, "mfadesk.db")
	def(&c.LogLevel, "info")
	def(&c.Graph.BaseURL, "https://graph.microsoft.com/v1.0")
	def(&c.Graph.Credential, "client_secret")
	def(&c.Approvals.Protected, "refuse")
	def(&c.Slack.Mode, "socket")
	def(&c.Slack.APIURL, "https://slack.com/api/")
	def(&c.Teams.Credential, "client_secret")
	def(&c.Teams.OpenIDMetadataURL, "https://login.botframework.com/v1/.well-known/openidconfiguration")
	if c.Approvals.Expiry == 0 {
		c.Approvals.Expiry = 30 * time.Minute
	}
	if c.Approvals.RateLimit == 0 {
		c.Approvals.RateLimit = 5
	}
	if c.Approvals.RateWindow == 0 {
		c.Approvals.RateWindow = time.Hour
	}
	if c.Graph.MFAGroups == nil {
		c.Graph.MFAGroups = []string{"mfaoptin"}
	}
}

var guidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Validate checks the configuration and fails closed: the first problem is returned as
// one line naming its key.
func (c *Config) Validate() error {
	bad := func(key, msg string, args ...any) error {
		return &ConfigError{Key: key, Msg: fmt.Sprintf(msg, args...)}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return bad("listen", "%q is not host:port", c.Listen)
	}
	if etcdHosts(c.Database) != nil {
		if err := c.Etcd.validate(c.Database, bad); err != nil {
			return err
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("log_level", "must be debug, info, warn or error, not %q", c.LogLevel)
	}
	// Graph
	u, err := url.Parse(c.Graph.BaseURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return bad("graph.base_url", "%q is not an absolute http(s) URL", c.Graph.BaseURL)
	}
	if !strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/v1.0") {
		return bad("graph.base_url", "must end in /v1.0 (e.g. https://graph.microsoft.com/v1.0), got %q", c.Graph.BaseURL)
	}
	loopback := isLoopbackHost(u.Hostname())
	if u.Scheme != "https" && !loopback {
		return bad("graph.base_url", "must use https unless it is on loopback")
	}
	switch c.Graph.Credential {
	case "none":
		if !loopback {
			return bad("graph.credential", "none is allowed only with a loopback graph.base_url (a local fake), not %s", u.Hostname())
		}
	case "client_secret", "certificate", "workload_identity":
		if !guidRe.MatchString(c.Graph.TenantID) {
			return bad("graph.tenant_id", "must be the directory (tenant) id, a GUID")
		}
		if !guidRe.MatchString(c.Graph.ClientID) {
			return bad("graph.client_id", "must be the app registration's application (client) id, a GUID")
		}
		if c.Graph.Credential == "client_secret" && c.Graph.ClientSecret == "" {
			return bad("graph.client_secret", "is empty: set MFADESK_GRAPH_CLIENT_SECRET or MFADESK_GRAPH_CLIENT_SECRET_FILE")
		}
		if c.Graph.Credential == "certificate" && c.Graph.CertificateFile == "" {
			return bad("graph.certificate_file", "is required with credential certificate")
		}
	case "managed_identity":
		if c.Graph.ClientID != "" && !guidRe.MatchString(c.Graph.ClientID) {
			return bad("graph.client_id", "must be the user-assigned identity's client id, a GUID")
		}
	default:
		return bad("graph.credential", "must be client_secret, certificate, managed_identity, workload_identity or none, not %q", c.Graph.Credential)
	}
	// Groups: fail closed without them.
	if !guidRe.MatchString(c.Groups.Helpdesk) {
		return bad("groups.helpdesk", "must be the object id of the helpdesk group")
	}
	if !guidRe.MatchString(c.Groups.Approvers) {
		return bad("groups.approvers", "must be the object id of the approvers group")
	}
	if strings.EqualFold(c.Groups.Helpdesk, c.Groups.Approvers) {
		return bad("groups.approvers", "must differ from groups.helpdesk")
	}
	// Approvals
	if c.Approvals.Expiry < time.Minute || c.Approvals.Expiry > 24*time.Hour {
		return bad("approvals.expiry", "must be between 1m and 24h, not %s", c.Approvals.Expiry)
	}
	switch c.Approvals.Protected {
	case "refuse", "two_approvers":
	default:
		return bad("approvals.protected", "must be refuse or two_approvers, not %q", c.Approvals.Protected)
	}
	for i, g := range c.Approvals.ProtectedGroups {
		if !guidRe.MatchString(g) {
			return bad(fmt.Sprintf("approvals.protected_groups[%d]", i), "must be a group object id")
		}
	}
	if c.Approvals.RateLimit < 1 {
		return bad("approvals.rate_limit", "must be at least 1")
	}
	if !c.Slack.Enabled && !c.Teams.Enabled {
		return bad("slack.enabled", "neither slack nor teams is enabled: nothing would receive commands")
	}
	if c.Slack.Enabled {
		if err := c.Slack.validate(bad); err != nil {
			return err
		}
	}
	if c.Teams.Enabled {
		if err := c.Teams.validate(bad); err != nil {
			return err
		}
	}
	return nil
}

func (s *SlackConfig) validate(bad func(string, string, ...any) error) error {
	u, err := url.Parse(s.APIURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !isLoopbackHost(u.Hostname())) {
		return bad("slack.api_url", "%q is not an https URL", s.APIURL)
	}
	if !strings.HasSuffix(s.APIURL, "/") {
		s.APIURL += "/"
	}
	if s.TeamID == "" && s.EnterpriseID == "" {
		return bad("slack.team_id", "is required (or slack.enterprise_id): people of other workspaces must be refused")
	}
	if !strings.HasPrefix(s.BotToken, "xoxb-") {
		return bad("slack.bot_token", "must be a bot token (xoxb-…): set MFADESK_SLACK_BOT_TOKEN")
	}
	switch s.Mode {
	case "socket":
		if !strings.HasPrefix(s.AppToken, "xapp-") {
			return bad("slack.app_token", "Socket Mode needs an app-level token (xapp-…): set MFADESK_SLACK_APP_TOKEN")
		}
	case "http":
		if len(s.SigningSecret) < 16 {
			return bad("slack.signing_secret", "HTTP mode needs the app's signing secret: set MFADESK_SLACK_SIGNING_SECRET")
		}
	default:
		return bad("slack.mode", "must be socket or http, not %q", s.Mode)
	}
	if s.ApprovalsChannel == "" {
		return bad("slack.approvals_channel", "is required: approval cards go there")
	}
	if s.AuditChannel == "" {
		return bad("slack.audit_channel", "is required: every audit event is posted there")
	}
	return nil
}

func (t *TeamsConfig) validate(bad func(string, string, ...any) error) error {
	if !guidRe.MatchString(t.AppID) {
		return bad("teams.app_id", "must be the bot's Microsoft App ID, a GUID")
	}
	if !guidRe.MatchString(t.TenantID) {
		return bad("teams.tenant_id", "must be the tenant id, a GUID: only single-tenant bots can be created")
	}
	switch t.Credential {
	case "client_secret":
		if t.AppPassword == "" {
			return bad("teams.app_password", "is empty: set MFADESK_TEAMS_APP_PASSWORD or MFADESK_TEAMS_APP_PASSWORD_FILE")
		}
	case "certificate":
		if t.CertificateFile == "" {
			return bad("teams.certificate_file", "is required with credential certificate")
		}
	case "managed_identity":
	default:
		return bad("teams.credential", "must be client_secret, certificate or managed_identity, not %q", t.Credential)
	}
	for i, id := range append(append([]string{}, t.EntraTenants...), t.EntraCallers...) {
		if !guidRe.MatchString(id) {
			return bad("teams.entra_tenants / entra_callers", "entry %d %q is not a GUID", i, id)
		}
	}
	if len(t.EntraCallers) == 0 {
		for _, tn := range t.EntraTenants {
			if !slices.ContainsFunc(teams.BotServiceTenants, func(b string) bool { return strings.EqualFold(b, tn) }) {
				return bad("teams.entra_callers", "is required with entra_tenant %s: without it any app of that tenant could speak for any user", tn)
			}
		}
	}
	u, err := url.Parse(t.OpenIDMetadataURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !isLoopbackHost(u.Hostname())) {
		return bad("teams.openid_metadata_url", "%q is not an https URL", t.OpenIDMetadataURL)
	}
	if t.ApprovalsChannel == "" {
		return bad("teams.approvals_channel", "is required: approval cards go there")
	}
	if t.AuditChannel == "" {
		return bad("teams.audit_channel", "is required: every audit event is posted there")
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
