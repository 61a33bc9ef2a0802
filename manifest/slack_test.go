package manifest

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	goslack "github.com/slack-go/slack"
	"go.yaml.in/yaml/v3"
)

// parse reads a manifest back into slack-go's Manifest type, refusing keys it does
// not know, so every key we write is one Slack's manifest schema has.
func parse(t *testing.T, b []byte, format string) goslack.Manifest {
	t.Helper()
	var m goslack.Manifest
	switch format {
	case "json":
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("parse JSON manifest: %v\n%s", err, b)
		}
	default:
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("parse YAML manifest: %v\n%s", err, b)
		}
	}
	return m
}

func TestSlackManifest(t *testing.T) {
	minimal := []string{"chat:write", "commands", "im:write", "users:read", "users:read.email"}
	tests := []struct {
		name        string
		opts        SlackOptions
		socket      bool
		commandURL  string
		interactURL string
	}{
		{"socket yaml (default)", SlackOptions{}, true, "", ""},
		{"socket json", SlackOptions{Format: "json"}, true, "", ""},
		{"http yaml", SlackOptions{Mode: "http", BaseURL: "https://mfadesk.contoso.com/"}, false, "https://mfadesk.contoso.com/slack/commands", "https://mfadesk.contoso.com/slack/interactions"},
		{"http json under a prefix", SlackOptions{Mode: "http", BaseURL: "https://gw.contoso.com/mfadesk", Format: "json"}, false, "https://gw.contoso.com/mfadesk/slack/commands", "https://gw.contoso.com/mfadesk/slack/interactions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Slack(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			format := tt.opts.Format
			m := parse(t, b, format)
			scopes := slices.Clone(m.OAuthConfig.Scopes.Bot)
			slices.Sort(scopes)
			if !slices.Equal(scopes, minimal) {
				t.Errorf("bot scopes = %v, want exactly %v", scopes, minimal)
			}
			if slices.Contains(m.OAuthConfig.Scopes.Bot, "connections:write") || len(m.OAuthConfig.Scopes.User) > 0 {
				t.Errorf("connections:write or user scopes among the manifest's scopes")
			}
			if m.Settings.SocketModeEnabled != tt.socket {
				t.Errorf("socket_mode_enabled = %v", m.Settings.SocketModeEnabled)
			}
			if m.Settings.Interactivity == nil || !m.Settings.Interactivity.IsEnabled || m.Settings.Interactivity.RequestUrl != tt.interactURL {
				t.Errorf("interactivity = %+v", m.Settings.Interactivity)
			}
			if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/mfa" || m.Features.SlashCommands[0].Url != tt.commandURL {
				t.Errorf("slash commands = %+v", m.Features.SlashCommands)
			}
			if m.Settings.EventSubscriptions != nil {
				t.Errorf("the bot needs no event subscriptions")
			}
			if n := len(m.Display.LongDescription); m.Display.LongDescription != "" && (n < 174 || n > 4000) {
				t.Errorf("long description of %d characters", n)
			}
			if m.Metadata.MajorVersion != 1 || m.Features.BotUser.DisplayName != "mfadesk" {
				t.Errorf("metadata/bot user = %+v %+v", m.Metadata, m.Features.BotUser)
			}
			if format != "json" && tt.socket && !strings.Contains(string(b), "connections:write") {
				t.Errorf("the YAML does not tell the operator about the app-level token's scope")
			}
		})
	}
}

func TestSlackManifestRefusals(t *testing.T) {
	tests := []struct {
		name string
		opts SlackOptions
		want string
	}{
		{"http without base URL", SlackOptions{Mode: "http"}, "base URL"},
		{"http over plain http", SlackOptions{Mode: "http", BaseURL: "http://mfadesk.contoso.com"}, "https"},
		{"base URL with a query", SlackOptions{Mode: "http", BaseURL: "https://x.example/?a=1"}, "query"},
		{"base URL in socket mode", SlackOptions{BaseURL: "https://x.example"}, "only for http"},
		{"unknown mode", SlackOptions{Mode: "rtm"}, "neither"},
		{"unknown format", SlackOptions{Format: "toml"}, "neither"},
		{"long name", SlackOptions{Name: strings.Repeat("n", 36)}, "35"},
		{"long description", SlackOptions{Description: strings.Repeat("d", 141)}, "140"},
		{"bot name with capitals", SlackOptions{BotName: "MFA Desk"}, "bot name"},
		{"command without slash", SlackOptions{Command: "mfa"}, "command"},
		{"command too long", SlackOptions{Command: "/" + strings.Repeat("m", 32)}, "command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Slack(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestScopeLists(t *testing.T) {
	s := SlackBotScopes()
	s[0] = "admin"
	if SlackBotScopes()[0] == "admin" {
		t.Fatal("SlackBotScopes hands out its own slice")
	}
	if got := SlackAppTokenScopes(); !slices.Equal(got, []string{"connections:write"}) {
		t.Fatalf("app token scopes = %v", got)
	}
}
