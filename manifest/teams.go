package manifest

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mfadesk/mfadesk/actions/guid"
	"github.com/mfadesk/mfadesk/bot"
)

// TeamsManifestVersion is the Teams app manifest schema the package emits: 1.25 is the
// first to allow 12 bot commands per list (1.22–1.23 allow 10),
// and has been in the Teams clients and admin center since January 2026. The schema
// file of exactly this version is vendored under testdata/teams for the tests.
const TeamsManifestVersion = "1.25"

const teamsSchemaURL = "https://developer.microsoft.com/json-schemas/teams/v" + TeamsManifestVersion + "/MicrosoftTeams.schema.json"

// teamsMenuMax is the schema's limit on the commands of one command list.
const teamsMenuMax = 12

// typedOnly are verbs left out of the Teams command menus, which hold at most
// teamsMenuMax: the rarely used or approver-only ones, which people type.
var typedOnly = map[bot.Verb]bool{"audit": true, "unfreeze": true, "cancel": true, "tap": true, "attest": true}

// teamsVerbs are the bot's commands for the manifest's command menus, in the order of
// its help, at most teamsMenuMax of them; Teams only inserts the text, and the bot
// parses it as usual, so a verb left out still works when typed.
func teamsVerbs() []bot.Verb {
	var out []bot.Verb
	for _, v := range bot.Verbs() {
		if !typedOnly[v] && len(out) < teamsMenuMax {
			out = append(out, v)
		}
	}
	return out
}

// TeamsOptions configures the Teams app package. BotID is required; the rest has
// defaults.
type TeamsOptions struct {
	// BotID is the Azure Bot's Microsoft App ID (the single-tenant app's client id or the
	// user-assigned managed identity's): config teams.app_id.
	BotID string
	// AppID is the Teams app's own id; default BotID (Teams allows them to be equal).
	AppID string
	// Version is the app version (x.y.z); raise it for every change uploaded. Default 1.0.0.
	Version string

	ShortName        string // ≤ 30 characters; default "mfadesk"
	FullName         string // ≤ 100
	ShortDescription string // ≤ 80
	FullDescription  string // ≤ 4000

	DeveloperName string // ≤ 32; default "mfadesk"
	WebsiteURL    string // https; default the project's page
	PrivacyURL    string // https; default WebsiteURL
	TermsURL      string // https; default WebsiteURL

	AccentColor string // #rrggbb; default #1F5F8B
}

const teamsDefaultWebsite = "https://github.com/mfadesk/mfadesk"

// Types mirroring the manifest schema. Every optional field is omitempty: the schema
// has additionalProperties false almost everywhere, so unknown or empty keys fail.
type teamsManifest struct {
	Schema              string           `json:"$schema"`
	ManifestVersion     string           `json:"manifestVersion"`
	Version             string           `json:"version"`
	ID                  string           `json:"id"`
	Developer           teamsDeveloper   `json:"developer"`
	Name                teamsText        `json:"name"`
	Description         teamsDescription `json:"description"`
	Icons               teamsIcons       `json:"icons"`
	AccentColor         string           `json:"accentColor"`
	Bots                []teamsBot       `json:"bots"`
	DefaultInstallScope string           `json:"defaultInstallScope,omitempty"`
	ValidDomains        []string         `json:"validDomains"`
}

type teamsDeveloper struct {
	Name          string `json:"name"`
	WebsiteURL    string `json:"websiteUrl"`
	PrivacyURL    string `json:"privacyUrl"`
	TermsOfUseURL string `json:"termsOfUseUrl"`
}

type teamsText struct {
	Short string `json:"short"`
	Full  string `json:"full,omitempty"`
}

type teamsDescription struct {
	Short string `json:"short"`
	Full  string `json:"full"`
}

type teamsIcons struct {
	Color   string `json:"color"`
	Outline string `json:"outline"`
}

type teamsBot struct {
	BotID              string             `json:"botId"`
	Scopes             []string           `json:"scopes"`
	SupportsFiles      bool               `json:"supportsFiles"`
	IsNotificationOnly bool               `json:"isNotificationOnly"`
	CommandLists       []teamsCommandList `json:"commandLists"`
}

type teamsCommandList struct {
	Scopes   []string       `json:"scopes"`
	Commands []teamsCommand `json:"commands"`
}

type teamsCommand struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

var (
	teamsSemverRe = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
	teamsColorRe  = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

func (o TeamsOptions) withDefaults() TeamsOptions {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.AppID, o.BotID)
	def(&o.Version, "1.0.0")
	def(&o.ShortName, "mfadesk")
	def(&o.FullName, "mfadesk — MFA helpdesk with a two-person rule")
	def(&o.ShortDescription, "Look up and fix MFA problems in Entra ID, with a second approver.")
	def(&o.FullDescription, "mfadesk lets the IT helpdesk look up a user's MFA state in Microsoft Entra ID "+
		"(methods, registration, sign-ins, security-info audit events, and a diagnosis with a recommended next step) "+
		"and request the two risky fixes, require re-register MFA and revoke sessions. "+
		"A second person from the approvers group approves or denies each request on a card in the approvals channel; "+
		"only then does the bot call Microsoft Graph. Lookups are answered privately. "+
		"Every step is recorded in a tamper-evident audit log and posted to the audit channel. "+
		"In a channel, type @mfadesk followed by a command; in a 1:1 chat, type the command. Start with help.")
	def(&o.DeveloperName, "mfadesk")
	def(&o.WebsiteURL, teamsDefaultWebsite)
	def(&o.PrivacyURL, o.WebsiteURL)
	def(&o.TermsURL, o.WebsiteURL)
	def(&o.AccentColor, "#1F5F8B")
	return o
}

func (o TeamsOptions) check() error {
	var errs []error
	bad := func(field, msg string, args ...any) {
		errs = append(errs, fmt.Errorf("teams manifest: %s %s", field, fmt.Sprintf(msg, args...)))
	}
	if !guid.Valid(o.BotID) {
		bad("bot id", "must be the bot's Microsoft App ID (a GUID), not %q", o.BotID)
	}
	if !guid.Valid(o.AppID) {
		bad("app id", "must be a GUID, not %q", o.AppID)
	}
	if !teamsSemverRe.MatchString(o.Version) {
		bad("version", "must be x.y.z, not %q", o.Version)
	}
	for _, f := range []struct {
		name string
		v    string
		max  int
	}{
		{"short name", o.ShortName, 30}, {"full name", o.FullName, 100}, {"short description", o.ShortDescription, 80},
		{"full description", o.FullDescription, 4000}, {"developer name", o.DeveloperName, 32},
	} {
		if n := utf8.RuneCountInString(f.v); n > f.max {
			bad(f.name, "is %d characters, at most %d", n, f.max)
		}
	}
	for _, f := range []struct{ name, v string }{{"website URL", o.WebsiteURL}, {"privacy URL", o.PrivacyURL}, {"terms URL", o.TermsURL}} {
		if u, err := url.Parse(f.v); err != nil || u.Scheme != "https" || u.Host == "" {
			bad(f.name, "must be an https URL, not %q", f.v)
		}
	}
	if !teamsColorRe.MatchString(o.AccentColor) {
		bad("accent colour", "must be #rrggbb, not %q", o.AccentColor)
	}
	return errors.Join(errs...)
}

// teamsCommands is the command menu: each verb with its usage and what it does, from
// the bot's own help so the menu cannot drift from the grammar.
func teamsCommands() []teamsCommand {
	var out []teamsCommand
	for _, v := range teamsVerbs() {
		usage := strings.TrimPrefix(bot.Usage(v), "/mfa ")
		desc := usage
		if h := bot.Help(string(v)); !h.Refusal && len(h.Sections) > 0 && h.Sections[0].Text != "" {
			desc = usage + ": " + h.Sections[0].Text
		}
		out = append(out, teamsCommand{Title: string(v), Description: desc})
	}
	return out
}

// TeamsManifest returns manifest.json for the Teams app: one bot, usable in teams
// (channels, @mention) and personal 1:1 chats, with the verbs as its command menu.
func TeamsManifest(o TeamsOptions) ([]byte, error) {
	o = o.withDefaults()
	if err := o.check(); err != nil {
		return nil, err
	}
	cmds := teamsCommands()
	m := teamsManifest{
		Schema:          teamsSchemaURL,
		ManifestVersion: TeamsManifestVersion,
		Version:         o.Version,
		ID:              strings.ToLower(o.AppID),
		Developer:       teamsDeveloper{Name: o.DeveloperName, WebsiteURL: o.WebsiteURL, PrivacyURL: o.PrivacyURL, TermsOfUseURL: o.TermsURL},
		Name:            teamsText{Short: o.ShortName, Full: o.FullName},
		Description:     teamsDescription{Short: o.ShortDescription, Full: o.FullDescription},
		Icons:           teamsIcons{Color: "color.png", Outline: "outline.png"},
		AccentColor:     o.AccentColor,
		Bots: []teamsBot{{
			BotID:  strings.ToLower(o.BotID),
			Scopes: []string{"team", "personal"},
			// One list per scope, as the schema asks.
			CommandLists: []teamsCommandList{{Scopes: []string{"team"}, Commands: cmds}, {Scopes: []string{"personal"}, Commands: cmds}},
		}},
		// Approvals happen in a team's channel; that is where the app is added first.
		DefaultInstallScope: "team",
		// A bot-only app loads no web content.
		ValidDomains: []string{},
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode teams manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// teamsZipTime is the fixed time of the package's entries, so the same options give the
// same bytes.
var teamsZipTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TeamsPackage returns the Teams app package (what `mfadesk manifest teams --out
// app.zip` writes): manifest.json, color.png (192×192) and outline.png (32×32, white on
// transparent) at the root of a zip, as Teams requires. Upload it with "Upload a custom
// app" or in the Teams admin center.
func TeamsPackage(o TeamsOptions) ([]byte, error) {
	manifest, err := TeamsManifest(o)
	if err != nil {
		return nil, err
	}
	o = o.withDefaults()
	color, outline, err := TeamsIcons(o.AccentColor)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct {
		name string
		b    []byte
	}{{"manifest.json", manifest}, {"color.png", color}, {"outline.png", outline}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: teamsZipTime})
		if err != nil {
			return nil, fmt.Errorf("zip %s: %w", f.name, err)
		}
		if _, err := w.Write(f.b); err != nil {
			return nil, fmt.Errorf("zip %s: %w", f.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip teams package: %w", err)
	}
	return buf.Bytes(), nil
}
