package teams

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/teams/teamstest"
)

func TestPostApproval(t *testing.T) {
	e := newEnv(t)
	e.fc.Inject(teamstest.Fault{Status: 429, RetryAfter: "1"})
	ref, err := e.ad.PostApproval(context.Background(), approvalCard("R-7KQ2M4XD"))
	if err != nil {
		t.Fatal(err)
	}
	calls := e.fc.Calls()
	if len(calls) != 2 || len(e.sleeps) != 1 {
		t.Fatalf("calls %d, waits %v", len(calls), e.sleeps)
	}
	c := calls[1]
	if c.Method != http.MethodPost || c.Path != "v3/conversations" || c.Body["isGroup"] != true || c.Body["tenantId"] != testTenant {
		t.Errorf("create: %+v", c)
	}
	if ch := c.Body["channelData"].(map[string]any)["channel"].(map[string]any)["id"]; ch != testChannel {
		t.Errorf("channel %v", ch)
	}
	act := c.Body["activity"].(map[string]any)
	att := act["attachments"].([]any)[0].(map[string]any)
	if act["type"] != "message" || att["contentType"] != CardContentType || act["summary"] == "" {
		t.Errorf("activity %v", act)
	}
	if ref.Platform != "teams" || ref.Channel != testChannel+";messageid=1002" || ref.ID != "1002" {
		t.Errorf("ref %+v", ref)
	}
	if _, ok := e.ad.cards.get(ref.Channel, ref.ID); !ok {
		t.Error("posted card not remembered")
	}
}

func TestUpdateApproval(t *testing.T) {
	e := newEnv(t)
	ref := bot.CardRef{Platform: "teams", Channel: testChannel + ";messageid=77", ID: "77"}
	if err := e.ad.UpdateApproval(context.Background(), ref, decidedCard("R-1", "Alex")); err != nil {
		t.Fatal(err)
	}
	c := e.fc.Calls()[0]
	if c.Method != http.MethodPut || c.Conv != ref.Channel || c.ActID != "77" || c.Body["id"] != "77" || c.Body["type"] != "message" {
		t.Errorf("PUT %+v", c)
	}
	for _, bad := range []bot.CardRef{{Platform: "slack", Channel: "C1", ID: "1.2"}, {Platform: "teams"}} {
		if err := e.ad.UpdateApproval(context.Background(), bad, decidedCard("R-1", "Alex")); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestTell(t *testing.T) {
	cases := []struct {
		name       string
		to         bot.Caller
		wantMember string
	}{
		{"Teams user by Teams id", bot.Caller{Platform: "teams", ChatID: "29:hana", ObjectID: "oid-hana"}, "29:hana"},
		{"Slack requester by object id", bot.Caller{Platform: "slack", ChatID: "U123", ObjectID: "oid-sam"}, "oid-sam"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			msg := bot.Message{Text: "R-1 was approved by Alex and done.", Title: "Your request R-1", Sections: []bot.Section{{Text: "All methods deleted."}}}
			if err := e.ad.Tell(context.Background(), c.to, msg); err != nil {
				t.Fatal(err)
			}
			calls := e.fc.Calls()
			if len(calls) != 2 {
				t.Fatalf("calls %+v", calls)
			}
			m := calls[0].Body["members"].([]any)[0].(map[string]any)
			if m["id"] != c.wantMember || calls[0].Body["isGroup"] != false || calls[0].Body["tenantId"] != testTenant {
				t.Errorf("create %+v", calls[0].Body)
			}
			if b := calls[0].Body["bot"].(map[string]any); b["id"] != "28:"+testAppID {
				t.Errorf("bot %v", b)
			}
			if calls[1].Conv != "a:personal-"+c.wantMember || !strings.Contains(mustString(calls[1].Body), "All methods deleted.") {
				t.Errorf("post %+v", calls[1])
			}
		})
	}
	e := newEnv(t)
	if err := e.ad.Tell(context.Background(), bot.Caller{Platform: "teams"}, bot.Message{Text: "x"}); err == nil {
		t.Error("told nobody")
	}
}

func TestPostAudit(t *testing.T) {
	e := newEnv(t)
	line := "R-1 approved by Alex (oid-alex) · chain head 9f2c…"
	if err := e.ad.PostAudit(context.Background(), line); err != nil {
		t.Fatal(err)
	}
	c := e.fc.Calls()[0]
	act := c.Body["activity"].(map[string]any)
	if ch := c.Body["channelData"].(map[string]any)["channel"].(map[string]any)["id"]; ch != auditChannel || act["text"] != line || act["textFormat"] != "plain" {
		t.Errorf("audit post %+v", c.Body)
	}

	noChannels := newEnv(t, func(o *Options) { o.ApprovalsChannel, o.AuditChannel = "", "" })
	if err := noChannels.ad.PostAudit(context.Background(), "x"); err == nil {
		t.Error("audit posted without a channel")
	}
	if _, err := noChannels.ad.PostApproval(context.Background(), approvalCard("R-1")); err == nil {
		t.Error("approval posted without a channel")
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Golden cards: what Teams gets for a diagnose answer, a request form and an approval
// card. Run with -update after an intended change, and read the diff.
func TestCardGolden(t *testing.T) {
	diagnose := bot.Message{
		Private: true, Title: "Diagnose MFA Test 2", Text: "MFA Test 2: 1 problem, 1 warning. Recommended: re-register.",
		Sections: []bot.Section{
			{Heading: "Status", Facts: []bot.Fact{{Label: "MFA registered", Value: "yes"}, {Label: "MFA capable", Value: "no"}, {Label: "Default method", Value: ""}}},
			{Heading: "Findings", Findings: []bot.Finding{
				{Severity: bot.SeverityProblem, Title: "Registered but not usable", Detail: "Authenticator was added but never verified.", Evidence: "2026-02-27 User started security info registration; no User registered security info after it"},
				{Severity: bot.SeverityWarning, Title: "Per-user MFA disabled while MFA works", Detail: "Registered through Conditional Access."},
				{Severity: bot.SeverityInfo, Title: "In an MFA group", Detail: "mfaoptin: MFA is required."},
			}},
			{Heading: "Recent sign-ins", Table: &bot.Table{Columns: []string{"Time", "App", "Result"}, Rows: [][]string{{"2026-03-01 09:12", "Office 365", "50074 strong auth required"}}}},
			{Note: "Sign-ins need an Entra ID P1 licence."},
		},
	}
	form := bot.Message{Private: true, Text: "Request to re-register MFA of MFA Test 2.", Form: &bot.Form{
		Action: "reregister", Target: "mfatest2@contoso.com", TargetLabel: "MFA Test 2 (mfatest2@contoso.com)", Warning: "Deletes every MFA method except the password.",
		Verifications: []bot.Choice{{Value: "video_with_id", Label: "Video call with photo ID"}, {Value: "in_person", Label: "In person"}}}}
	cases := map[string]Card{
		"diagnose":  RenderCard(diagnose),
		"form":      RenderForm(form, *form.Form, nil, formState{}),
		"approval":  RenderCard(approvalCard("R-7KQ2M4XD")),
		"form-errs": RenderForm(bot.Message{Text: "Fix the fields."}, *form.Form, bot.FieldErrors{"ticket": "Give the ticket id."}, formState{Reason: "lost phone"}),
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := prettyJSON(t, c)
			path := filepath.Join("testdata", "card-"+name+".json")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if string(got) != string(want) {
				t.Errorf("card differs from %s:\n%s", path, got)
			}
			s := string(got)
			if !strings.Contains(s, `"version": "1.5"`) || !strings.Contains(s, `"fallbackText"`) {
				t.Error("card lacks version 1.5 or fallbackText")
			}
		})
	}
	d := string(prettyJSON(t, cases["diagnose"]))
	for _, want := range []string{"Problem: Registered but not usable", "Warning: Per-user MFA", "Info: In an MFA group", `"type": "FactSet"`, `"type": "Table"`} {
		if !strings.Contains(d, want) {
			t.Errorf("diagnose card lacks %q", want)
		}
	}
	a := string(prettyJSON(t, cases["approval"]))
	for _, want := range []string{`"verb": "approve"`, `"verb": "deny"`, `"type": "Action.Submit"`, `"id": "justification"`, `"request": "R-7KQ2M4XD"`} {
		if !strings.Contains(a, want) {
			t.Errorf("approval card lacks %q", want)
		}
	}
}

// Text users typed cannot become a link on an approver's card.
func TestCardsBreakMarkdownLinks(t *testing.T) {
	m := bot.Message{Text: "x", Title: "[t](https://evil.example)", Sections: []bot.Section{{
		Text:     "see [here](https://evil.example/a)",
		Facts:    []bot.Fact{{Label: "Reason", Value: "[verify](https://evil.example/b)"}},
		Findings: []bot.Finding{{Severity: bot.SeverityInfo, Title: "[f](https://evil.example/c)"}},
	}}}
	b := mustJSON(RenderCard(m))
	var back Card
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if s := string(mustJSON(back)); strings.Contains(strings.ReplaceAll(s, `\u200b`, "\u200b"), "](") {
		t.Errorf("a markdown link survived: %s", s)
	}
}

// TestPostSecurity: with teams.security_channel set, an alert is a plain-text thread
// in that channel through the connector; without one, nothing is posted; a channel
// id that is not a Teams channel is refused at start.
func TestPostSecurity(t *testing.T) {
	const securityChannel = "19:security@thread.tacv2"
	e := newEnv(t, func(o *Options) { o.SecurityChannel = securityChannel })
	line := `ALERT: mfatest2@contoso.com said "This is not me" about a helpdesk request`
	if err := e.ad.PostSecurity(context.Background(), line); err != nil {
		t.Fatal(err)
	}
	calls := e.fc.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d connector calls, want 1", len(calls))
	}
	act := calls[0].Body["activity"].(map[string]any)
	if ch := calls[0].Body["channelData"].(map[string]any)["channel"].(map[string]any)["id"]; ch != securityChannel || act["text"] != line || act["textFormat"] != "plain" {
		t.Errorf("security post %+v", calls[0].Body)
	}

	none := newEnv(t)
	if err := none.ad.PostSecurity(context.Background(), line); err != nil || len(none.fc.Calls()) != 0 {
		t.Errorf("without a security channel: err %v, calls %d", err, len(none.fc.Calls()))
	}
	if _, err := New(Options{AppID: testAppID, TenantID: testTenant, Credential: &teamstest.Cred{}, ServiceURL: "https://smba.trafficmanager.net/teams/",
		ApprovalsChannel: testChannel, AuditChannel: auditChannel, SecurityChannel: "C0SECURITY"}); err == nil {
		t.Error("a Slack channel id was accepted as the Teams security channel")
	}
}
