package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/mfadesk/mfadesk/bot"
)

// slackBotScopes is the whole of what the bot token may do, and no more:
//
//	commands          the /mfa slash command
//	chat:write        approval cards, their updates (chat.update), audit posts, DMs
//	users:read        users.info: deleted, bot, guest and workspace checks
//	users:read.email  the profile email that maps a Slack user to a directory user
//	                  (Slack requires it together with users:read)
//	im:write          conversations.open, to tell a requester the outcome by DM
//
// views.open / views.update and response_url need no scope. Approver rights come from
// the directory group, not a Slack user group, so usergroups:read is not asked for.
var slackBotScopes = []string{"commands", "chat:write", "users:read", "users:read.email", "im:write"}

// SlackBotScopes returns the bot token scopes the manifest asks for.
func SlackBotScopes() []string { return slices.Clone(slackBotScopes) }

// SlackAppTokenScopes returns the scopes of the app-level token (xapp-…) Socket Mode
// connects with. They are not bot scopes and cannot be set in a manifest: the operator
// creates the token under Basic Information → App-Level Tokens.
func SlackAppTokenScopes() []string { return []string{"connections:write"} }

// Slack request URL paths served by bot/slack's HTTP handler.
const (
	slackCommandsPath     = "/slack/commands"
	slackInteractionsPath = "/slack/interactions"
)

// SlackOptions shape the Slack app manifest. Zero values are the defaults.
type SlackOptions struct {
	Name        string // app name, ≤ 35 characters; default "mfadesk"
	Description string // ≤ 140 characters
	BotName     string // bot user display name (a-z 0-9 - _ .), default "mfadesk"
	Command     string // default "/mfa"
	// Mode is "socket" (default: no request URLs, no inbound port) or "http".
	Mode string
	// BaseURL is where HTTP mode is reachable, e.g. https://mfadesk.contoso.com; the
	// request URLs are BaseURL + /slack/commands and /slack/interactions. Only for
	// HTTP mode.
	BaseURL string
	// Format is "yaml" (default; carries comments for the operator) or "json".
	Format string
	// OrgDeploy marks the app for org-wide deployment on Enterprise Grid.
	OrgDeploy bool
}

type slackManifest struct {
	Metadata    slackMetadata `json:"_metadata" yaml:"_metadata"`
	Display     slackDisplay  `json:"display_information" yaml:"display_information"`
	Features    slackFeatures `json:"features" yaml:"features"`
	OAuthConfig slackOAuth    `json:"oauth_config" yaml:"oauth_config"`
	Settings    slackSettings `json:"settings" yaml:"settings"`
}

type slackMetadata struct {
	MajorVersion int `json:"major_version" yaml:"major_version"`
	MinorVersion int `json:"minor_version" yaml:"minor_version"`
}

type slackDisplay struct {
	Name            string `json:"name" yaml:"name"`
	Description     string `json:"description" yaml:"description"`
	LongDescription string `json:"long_description" yaml:"long_description"`
	BackgroundColor string `json:"background_color" yaml:"background_color"`
}

type slackFeatures struct {
	AppHome       slackAppHome   `json:"app_home" yaml:"app_home"`
	BotUser       slackBotUser   `json:"bot_user" yaml:"bot_user"`
	SlashCommands []slackCommand `json:"slash_commands" yaml:"slash_commands"`
}

// slackAppHome: the Messages tab is where the bot's DMs (request outcomes) appear;
// read-only, because mfadesk does not read messages.
type slackAppHome struct {
	HomeTabEnabled             bool `json:"home_tab_enabled" yaml:"home_tab_enabled"`
	MessagesTabEnabled         bool `json:"messages_tab_enabled" yaml:"messages_tab_enabled"`
	MessagesTabReadOnlyEnabled bool `json:"messages_tab_read_only_enabled" yaml:"messages_tab_read_only_enabled"`
}

type slackBotUser struct {
	DisplayName  string `json:"display_name" yaml:"display_name"`
	AlwaysOnline bool   `json:"always_online" yaml:"always_online"`
}

type slackCommand struct {
	Command     string `json:"command" yaml:"command"`
	URL         string `json:"url,omitempty" yaml:"url,omitempty"`
	Description string `json:"description" yaml:"description"`
	UsageHint   string `json:"usage_hint" yaml:"usage_hint"`
	// ShouldEscape is off: the grammar names users by UPN, mail or object id, which
	// then arrive as typed (the parser still unwraps <mailto:…>), not as <@U…> ids.
	ShouldEscape bool `json:"should_escape" yaml:"should_escape"`
}

type slackOAuth struct {
	Scopes slackScopes `json:"scopes" yaml:"scopes"`
}

type slackScopes struct {
	Bot []string `json:"bot" yaml:"bot"`
}

type slackSettings struct {
	Interactivity        slackInteractivity `json:"interactivity" yaml:"interactivity"`
	OrgDeployEnabled     bool               `json:"org_deploy_enabled" yaml:"org_deploy_enabled"`
	SocketModeEnabled    bool               `json:"socket_mode_enabled" yaml:"socket_mode_enabled"`
	TokenRotationEnabled bool               `json:"token_rotation_enabled" yaml:"token_rotation_enabled"`
}

type slackInteractivity struct {
	IsEnabled  bool   `json:"is_enabled" yaml:"is_enabled"`
	RequestURL string `json:"request_url,omitempty" yaml:"request_url,omitempty"`
}

const slackLongDescription = "mfadesk lets the IT helpdesk look up Microsoft Entra ID users, " +
	"their MFA methods, registration status, sign-ins and security-info events, and diagnose why " +
	"MFA fails. Requiring MFA re-registration and revoking sessions need a second person from the " +
	"approvers group to approve; every step is written to a hash-chained audit log and posted to " +
	"the audit channel. Lookups answer only to the person who asked."

var (
	botNameRe = regexp.MustCompile(`^[a-z0-9._-]{1,80}$`)
	commandRe = regexp.MustCompile(`^/[a-z0-9_-]{1,31}$`)
)

func (o *SlackOptions) defaults() {
	def := func(p *string, v string) {
		if strings.TrimSpace(*p) == "" {
			*p = v
		}
	}
	def(&o.Name, "mfadesk")
	def(&o.Description, "Helpdesk MFA lookups and two-person approved MFA resets for Entra ID")
	def(&o.BotName, "mfadesk")
	def(&o.Command, "/mfa")
	def(&o.Mode, "socket")
	def(&o.Format, "yaml")
}

// check applies Slack's documented manifest limits and the mode's rules.
func (o *SlackOptions) check() error {
	switch {
	case utf8.RuneCountInString(o.Name) > 35:
		return errors.New("slack manifest: name is longer than 35 characters")
	case utf8.RuneCountInString(o.Description) > 140:
		return errors.New("slack manifest: description is longer than 140 characters")
	case !botNameRe.MatchString(o.BotName):
		return errors.New("slack manifest: bot name may hold only a-z, 0-9, -, _ and . (at most 80)")
	case !commandRe.MatchString(o.Command):
		return errors.New("slack manifest: command must be / and at most 31 of a-z 0-9 - _")
	case o.Format != "yaml" && o.Format != "json":
		return fmt.Errorf("slack manifest: format %q is neither yaml nor json", o.Format)
	}
	switch o.Mode {
	case "socket":
		if o.BaseURL != "" {
			return errors.New("slack manifest: a base URL is only for http mode; Socket Mode has no request URLs")
		}
	case "http":
		if o.BaseURL == "" {
			return errors.New("slack manifest: http mode needs the base URL Slack posts to")
		}
		u, err := url.Parse(o.BaseURL)
		if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("slack manifest: base URL %q is not an absolute URL without query or fragment", o.BaseURL)
		}
		if u.Scheme != "https" {
			return errors.New("slack manifest: Slack posts only to https request URLs")
		}
	default:
		return fmt.Errorf("slack manifest: mode %q is neither socket nor http", o.Mode)
	}
	return nil
}

// Slack returns the Slack app manifest for mfadesk, in YAML (with comments for the
// operator) or JSON.
func Slack(o SlackOptions) ([]byte, error) {
	o.defaults()
	if err := o.check(); err != nil {
		return nil, err
	}
	m := slackManifest{
		Metadata: slackMetadata{MajorVersion: 1, MinorVersion: 1},
		Display: slackDisplay{
			Name: o.Name, Description: o.Description, LongDescription: slackLongDescription, BackgroundColor: "#1d3557",
		},
		Features: slackFeatures{
			AppHome: slackAppHome{MessagesTabEnabled: true, MessagesTabReadOnlyEnabled: true},
			BotUser: slackBotUser{DisplayName: o.BotName, AlwaysOnline: true},
			SlashCommands: []slackCommand{{
				Command:     o.Command,
				Description: "MFA helpdesk: look users up, diagnose, request re-register, revoke or a Temporary Access Pass",
				UsageHint:   slackUsageHint(),
			}},
		},
		OAuthConfig: slackOAuth{Scopes: slackScopes{Bot: SlackBotScopes()}},
		Settings: slackSettings{
			Interactivity:     slackInteractivity{IsEnabled: true},
			OrgDeployEnabled:  o.OrgDeploy,
			SocketModeEnabled: o.Mode == "socket",
		},
	}
	if o.Mode == "http" {
		base := strings.TrimRight(o.BaseURL, "/")
		m.Features.SlashCommands[0].URL = base + slackCommandsPath
		m.Settings.Interactivity.RequestURL = base + slackInteractionsPath
	}
	if o.Format == "json" {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // the usage hint's <user> stays readable
		enc.SetIndent("", "  ")
		if err := enc.Encode(m); err != nil {
			return nil, fmt.Errorf("slack manifest: encode JSON: %w", err)
		}
		return buf.Bytes(), nil
	}
	var buf bytes.Buffer
	buf.WriteString("# Slack app manifest for mfadesk (" + o.Mode + " mode).\n")
	buf.WriteString("# Create the app at https://api.slack.com/apps → Create New App → From a manifest.\n")
	if o.Mode == "socket" {
		buf.WriteString("# Socket Mode: then create an app-level token (Basic Information → App-Level Tokens)\n")
		buf.WriteString("# with the scope " + strings.Join(SlackAppTokenScopes(), ", ") + "; it is not a bot scope. Give it to mfadesk\n")
		buf.WriteString("# as MFADESK_SLACK_APP_TOKEN, and the bot token (xoxb-…) as MFADESK_SLACK_BOT_TOKEN.\n")
	} else {
		buf.WriteString("# HTTP mode: give mfadesk the signing secret (Basic Information) as\n")
		buf.WriteString("# MFADESK_SLACK_SIGNING_SECRET and the bot token (xoxb-…) as MFADESK_SLACK_BOT_TOKEN.\n")
	}
	buf.WriteString("# Invite the bot to the approvals and audit channels.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("slack manifest: encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("slack manifest: encode YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// slackUsageHint lists the verbs of bot.Verbs, in order, grouping neighbours that take
// the same argument: "help | user|methods|… <user> | pending | show|cancel <id>". An
// optional argument (help's [verb]) is left out; Slack shows the hint as typed.
func slackUsageHint() string {
	var groups []string
	var names []string
	arg := ""
	flush := func() {
		if len(names) > 0 {
			groups = append(groups, strings.TrimSpace(strings.Join(names, "|")+" "+arg))
		}
		names = nil
	}
	for _, v := range bot.Verbs() {
		a := ""
		if f := strings.Fields(bot.Usage(v)); len(f) > 1 && strings.HasPrefix(f[1], "<") {
			a = f[1]
			if a == "<request-id>" {
				a = "<id>" // the hint has little room
			}
		}
		if a != arg {
			flush()
			arg = a
		}
		names = append(names, string(v))
	}
	flush()
	return strings.Join(groups, " | ")
}
