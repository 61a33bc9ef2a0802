package bottest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
)

// An admin who is only PIM-eligible shows as one in `user`, and a request about her
// is refused when the form is asked for, citing the same role — through the real
// Graph client against the fake tenant.
func TestEligibleAdminShownAndRefusedBeforeTheForm(t *testing.T) {
	s := bottest.New(t, bottest.Options{})
	hana := bot.Caller{Platform: "web", ChatID: "hana", ObjectID: s.UserID(t, "hana.helpdesk")}
	ctx := context.Background()
	m := s.Router.Handle(ctx, bot.Event{Caller: hana, Text: "user erin.eligible@mfademo.example"})
	var roles string
	for _, sec := range m.Sections {
		for _, f := range sec.Facts {
			if f.Label == "Admin roles" {
				roles = f.Value
			}
		}
	}
	if m.Refusal || roles != "Global Administrator (eligible)" {
		t.Errorf("user erin: admin roles %q in %+v", roles, m)
	}
	f := s.Router.Handle(ctx, bot.Event{Caller: hana, Text: "revoke erin.eligible@mfademo.example"})
	if !f.Refusal || f.Form != nil || !strings.Contains(f.Text, "Global Administrator (eligible)") {
		t.Errorf("form for erin: %+v", f)
	}
}
