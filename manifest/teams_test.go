package manifest

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mfadesk/mfadesk/bot"
)

const teamsTestBotID = "0b6fe6d1-fece-44f7-9a48-56465e2d5ab8"

var teamsSchemaPath = filepath.Join("testdata", "teams", "MicrosoftTeams.schema.v"+TeamsManifestVersion+".json")

// teamsSchema compiles the vendored schema. Go's regexp has no look-ahead; patterns it
// cannot compile are recorded and not enforced (the test checks which they are).
func teamsSchema(t *testing.T) (*jsonschema.Schema, []string) {
	t.Helper()
	f, err := os.Open(teamsSchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var skipped []string
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.UseRegexpEngine(func(s string) (jsonschema.Regexp, error) {
		re, err := regexp.Compile(s)
		if err != nil {
			mu.Lock()
			skipped = append(skipped, s)
			mu.Unlock()
			return anyString{s}, nil
		}
		return re, nil
	})
	if err := c.AddResource(teamsSchemaURL, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(teamsSchemaURL)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(skipped)
	return sch, slices.Compact(skipped)
}

type anyString struct{ src string }

func (a anyString) MatchString(string) bool { return true }
func (a anyString) String() string          { return a.src }

func validateTeams(t *testing.T, sch *jsonschema.Schema, manifest []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(manifest))
	if err != nil {
		t.Fatal(err)
	}
	return sch.Validate(inst)
}

func TestTeamsManifestValidatesAgainstSchema(t *testing.T) {
	sch, skipped := teamsSchema(t)
	if want := []string{`^(?!.*[\r\n\f\b\v\a\t])[\S]*\.xll$`}; !slices.Equal(skipped, want) {
		t.Errorf("patterns not enforced: %q, want only %q", skipped, want)
	}
	cases := map[string]TeamsOptions{
		"defaults": {BotID: teamsTestBotID},
		"all set": {BotID: teamsTestBotID, AppID: "c5e99701-2a32-49c1-a660-4629ceeb8c61", Version: "2.10.3", ShortName: "MFA Desk",
			FullName: "Contoso MFA desk", ShortDescription: "MFA fixes", FullDescription: "Long.", DeveloperName: "Contoso IT",
			WebsiteURL: "https://it.contoso.com/mfadesk", PrivacyURL: "https://contoso.com/privacy", TermsURL: "https://contoso.com/terms", AccentColor: "#C0FFEE"},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := TeamsManifest(o)
			if err != nil {
				t.Fatal(err)
			}
			if err := validateTeams(t, sch, m); err != nil {
				t.Fatalf("manifest fails the schema:\n%v\n%s", err, m)
			}
		})
	}
	// The validator does reject what the schema forbids, so a pass means something.
	m, _ := TeamsManifest(TeamsOptions{BotID: teamsTestBotID})
	var doc map[string]any
	_ = json.Unmarshal(m, &doc)
	for name, mutate := range map[string]func(map[string]any){
		"unknown top-level key": func(d map[string]any) { d["packageName"] = "com.contoso.mfadesk" },
		"bad accent colour":     func(d map[string]any) { d["accentColor"] = "blue" },
		"13 commands": func(d map[string]any) {
			cl := d["bots"].([]any)[0].(map[string]any)["commandLists"].([]any)[0].(map[string]any)
			cl["commands"] = append(cl["commands"].([]any), map[string]any{"title": "x", "description": "y"})
		},
		"groupchat in lower case": func(d map[string]any) { d["bots"].([]any)[0].(map[string]any)["scopes"] = []any{"groupchat"} },
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			var d map[string]any
			_ = json.Unmarshal(m, &d)
			mutate(d)
			b, _ := json.Marshal(d)
			if validateTeams(t, sch, b) == nil {
				t.Error("schema accepted it")
			}
		})
	}

	// draft-04 has no const: check manifestVersion against the schema's own const.
	raw, _ := os.ReadFile(teamsSchemaPath)
	var s struct {
		Properties struct {
			ManifestVersion struct {
				Const string `json:"const"`
			} `json:"manifestVersion"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(raw, &s)
	if s.Properties.ManifestVersion.Const != TeamsManifestVersion || doc["manifestVersion"] != TeamsManifestVersion {
		t.Errorf("manifestVersion %v, schema const %q", doc["manifestVersion"], s.Properties.ManifestVersion.Const)
	}
	if doc["$schema"] != "https://developer.microsoft.com/json-schemas/teams/v1.25/MicrosoftTeams.schema.json" {
		t.Errorf("$schema %v", doc["$schema"])
	}
}

func TestTeamsManifestContent(t *testing.T) {
	m, err := TeamsManifest(TeamsOptions{BotID: strings.ToUpper(teamsTestBotID)})
	if err != nil {
		t.Fatal(err)
	}
	var doc teamsManifest
	if err := json.Unmarshal(m, &doc); err != nil {
		t.Fatal(err)
	}
	b := doc.Bots[0]
	if b.BotID != teamsTestBotID || doc.ID != teamsTestBotID {
		t.Errorf("bot id %q app id %q", b.BotID, doc.ID)
	}
	if !slices.Equal(b.Scopes, []string{"team", "personal"}) || len(b.CommandLists) != 2 {
		t.Errorf("scopes %v lists %d", b.Scopes, len(b.CommandLists))
	}
	var titles []string
	for _, c := range b.CommandLists[0].Commands {
		titles = append(titles, c.Title)
		if c.Description == "" || strings.HasPrefix(c.Description, "/mfa") {
			t.Errorf("command %q description %q", c.Title, c.Description)
		}
		if h := bot.Help(c.Title); h.Refusal {
			t.Errorf("command %q is not a verb the bot knows", c.Title)
		}
	}
	want := []string{"help", "user", "methods", "status", "signins", "diagnose", "reregister", "revoke", "verify", "me", "pending", "show"}
	if !slices.Equal(titles, want) {
		t.Errorf("commands %v, want %v", titles, want)
	}
	if d := b.CommandLists[0].Commands[4].Description; !strings.HasPrefix(d, "signins <user> [--last N] [--failed]: ") {
		t.Errorf("signins description %q", d)
	}
}

func TestTeamsManifestRefusals(t *testing.T) {
	cases := map[string]TeamsOptions{
		"no bot id":           {},
		"bot id not a GUID":   {BotID: "mfadesk"},
		"version not semver":  {BotID: teamsTestBotID, Version: "1.0"},
		"short name too long": {BotID: teamsTestBotID, ShortName: strings.Repeat("x", 31)},
		"http website":        {BotID: teamsTestBotID, WebsiteURL: "http://contoso.com"},
		"bad colour":          {BotID: teamsTestBotID, AccentColor: "#12345"},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := TeamsPackage(o); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// The package is a zip with manifest.json and the two icons at its root, the icons of
// the sizes Teams requires, the outline white on transparent.
func TestTeamsPackage(t *testing.T) {
	pkg, err := TeamsPackage(TeamsOptions{BotID: teamsTestBotID})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(rc)
		rc.Close()
		files[f.Name] = b.Bytes()
	}
	if !slices.Equal(names, []string{"manifest.json", "color.png", "outline.png"}) {
		t.Fatalf("zip entries %q, want the three files at the root", names)
	}
	sch, _ := teamsSchema(t)
	if err := validateTeams(t, sch, files["manifest.json"]); err != nil {
		t.Errorf("packaged manifest: %v", err)
	}

	for name, size := range map[string]int{"color.png": TeamsColorIconSize, "outline.png": TeamsOutlineIconSize} {
		img, err := png.Decode(bytes.NewReader(files[name]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
			t.Errorf("%s is %dx%d, want %dx%d", name, b.Dx(), b.Dy(), size, size)
		}
	}
	out, _ := png.Decode(bytes.NewReader(files["outline.png"]))
	var transparent, white int
	for y := range TeamsOutlineIconSize {
		for x := range TeamsOutlineIconSize {
			r, g, b, a := out.At(x, y).RGBA()
			switch {
			case a == 0:
				transparent++
			case r == 0xffff && g == 0xffff && b == 0xffff && a == 0xffff:
				white++
			default:
				t.Fatalf("outline pixel (%d,%d) is neither white nor transparent: %v", x, y, out.At(x, y))
			}
		}
	}
	if white < 40 || transparent < 400 {
		t.Errorf("outline has %d white and %d transparent pixels", white, transparent)
	}
	col, _ := png.Decode(bytes.NewReader(files["color.png"]))
	if _, _, _, a := col.At(0, 0).RGBA(); a != 0xffff {
		t.Error("colour icon has a transparent background")
	}

	again, _ := TeamsPackage(TeamsOptions{BotID: teamsTestBotID})
	if !bytes.Equal(pkg, again) {
		t.Error("the package is not reproducible")
	}
	if os.Getenv("MFADESK_WRITE_TEAMS_PACKAGE") != "" {
		// For a look at the icons: MFADESK_WRITE_TEAMS_PACKAGE=/tmp/app.zip go test ./manifest
		_ = os.WriteFile(os.Getenv("MFADESK_WRITE_TEAMS_PACKAGE"), pkg, 0o644)
	}
}
