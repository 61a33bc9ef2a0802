package slack

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	goslack "github.com/slack-go/slack"

	"github.com/mfadesk/mfadesk/bot"
)

// blocksJSON marshals blocks as Slack receives them and checks Block Kit's limits.
func blocksJSON(t *testing.T, blocks []goslack.Block, max int) []map[string]any {
	t.Helper()
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	if p := blockProblem(out, max); p != "" {
		t.Fatalf("blocks break Block Kit limits: %s", p)
	}
	return out
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a & b", "a &amp; b"},
		{"<!channel> hi", "&lt;!channel&gt; hi"},
		{"<@U123|boss>", "&lt;@U123|boss&gt;"},
		{"<https://evil.example|Reset here>", "&lt;https://evil.example|Reset here&gt;"},
		{"@channel and @here and @everyone", "@\u2060channel and @\u2060here and @\u2060everyone"},
		{"line\nbreak\tand\x00nul\x1b[31m", "line\nbreak\tandnul[31m"},
		{"&amp;", "&amp;amp;"},
		// mfadesk's own links are links; a look-alike or any other address stays text.
		{"go to https://aka.ms/mysecurityinfo.", "go to <https://aka.ms/mysecurityinfo|https://aka.ms/mysecurityinfo>."},
		{"https://aka.ms/mysecurityinfo.evil.example", "https://aka.ms/mysecurityinfo.evil.example"},
		{"<https://aka.ms/mysecurityinfo|x>", "&lt;<https://aka.ms/mysecurityinfo|https://aka.ms/mysecurityinfo>|x&gt;"},
	}
	for _, tt := range tests {
		if got := esc(tt.in); got != tt.want {
			t.Errorf("esc(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := clipEscaped("aaaa&bbbb", 6); strings.Contains(got, "&am") && !strings.Contains(got, "&amp;") {
		t.Errorf("clipEscaped cut an entity: %q", got)
	}
	if got := clipEscaped("see https://aka.ms/mysecurityinfo now", 20); got != "see …" {
		t.Errorf("clipEscaped cut a link: %q", got)
	}
}

func TestRenderLookup(t *testing.T) {
	methods := &bot.Table{Columns: []string{"Method", "Detail", "Created", "Default", "Usable"}, Rows: [][]string{
		{"Microsoft Authenticator", "iPhone 15", "2025-01-02", "yes", "no — never verified"},
		{"Phone", "+1 ••• ••• 12", "2024-03-04", "no", "yes"},
		{"FIDO2 key", "", "2024-05-06", "no", "yes"},
	}}
	m := bot.Message{
		Private: true, Title: "Methods of Alice", Text: "Alice has 3 methods; Authenticator is not usable.",
		Sections: []bot.Section{
			{Heading: "Registered methods", Table: methods},
			{Findings: []bot.Finding{
				{Severity: bot.SeverityProblem, Title: "Registered but not usable", Detail: "Authenticator added but never verified.", Evidence: "audit: User started security info registration"},
				{Severity: bot.SeverityWarning, Title: "Per-user MFA disabled while MFA works"},
				{Severity: bot.SeverityInfo, Title: "In mfaoptin"},
			}},
			{Note: "sign-ins need an Entra ID P1 licence"},
		},
	}
	blocks := blocksJSON(t, renderBlocks(m, renderOptions{maxBlocks: maxMessageBlocks, title: true}), 50)
	if blocks[0]["type"] != "header" {
		t.Fatalf("first block is %v, want the header", blocks[0]["type"])
	}
	all := texts(blocks)
	for _, want := range []string{
		"*Registered methods*",
		"*Method*\nMicrosoft Authenticator", "*Usable*\nno — never verified", "*Detail*\n—",
		":red_circle: *Problem:* Registered but not usable", "_Evidence:_ audit: User started",
		":warning: *Warning:* Per-user MFA", ":information_source: *Info:* In mfaoptin",
		"_Note:_ sign-ins need",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("rendering lacks %q:\n%s", want, all)
		}
	}
	// One section with fields per method row.
	rows := 0
	for _, b := range blocks {
		if f, ok := b["fields"].([]any); ok && len(f) == 5 {
			rows++
		}
	}
	if rows != 3 {
		t.Errorf("%d method rows as field sections, want 3", rows)
	}
	if got := summaryText(m); got != "Alice has 3 methods; Authenticator is not usable." {
		t.Errorf("summary = %q", got)
	}
}

// Whatever the router returns, the rendering stays inside Slack's limits and says
// what it left out.
func TestRenderLimits(t *testing.T) {
	long := strings.Repeat("Ünïcödé & <b> ", 300) // > 3000 code points once escaped
	var facts []bot.Fact
	for i := range 37 {
		facts = append(facts, bot.Fact{Label: fmt.Sprintf("Fact %d", i), Value: strings.Repeat("v", 2500)})
	}
	var findings []bot.Finding
	for i := range 80 {
		findings = append(findings, bot.Finding{Severity: bot.SeverityWarning, Title: fmt.Sprintf("Finding %d", i), Detail: long})
	}
	wide := &bot.Table{}
	for i := range 14 {
		wide.Columns = append(wide.Columns, fmt.Sprintf("C%d", i))
	}
	wide.Rows = [][]string{make([]string, 14)}
	signins := &bot.Table{Columns: []string{"Time", "App", "IP", "Result"}}
	for i := range 50 {
		signins.Rows = append(signins.Rows, []string{fmt.Sprintf("2025-03-%02d 10:00", i%28+1), "Office 365", "203.0.113.7", "failure 50074: Strong Authentication is required."})
	}
	tests := []struct {
		name string
		msg  bot.Message
		max  int
		note bool
	}{
		{"long text", bot.Message{Text: "x", Title: strings.Repeat("T", 400), Sections: []bot.Section{{Text: long}}}, maxMessageBlocks, false},
		{"many facts", bot.Message{Text: "x", Sections: []bot.Section{{Facts: facts}}}, maxMessageBlocks, true},
		{"many findings", bot.Message{Text: "x", Sections: []bot.Section{{Findings: findings}}}, maxMessageBlocks, true},
		{"many findings in a modal", bot.Message{Text: "x", Sections: []bot.Section{{Findings: findings}}}, maxModalBlocks, true},
		{"wide table", bot.Message{Text: "x", Sections: []bot.Section{{Table: wide}}}, maxMessageBlocks, false},
		{"50 sign-ins", bot.Message{Text: "x", Sections: []bot.Section{{Table: signins}}}, maxMessageBlocks, false},
		{"long refusal", bot.Refuse(long), maxMessageBlocks, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blocks := blocksJSON(t, renderBlocks(tt.msg, renderOptions{maxBlocks: tt.max, title: true}), tt.max)
			all := texts(blocks)
			if n := utf8.RuneCountInString(all); n > maxMessageChars+1000 {
				t.Errorf("message holds %d characters", n)
			}
			if has := strings.Contains(all, "left out to stay within Slack's message limits"); has != tt.note {
				t.Errorf("truncation note present = %v, want %v", has, tt.note)
			}
		})
	}
	if s := summaryText(bot.Message{Text: long}); utf8.RuneCountInString(s) > maxTopText {
		t.Errorf("summary of %d code points", utf8.RuneCountInString(s))
	}
}

func TestRenderButtons(t *testing.T) {
	card := bot.Message{
		Text: "Hana asks to re-register MFA for Alice (INC42).", Title: "Approval needed: re-register MFA", RequestID: "R-7KQ2M4XD",
		Sections: []bot.Section{{Facts: []bot.Fact{{Label: "Target", Value: "alice@contoso.com"}}}},
		Buttons: []bot.Button{
			{Kind: bot.ButtonApprove, Label: "Approve", Value: "R-7KQ2M4XD"},
			{Kind: bot.ButtonDeny, Label: "Deny", Value: "R-7KQ2M4XD"},
			{Kind: bot.ButtonApprove, Label: "Evil", Value: "R-1 <!channel>"},
		},
	}
	blocks := blocksJSON(t, renderBlocks(card, renderOptions{maxBlocks: maxMessageBlocks, title: true, buttons: true}), 50)
	last := blocks[len(blocks)-1]
	if last["type"] != "actions" {
		t.Fatalf("last block = %v", last["type"])
	}
	els := last["elements"].([]any)
	if len(els) != 2 {
		t.Fatalf("%d buttons, want 2 (the malformed one dropped)", len(els))
	}
	approve, deny := els[0].(map[string]any), els[1].(map[string]any)
	if approve["action_id"] != actionApprove || approve["value"] != "R-7KQ2M4XD" || approve["confirm"] == nil || approve["accessibility_label"] == "" {
		t.Errorf("approve = %v", approve)
	}
	if deny["action_id"] != actionDeny || deny["value"] != "R-7KQ2M4XD" {
		t.Errorf("deny = %v", deny)
	}
	// A new block id on every rendering: Slack wants one per message iteration.
	again := blocksJSON(t, renderBlocks(card, renderOptions{maxBlocks: maxMessageBlocks, title: true, buttons: true}), 50)
	if again[len(again)-1]["block_id"] == last["block_id"] {
		t.Errorf("block_id reused across renderings")
	}
	// Without buttons in the card (decided), no actions block.
	card.Buttons = nil
	for _, b := range blocksJSON(t, renderBlocks(card, renderOptions{maxBlocks: maxMessageBlocks, title: true, buttons: true}), 50) {
		if b["type"] == "actions" {
			t.Fatalf("decided card still has buttons")
		}
	}
}

func TestChunkRunes(t *testing.T) {
	s := strings.Repeat("ab&amp;", 1000)
	chunks := chunkRunes(s, 3000)
	if strings.Join(chunks, "") != s {
		t.Fatalf("chunks lose text")
	}
	for i, c := range chunks {
		if utf8.RuneCountInString(c) > 3000 {
			t.Fatalf("chunk %d too long", i)
		}
		if i < len(chunks)-1 && strings.HasSuffix(c, "&") || strings.HasSuffix(c, "&am") {
			t.Fatalf("chunk %d ends inside an entity: %q", i, c[len(c)-6:])
		}
	}
}
