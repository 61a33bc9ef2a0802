package teams

import (
	"testing"

	"github.com/mfadesk/mfadesk/bot/teams/teamstest"
)

// The fake issuer can't import this package (its tests would form a cycle), so it
// names the issuer itself; the two must agree.
func TestFakeIssuerNamesTheRealIssuer(t *testing.T) {
	if teamstest.BotFrameworkIssuer != BotFrameworkIssuer {
		t.Fatalf("teamstest issues %q, the adapter expects %q", teamstest.BotFrameworkIssuer, BotFrameworkIssuer)
	}
}
