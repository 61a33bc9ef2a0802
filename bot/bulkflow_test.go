package bot_test

import (
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
)

// TestBulkFormRefusals: what a bulk form cannot be opened for is refused in one line
// naming the cause, before any form: more users than approvals.bulk_max (by group or
// pasted), a paste over the platform's limit, an unknown group, a caller outside the
// helpdesk group.
func TestBulkFormRefusals(t *testing.T) {
	s := bottest.New(t, bottest.Options{EditPolicy: func(p *approvals.Policy) { p.BulkMax = 5 }})
	hana := bot.Caller{Platform: bot.PlatformSlack, ChatID: "U0HANA", Name: "Hana", ObjectID: s.UserID(t, "hana.helpdesk")}
	sam := bot.Caller{Platform: bot.PlatformWeb, ChatID: "sam", Name: "Sam", ObjectID: s.UserID(t, "sam.approver")}
	ids := strings.Repeat("5a1b0001-0000-4000-8000-000000000002 ", 6)
	long := strings.Repeat("5a1b0001-0000-4000-8000-000000000002 ", 82)
	for _, c := range []struct {
		name   string
		caller bot.Caller
		text   string
		want   string
	}{
		{"group over the maximum", hana, "reregister --group mfa-rollback-affected", "Group mfa-rollback-affected has more than 5 users; a bulk request may name at most 5. Split it."},
		{"paste over the maximum", hana, "reregister " + ids, "A bulk request may name at most 5 users; this one names 6. Split it."},
		{"paste over Slack's limit", hana, "reregister " + long, "at most 3000 characters in Slack (about 81 object ids)"},
		{"unknown group", hana, "reregister --group no-such-group", "No group named 'no-such-group'"},
		{"not helpdesk", sam, "reregister --group mfa-rollback-affected", "Only members of the helpdesk group can file requests."},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := s.Router.Handle(t.Context(), bot.Event{Caller: c.caller, Text: c.text})
			if !m.Refusal || m.Form != nil || !strings.Contains(m.Text, c.want) || strings.Contains(m.Text, "\n") {
				t.Fatalf("answer %+v, want a one-line refusal with %q", m, c.want)
			}
		})
	}
	if open, _ := s.Approvals.OpenRequests(t.Context()); len(open) != 0 {
		t.Fatalf("%d requests filed", len(open))
	}
}
