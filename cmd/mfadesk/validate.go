package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	goslack "github.com/slack-go/slack"

	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot/slack"
	"github.com/mfadesk/mfadesk/bot/teams"
)

// requiredGraphRoles are the application permissions every feature needs (README's
// permissions table). ReadWrite covers Read for authentication methods.
var requiredGraphRoles = []string{
	"User.Read.All",
	"GroupMember.Read.All",
	"UserAuthenticationMethod.ReadWrite.All",
	"AuditLog.Read.All",
	"Directory.Read.All",
	"Policy.Read.All",
	"User.RevokeSessions.All",
	"RoleManagement.Read.Directory",
	// PIM for Groups: eligible memberships that make a target protected.
	"PrivilegedEligibilitySchedule.Read.AzureADGroup",
}

// check is one line of `mfadesk validate`.
type check struct {
	name string
	err  error
	ok   string // what passed
	warn string // passed, but an operator should look (not counted as a failure)
}

// validateDeps lets tests replace the credentials; production builds them from config.
type validateDeps struct {
	graphCred func(GraphConfig) (azcore.TokenCredential, error)
	teamsCred func(TeamsConfig) (azcore.TokenCredential, error)
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlags("validate", "validate --config FILE", stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(stderr, "validate needs --config FILE")
		return errUsage
	}
	cfg, err := LoadConfig(*path, getenv)
	if err != nil {
		// One FAIL line per problem; each already says "config: <key>: …".
		lines := strings.Split(err.Error(), "\n")
		for _, l := range lines {
			fmt.Fprintln(stdout, "FAIL "+l)
		}
		return fmt.Errorf("validation failed: %d problems in %s", len(lines), *path)
	}
	checks := validate(ctx, cfg, validateDeps{
		graphCred: graphCredential,
		teamsCred: teamsCredential,
	})
	failed := 0
	fmt.Fprintln(stdout, "PASS config: "+*path)
	for _, c := range checks {
		if c.warn != "" {
			fmt.Fprintf(stdout, "WARN %s: %s\n", c.name, c.warn)
			continue
		}
		if c.err != nil {
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %s\n", c.name, oneLine(c.err.Error()))
		} else {
			fmt.Fprintf(stdout, "PASS %s: %s\n", c.name, c.ok)
		}
	}
	if failed > 0 {
		return fmt.Errorf("validation failed: %d of %d checks", failed, len(checks)+1)
	}
	return nil
}

// validate runs every check; each failure is one line with the reason.
func validate(ctx context.Context, cfg *Config, d validateDeps) []check {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var out []check
	add := func(name, ok string, err error) { out = append(out, check{name: name, ok: ok, err: err}) }

	// Database: writable, not locked by a running serve; or etcd answers.
	if st, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler)); err != nil {
		add("database", "", err)
	} else if es, ok := st.(*approvals.EtcdStore); ok {
		st.Close()
		add("database", cfg.Database+" answers (prefix "+es.Prefix()+")", nil)
	} else {
		st.Close()
		add("database", cfg.Database+" is writable and not locked", nil)
	}

	// Graph: a token, its application roles, and the configured groups.
	cred, err := d.graphCred(cfg.Graph)
	if err != nil {
		add("graph credential", "", err)
		return append(out, d.chatChecks(ctx, cfg)...)
	}
	if cred == nil {
		add("graph token", "credential none: no token (local fake only)", nil)
	} else {
		u, _ := url.Parse(cfg.Graph.BaseURL)
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{u.Scheme + "://" + u.Host + "/.default"}})
		if err != nil {
			add("graph token", "", fmt.Errorf("could not acquire a token: %w", err))
		} else {
			add("graph token", "acquired", nil)
			roles, err := tokenRoles(tok.Token)
			switch missing := missingRoles(roles); {
			case err != nil:
				add("graph permissions", "", err)
			case len(missing) > 0:
				add("graph permissions", "", fmt.Errorf("missing application permissions (grant admin consent): %s", strings.Join(missing, ", ")))
			default:
				add("graph permissions", "all required application permissions granted", nil)
			}
		}
	}
	dir, err := graph.New(graph.Config{BaseURL: cfg.Graph.BaseURL, Credential: cred, Timeout: 20 * time.Second})
	if err != nil {
		add("graph client", "", err)
	} else {
		for _, g := range []struct{ key, id string }{{"groups.helpdesk", cfg.Groups.Helpdesk}, {"groups.approvers", cfg.Groups.Approvers}} {
			name, err := dir.GroupName(ctx, g.id)
			if err != nil {
				add(g.key, "", fmt.Errorf("group %s: %w", g.id, err))
			} else {
				add(g.key, fmt.Sprintf("group %q exists", name), nil)
			}
		}
	}
	return append(out, d.chatChecks(ctx, cfg)...)
}

func (d validateDeps) chatChecks(ctx context.Context, cfg *Config) []check {
	var out []check
	add := func(name, ok string, err error) { out = append(out, check{name: name, ok: ok, err: err}) }
	if cfg.Slack.Enabled && len(cfg.Slack.ResponseURLHosts) > 0 {
		// Lookup answers (personal data) go to these hosts instead of Slack's own.
		out = append(out, check{name: "slack.response_url_hosts", warn: fmt.Sprintf(
			"lookup answers may be posted to %s instead of Slack's own hosts (%s): keep this for a staging Slack-compatible endpoint only",
			strings.Join(cfg.Slack.ResponseURLHosts, ", "), strings.Join(slack.DefaultResponseURLHosts, ", "))})
	}
	if cfg.Slack.Enabled {
		api := goslack.New(cfg.Slack.BotToken, goslack.OptionAPIURL(cfg.Slack.APIURL), goslack.OptionHTTPClient(&http.Client{Timeout: 15 * time.Second}))
		if at, err := api.AuthTestContext(ctx); err != nil {
			add("slack auth.test", "", err)
		} else {
			add("slack auth.test", fmt.Sprintf("bot %s in workspace %s", at.User, at.Team), nil)
			// Reachability is proven by posting: reading channel info would need
			// channels:read, a scope the bot otherwise does without.
			channels := []struct{ key, id string }{{"slack.approvals_channel", cfg.Slack.ApprovalsChannel}, {"slack.audit_channel", cfg.Slack.AuditChannel}}
			if cfg.Slack.SecurityChannel != "" {
				channels = append(channels, struct{ key, id string }{"slack.security_channel", cfg.Slack.SecurityChannel})
			}
			for _, ch := range channels {
				_, _, err := api.PostMessageContext(ctx, ch.id, goslack.MsgOptionText("mfadesk validate: this channel is reachable by the bot.", false))
				var se goslack.SlackErrorResponse
				switch {
				case errors.As(err, &se) && (se.Err == "not_in_channel" || se.Err == "channel_not_found"):
					add(ch.key, "", fmt.Errorf("channel %s: %s — invite the bot with /invite @mfadesk", ch.id, se.Err))
				case err != nil:
					add(ch.key, "", fmt.Errorf("channel %s: %w", ch.id, err))
				default:
					add(ch.key, "posted a check message to "+ch.id, nil)
				}
			}
		}
	}
	if cfg.Teams.Enabled {
		cred, err := d.teamsCred(cfg.Teams)
		if err == nil {
			_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{teams.ConnectorScope}})
		}
		if err != nil {
			add("teams token", "", err)
		} else {
			add("teams token", "acquired for the Bot Framework connector", nil)
		}
	}
	return out
}

// tokenRoles reads the roles claim of an access token. The token came straight from
// the identity platform over TLS, so its signature need not be checked here: this only
// reports what was granted.
func tokenRoles(token string) ([]string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("the access token is not a JWT, so its permissions cannot be read")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("decode access token claims: %w", err)
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(b, &claims); err != nil {
		return nil, fmt.Errorf("decode access token claims: %w", err)
	}
	return claims.Roles, nil
}

func missingRoles(have []string) []string {
	got := map[string]bool{}
	for _, r := range have {
		got[r] = true
	}
	if got["Directory.ReadWrite.All"] {
		got["Directory.Read.All"] = true
	}
	if got["User.ReadWrite.All"] {
		got["User.Read.All"], got["User.RevokeSessions.All"] = true, true
	}
	for _, broader := range []string{"PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup", "PrivilegedAccess.Read.AzureADGroup", "PrivilegedAccess.ReadWrite.AzureADGroup"} {
		if got[broader] {
			got["PrivilegedEligibilitySchedule.Read.AzureADGroup"] = true
		}
	}
	var missing []string
	for _, r := range requiredGraphRoles {
		if !got[r] {
			missing = append(missing, r)
		}
	}
	sort.Strings(missing)
	return missing
}
