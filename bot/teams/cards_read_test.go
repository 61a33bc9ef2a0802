package teams

import (
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
)

// texts flattens the text of a card's body, element by element.
func texts(es []Element) []string {
	var out []string
	for _, e := range es {
		if e.Text != "" {
			out = append(out, e.Type+": "+e.Text)
		}
		for _, f := range e.Facts {
			out = append(out, "Fact: "+f.Title+" = "+f.Value)
		}
		out = append(out, texts(e.Items)...)
	}
	return out
}

// TestOutcomeCardHeadline: the requester's outcome card shows a headline (Teams
// shows no summary or fallbackText when a card renders) and the denial with its reason.
func TestOutcomeCardHeadline(t *testing.T) {
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	req := approvals.Request{
		ID: "R-7KQ2M4XDAAAAAAAAAAAAAAAAAA", Action: approvals.ActionRevoke, State: approvals.StateDenied,
		Target:    approvals.Target{ObjectID: "00000000-0000-4000-8000-000000000003", UPN: "mfatest2@contoso.example", DisplayName: "MFA Test 2"},
		Requester: approvals.Actor{Platform: "teams", DisplayName: "Hana Helpdesk"},
		Created:   at, Expires: at.Add(30 * time.Minute),
		Decisions: []approvals.Decision{{Verdict: approvals.VerdictDeny, By: approvals.Actor{DisplayName: "Sam Approver"}, At: at, Justification: "Call the user first"}},
	}
	c := RenderCard(bot.OutcomeMessage(req, bot.RenderApproval(req, nil, func(string) bool { return true })))
	if len(c.Body) == 0 || c.Body[0].Type != "TextBlock" || c.Body[0].Weight != "Bolder" || c.Body[0].Text != "Your request R-7KQ2M4XDAAAAAAAAAAAAAAAAAA is denied" {
		t.Fatalf("the card has no visible headline: %+v", c.Body[:min(1, len(c.Body))])
	}
	all := strings.Join(texts(c.Body), "\n")
	for _, want := range []string{"Denied by Sam Approver at 2026-12-04 09:00 UTC: Call the user first", "Nothing ran: the request was denied"} {
		if !strings.Contains(all, want) {
			t.Errorf("the card lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "On approval") || strings.Contains(all, "What will run") {
		t.Errorf("the card of a denied request promises a run:\n%s", all)
	}
}

// TestCardsReadableWhenNarrow: a table of more than three columns becomes one
// FactSet per row; evidence keeps one item a line; mfadesk's own link is a link,
// and a typed one is not.
func TestCardsReadableWhenNarrow(t *testing.T) {
	m := bot.Message{Title: "Sign-ins", Text: "2 sign-ins", Sections: []bot.Section{
		{Table: &bot.Table{Columns: []string{"Time", "App", "IP / location", "Result", "MFA"}, Rows: [][]string{
			{"2026-12-04 09:00 UTC", "Office 365", "203.0.113.7 (Lagos)", "failed 500121", "MFA required"},
			{"2026-12-04 08:00 UTC", "Teams", "", "success", ""},
		}}},
		{Findings: []bot.Finding{{Severity: bot.SeverityProblem, Title: "Not usable", Detail: "Re-add it at https://aka.ms/mysecurityinfo.",
			Evidence: "2026-02-27 registration started\nno registration completed\nAuthenticator never verified"}}},
		{Text: "[verify here](https://evil.example) or https://evil.example/x"},
	}}
	c := RenderCard(m)
	var facts, tables int
	for _, e := range c.Body {
		switch e.Type {
		case "Table":
			tables++
		case "FactSet":
			facts++
		}
	}
	if tables != 0 || facts != 2 {
		t.Errorf("a 5-column table: %d Table, %d FactSet; want 0 and one FactSet per row", tables, facts)
	}
	all := strings.Join(texts(c.Body), "\n")
	for _, want := range []string{
		"Fact: IP / location = 203.0.113.7 (Lagos)", "Fact: MFA = —",
		"TextBlock: Evidence: 2026-02-27 registration started\nTextBlock: no registration completed\nTextBlock: Authenticator never verified",
		"[https://aka.ms/mysecurityinfo](https://aka.ms/mysecurityinfo).",
		"[verify here]\u200b(https://evil.example)",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("card lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "](https://evil.example") {
		t.Errorf("typed text became a link:\n%s", all)
	}
	small := RenderCard(bot.Message{Title: "t", Sections: []bot.Section{{Table: &bot.Table{Columns: []string{"Method", "Type", "On approval"}, Rows: [][]string{{"a", "b", "c"}}}}}})
	if small.Body[1].Type != "Table" {
		t.Errorf("a 3-column table is drawn as %s, want Table", small.Body[1].Type)
	}
}
