package bottest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
)

// An admin who is only PIM-eligible holds no role in memberOf, yet is one activation
// away from Global Administrator: requests about them are refused like any admin's,
// through the real Graph client against the fake tenant.
func TestEligibleAdminIsProtected(t *testing.T) {
	s := bottest.New(t, bottest.Options{})
	hana := bot.Caller{Platform: "web", ChatID: "hana", ObjectID: s.UserID(t, "hana.helpdesk")}
	ctx := context.Background()
	for _, tc := range []struct {
		local   string
		refused bool
	}{{"erin.eligible", true}, {"ada.admin", true}, {"mfatest1", false}} {
		f := bot.FormSubmission{Action: "revoke", Target: s.UserID(t, tc.local), Reason: "suspected account takeover", Verification: "in_person_id", VerificationDetail: "badge at the desk", Ticket: "INC-9"}
		m := s.Router.Submit(ctx, hana, f)
		if m.Refusal != tc.refused {
			t.Errorf("%s: refusal %v (%q), want %v", tc.local, m.Refusal, m.Text, tc.refused)
		}
		if tc.refused && !strings.Contains(strings.ToLower(m.Text), "protected") && !strings.Contains(m.Text, "Administrator") {
			t.Errorf("%s: refusal does not say why: %q", tc.local, m.Text)
		}
	}
}
