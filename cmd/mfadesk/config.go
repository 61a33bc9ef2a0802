package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	textclip "github.com/mfadesk/mfadesk/actions/clip"
	"github.com/mfadesk/mfadesk/actions/guid"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot/suggest"
	"github.com/mfadesk/mfadesk/bot/teams"
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
	// WriteRetryBudget bounds how long one approved action retries throttled or
	// unavailable Graph calls before it is reported as failed for now (default 60s).
	WriteRetryBudget time.Duration `yaml:"write_retry_budget"`
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
	// Bulk re-register: two distinct approvers above this many users (default 20),
	// and at most this many users in one request (default 1000).
	BulkTwoApproversAbove int `yaml:"bulk_two_approvers_above"`
	BulkMax               int `yaml:"bulk_max"`
	// Evidence is the identity evidence each action needs, performed (the user
	// confirmed in chat) or claimed (the agent's statement); default performed for
	// reregister and tap. EvidenceProtected replaces it for protected targets.
	Evidence          map[string]string `yaml:"evidence"`
	EvidenceProtected map[string]string `yaml:"evidence_protected"`
	ConfirmExpiry     time.Duration     `yaml:"confirm_expiry"` // default 10m
	FreezeFor         time.Duration     `yaml:"freeze_for"`     // after "This is not me", default 24h
	// NotifyManager sends the target's manager a copy of the notice after every
	// executed write (default false).
	NotifyManager bool `yaml:"notify_manager"`
	// WatchAfterReset is how long a target's new security-info registrations are
	// reported to the audit channel after a re-register or a temporary access pass
	// (default 24h; 0 turns the watch off, hence a pointer: absent is the default).
	WatchAfterReset *time.Duration `yaml:"watch_after_reset"`
	WatchInterval   time.Duration  `yaml:"watch_interval"` // how often the watch polls, default 1m
}

// WatchFor is the effective watch after a reset: the default when not configured.
func (a ApprovalsConfig) WatchFor() time.Duration {
	if a.WatchAfterReset == nil {
		return approvals.DefaultWatchFor
	}
	return *a.WatchAfterReset
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
	// SecurityChannel, optional, also gets "This is not me" / "This is not them" alerts.
	SecurityChannel string `yaml:"security_channel"`
	// ResponseURLHosts are the hosts (and their subdomains) a slash command's
	// response_url may point at; mfadesk posts lookup answers there. Default Slack's:
	// slack.com and slack-gov.com. https only, except plain http on a loopback host.
	ResponseURLHosts []string `yaml:"response_url_hosts"`
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
	// EntraMetadataURL lists the keys of Entra-issued inbound tokens; AuthorityHost is
	// where the bot gets its own connector token. Defaults: the public cloud; national
	// clouds set both (e.g. https://login.microsoftonline.us/).
	EntraMetadataURL string `yaml:"entra_metadata_url"`
	AuthorityHost    string `yaml:"authority_host"`
	ServiceURL       string `yaml:"service_url"` // e.g. https://smba.trafficmanager.net/teams/
	// ServiceHosts are the connector hosts activities may name as their serviceUrl
	// (and replies go to); default the public, GCC and GCC High Teams connectors.
	ServiceHosts []string `yaml:"service_hosts"`
	// EntraTenants whose Entra-issued tokens are accepted; default the Bot Service's own.
	// Any other tenant (ours included) needs EntraCallers: every app registered there
	// could otherwise mint a token that speaks for any user.
	EntraTenants     []string `yaml:"entra_tenants"`
	EntraCallers     []string `yaml:"entra_callers"`     // app ids accepted from those tenants
	ApprovalsChannel string   `yaml:"approvals_channel"` // channel conversation id
	AuditChannel     string   `yaml:"audit_channel"`
	// SecurityChannel, optional, also gets "This is not me" / "This is not them" alerts.
	SecurityChannel string `yaml:"security_channel"`
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
// setting must not silently fall back to a default. Every problem is reported at once
// (errors.Join, one line each naming its key), so a config is fixed in one pass.
func ParseConfig(b []byte, getenv func(string) string) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var errs []error
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			// Not YAML at all: nothing else can be checked.
			return nil, fmt.Errorf("config: %s", oneLine(err.Error()))
		}
		// Type errors and unknown keys leave the rest decoded: check it too.
		lines := keyLines(b)
		for _, e := range te.Errors {
			errs = append(errs, yamlError(e, lines))
		}
	}
	if err := c.fromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	c.defaults()
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &c, nil
}

// unknownField matches yaml's "line 7: field clientsecret not found in type main.GraphConfig".
var unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)

// badValue matches yaml's "line 16: cannot unmarshal !!str `soon` into time.Duration".
var badValue = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)$")

// yamlError turns one of yaml's decode errors into a ConfigError that names the key
// as the config file spells it (graph.clientsecret, approvals.expiry), not the Go
// type behind it. lines maps a line number to the dotted key written on it.
func yamlError(msg string, lines map[int]string) error {
	if m := badValue.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		if key := lines[n]; key != "" {
			want := map[string]string{"time.Duration": "a duration such as 30m or 1h", "int": "a whole number", "bool": "true or false",
				"[]string": "a list", "string": "text"}[m[4]]
			if want == "" {
				want = m[4]
			}
			got := fmt.Sprintf("%q", clip(m[3], 40))
			if m[3] == "" {
				got = "a " + map[string]string{"seq": "list", "map": "mapping"}[m[2]]
				if got == "a " {
					got = "this value"
				}
			}
			return &ConfigError{Key: key, Msg: fmt.Sprintf("%s is not %s (line %d)", got, want, n)}
		}
	}
	m := unknownField.FindStringSubmatch(msg)
	if m == nil {
		return fmt.Errorf("config: %s", oneLine(msg))
	}
	prefix, known := configKeys(m[3])
	key := m[2]
	if prefix != "" {
		key = prefix + "." + key
	}
	text := "is not a known setting (line " + m[1] + ")"
	if s := suggest.Closest(m[2], known, 3); s != "" {
		text += "; did you mean " + strings.TrimPrefix(prefix+"."+s, ".") + "?"
	}
	return &ConfigError{Key: key, Msg: text}
}

// keyLines maps each line of the YAML document that holds a key to the key's dotted
// path ("approvals.expiry"), so a decode error given by line can name its key.
func keyLines(b []byte) map[int]string {
	out := map[int]string{}
	// The first key written on a line names it: in "groups: [a, [b]]" that is groups.
	set := func(line int, key string) {
		if _, ok := out[line]; !ok {
			out[line] = key
		}
	}
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil {
		return out
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := strings.TrimPrefix(path+"."+n.Content[i].Value, ".")
				set(n.Content[i].Line, k)
				if v := n.Content[i+1]; v.Line != n.Content[i].Line || v.Kind != yaml.ScalarNode {
					walk(v, k)
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				k := fmt.Sprintf("%s[%d]", path, i)
				set(c.Line, k)
				walk(c, k)
			}
		}
	}
	walk(&doc, "")
	return out
}

// clip keeps n code points of s and marks a cut with "…".
func clip(s string, n int) string { return textclip.Runes(s, n+1) }

// configKeys finds the section of the config whose Go type yaml named, and returns its
// dotted path ("" for the top level) and the keys it accepts.
func configKeys(goType string) (string, []string) {
	var walk func(t reflect.Type, path string) (string, []string, bool)
	walk = func(t reflect.Type, path string) (string, []string, bool) {
		var keys []string
		for i := 0; i < t.NumField(); i++ {
			if k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); k != "" && k != "-" {
				keys = append(keys, k)
			}
		}
		if t.String() == goType {
			return path, keys, true
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			k, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if f.Type.Kind() == reflect.Struct && k != "" {
				if p, ks, ok := walk(f.Type, strings.TrimPrefix(path+"."+k, ".")); ok {
					return p, ks, true
				}
			}
		}
		return "", nil, false
	}
	p, keys, _ := walk(reflect.TypeOf(Config{}), "")
	return p, keys
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
	if c.Graph.WriteRetryBudget == 0 {
		c.Graph.WriteRetryBudget = time.Minute
	}
	def(&c.Approvals.Protected, "refuse")
	def(&c.Slack.Mode, "socket")
	def(&c.Slack.APIURL, "https://slack.com/api/")
	def(&c.Teams.Credential, "client_secret")
	def(&c.Teams.OpenIDMetadataURL, teams.DefaultOpenIDMetadataURL)
	def(&c.Teams.EntraMetadataURL, teams.DefaultEntraMetadataURL)
	// The approval policy's own defaults, so the config and the policy can't disagree.
	if c.Approvals.Expiry == 0 {
		c.Approvals.Expiry = approvals.DefaultTTL
	}
	if c.Approvals.RateLimit == 0 {
		c.Approvals.RateLimit = approvals.DefaultRateLimit
	}
	if c.Approvals.RateWindow == 0 {
		c.Approvals.RateWindow = approvals.DefaultRateWindow
	}
	if c.Approvals.WatchInterval == 0 {
		c.Approvals.WatchInterval = approvals.DefaultWatchInterval
	}
	if c.Graph.MFAGroups == nil {
		c.Graph.MFAGroups = []string{"mfaoptin"}
	}
}

// hostRe is a DNS host name: dot-separated labels of letters, digits and hyphens.
var hostRe = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)

// Validate checks the configuration and fails closed. Every problem is returned
// (errors.Join), each one line naming its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, msg string, args ...any) {
		errs = append(errs, &ConfigError{Key: key, Msg: fmt.Sprintf(msg, args...)})
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port", c.Listen)
	}
	if etcdHosts(c.Database) != nil {
		if err := c.Etcd.validate(c.Database, func(key, msg string, args ...any) error {
			return &ConfigError{Key: key, Msg: fmt.Sprintf(msg, args...)}
		}); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "must be debug, info, warn or error, not %q", c.LogLevel)
	}
	// Graph
	loopback := false
	u, err := url.Parse(c.Graph.BaseURL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		bad("graph.base_url", "%q is not an absolute http(s) URL", c.Graph.BaseURL)
	case !strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/v1.0"):
		bad("graph.base_url", "must end in /v1.0 (e.g. https://graph.microsoft.com/v1.0), got %q", c.Graph.BaseURL)
	default:
		loopback = isLoopbackHost(u.Hostname())
		if u.Scheme != "https" && !loopback {
			bad("graph.base_url", "must use https unless it is on loopback")
		}
	}
	if c.Graph.WriteRetryBudget < time.Second || c.Graph.WriteRetryBudget > 10*time.Minute {
		bad("graph.write_retry_budget", "must be between 1s and 10m, not %s", c.Graph.WriteRetryBudget)
	}
	switch c.Graph.Credential {
	case "none":
		if !loopback {
			bad("graph.credential", "none is allowed only with a loopback graph.base_url (a local fake), not %q", c.Graph.BaseURL)
		}
	case "client_secret", "certificate", "workload_identity":
		if !guid.Valid(c.Graph.TenantID) {
			bad("graph.tenant_id", "must be the directory (tenant) id, a GUID")
		}
		if !guid.Valid(c.Graph.ClientID) {
			bad("graph.client_id", "must be the app registration's application (client) id, a GUID")
		}
		if c.Graph.Credential == "client_secret" && c.Graph.ClientSecret == "" {
			bad("graph.client_secret", "is empty: set MFADESK_GRAPH_CLIENT_SECRET or MFADESK_GRAPH_CLIENT_SECRET_FILE")
		}
		if c.Graph.Credential == "certificate" && c.Graph.CertificateFile == "" {
			bad("graph.certificate_file", "is required with credential certificate")
		}
	case "managed_identity":
		if c.Graph.ClientID != "" && !guid.Valid(c.Graph.ClientID) {
			bad("graph.client_id", "must be the user-assigned identity's client id, a GUID")
		}
	default:
		bad("graph.credential", "must be client_secret, certificate, managed_identity, workload_identity or none, not %q", c.Graph.Credential)
	}
	// Groups: fail closed without them.
	if !guid.Valid(c.Groups.Helpdesk) {
		bad("groups.helpdesk", "must be the object id of the helpdesk group")
	}
	if !guid.Valid(c.Groups.Approvers) {
		bad("groups.approvers", "must be the object id of the approvers group")
	} else if strings.EqualFold(c.Groups.Helpdesk, c.Groups.Approvers) {
		bad("groups.approvers", "must differ from groups.helpdesk")
	}
	// Approvals
	if c.Approvals.Expiry < time.Minute || c.Approvals.Expiry > 24*time.Hour {
		bad("approvals.expiry", "must be between 1m and 24h, not %s", c.Approvals.Expiry)
	}
	if w := c.Approvals.WatchFor(); w != 0 && (w < 10*time.Minute || w > 7*24*time.Hour) {
		bad("approvals.watch_after_reset", "must be 0 (off) or between 10m and 168h, not %s", w)
	}
	if c.Approvals.WatchInterval < 10*time.Second || c.Approvals.WatchInterval > time.Hour {
		// Each poll spends report budget; more often than every 10 s would eat into
		// what lookups need, less often than hourly reports too late.
		bad("approvals.watch_interval", "must be between 10s and 1h, not %s", c.Approvals.WatchInterval)
	}
	switch c.Approvals.Protected {
	case "refuse", "two_approvers":
	default:
		bad("approvals.protected", "must be refuse or two_approvers, not %q", c.Approvals.Protected)
	}
	for i, g := range c.Approvals.ProtectedGroups {
		if !guid.Valid(g) {
			bad(fmt.Sprintf("approvals.protected_groups[%d]", i), "must be a group object id")
		}
	}
	if c.Approvals.RateLimit < 1 {
		bad("approvals.rate_limit", "must be at least 1")
	}
	if !c.Slack.Enabled && !c.Teams.Enabled {
		bad("slack.enabled", "neither slack nor teams is enabled: nothing would receive commands")
	}
	if c.Slack.Enabled {
		c.Slack.validate(bad)
	}
	if c.Teams.Enabled {
		c.Teams.validate(bad)
	}
	return errors.Join(errs...)
}

func (s *SlackConfig) validate(bad func(string, string, ...any)) {
	u, err := url.Parse(s.APIURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !isLoopbackHost(u.Hostname())) {
		bad("slack.api_url", "%q is not an https URL", s.APIURL)
	} else if !strings.HasSuffix(s.APIURL, "/") {
		s.APIURL += "/"
	}
	if s.TeamID == "" && s.EnterpriseID == "" {
		bad("slack.team_id", "is required (or slack.enterprise_id): people of other workspaces must be refused")
	}
	if !strings.HasPrefix(s.BotToken, "xoxb-") {
		bad("slack.bot_token", "must be a bot token (xoxb-…): set MFADESK_SLACK_BOT_TOKEN")
	}
	switch s.Mode {
	case "socket":
		if !strings.HasPrefix(s.AppToken, "xapp-") {
			bad("slack.app_token", "Socket Mode needs an app-level token (xapp-…): set MFADESK_SLACK_APP_TOKEN")
		}
	case "http":
		if len(s.SigningSecret) < 16 {
			bad("slack.signing_secret", "HTTP mode needs the app's signing secret (at least 16 characters): set MFADESK_SLACK_SIGNING_SECRET")
		}
	default:
		bad("slack.mode", "must be socket or http, not %q", s.Mode)
	}
	if s.ApprovalsChannel == "" {
		bad("slack.approvals_channel", "is required: approval cards go there")
	}
	if s.AuditChannel == "" {
		bad("slack.audit_channel", "is required: every audit event is posted there")
	}
	for i, h := range s.ResponseURLHosts {
		if !validHostName(h) {
			bad(fmt.Sprintf("slack.response_url_hosts[%d]", i), "%q is not a host name: give a bare host such as hooks.slack.example (no scheme, port, path or wildcard)", h)
		}
	}
}

// validHostName accepts a bare DNS name or IP address: response_url_hosts lists hosts,
// and a scheme, port or wildcard there would read as something it is not.
func validHostName(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func (t *TeamsConfig) validate(bad func(string, string, ...any)) {
	if !guid.Valid(t.AppID) {
		bad("teams.app_id", "must be the bot's Microsoft App ID, a GUID")
	}
	if !guid.Valid(t.TenantID) {
		bad("teams.tenant_id", "must be the tenant id, a GUID: only single-tenant bots can be created")
	}
	switch t.Credential {
	case "client_secret":
		if t.AppPassword == "" {
			bad("teams.app_password", "is empty: set MFADESK_TEAMS_APP_PASSWORD or MFADESK_TEAMS_APP_PASSWORD_FILE")
		}
	case "certificate":
		if t.CertificateFile == "" {
			bad("teams.certificate_file", "is required with credential certificate")
		}
	case "managed_identity":
	default:
		bad("teams.credential", "must be client_secret, certificate or managed_identity, not %q", t.Credential)
	}
	for i, id := range t.EntraTenants {
		if !guid.Valid(id) {
			bad(fmt.Sprintf("teams.entra_tenants[%d]", i), "%q is not a GUID", id)
		}
	}
	for i, id := range t.EntraCallers {
		if !guid.Valid(id) {
			bad(fmt.Sprintf("teams.entra_callers[%d]", i), "%q is not a GUID", id)
		}
	}
	if len(t.EntraCallers) == 0 {
		for _, tn := range t.EntraTenants {
			if !slices.ContainsFunc(teams.BotServiceTenants, func(b string) bool { return strings.EqualFold(b, tn) }) {
				bad("teams.entra_callers", "is required with entra_tenant %s: without it any app of that tenant could speak for any user", tn)
			}
		}
	}
	for i, h := range t.ServiceHosts {
		if !hostRe.MatchString(h) {
			bad("teams.service_hosts", "entry %d %q is not a host name (no scheme, port or path)", i, h)
		}
	}
	for _, k := range []struct{ key, v string }{
		{"teams.openid_metadata_url", t.OpenIDMetadataURL},
		{"teams.entra_metadata_url", t.EntraMetadataURL},
	} {
		if !httpsURL(k.v) {
			bad(k.key, "%q is not an https URL", k.v)
		}
	}
	if t.AuthorityHost != "" {
		if u, err := url.Parse(t.AuthorityHost); err != nil || !httpsURL(t.AuthorityHost) || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			bad("teams.authority_host", "%q is not an https authority host such as https://login.microsoftonline.us/", t.AuthorityHost)
		}
	}
	if t.ApprovalsChannel == "" {
		bad("teams.approvals_channel", "is required: approval cards go there")
	}
	if t.AuditChannel == "" {
		bad("teams.audit_channel", "is required: every audit event is posted there")
	}
}

// httpsURL accepts https URLs, and http ones only on loopback (local fakes).
func httpsURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Host != "" && u.User == nil && (u.Scheme == "https" || (u.Scheme == "http" && isLoopbackHost(u.Hostname())))
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
