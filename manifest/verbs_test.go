package manifest

import (
	"testing"

	"github.com/mfadesk/mfadesk/bot"
)

// Both manifests list the bot's verbs from bot.Verbs, so a new verb reaches them.
func TestManifestsListTheBotsVerbs(t *testing.T) {
	const want = "help | user|methods|status|signins|audit|diagnose|reregister|revoke <user> | pending | show|cancel <id>"
	if got := slackUsageHint(); got != want {
		t.Errorf("Slack usage hint %q, want %q", got, want)
	}
	tv, bv := teamsVerbs(), bot.Verbs()
	if len(tv) != len(bv) {
		t.Fatalf("Teams menus list %d verbs, the bot has %d", len(tv), len(bv))
	}
	for i := range bv {
		if tv[i] != bv[i] {
			t.Errorf("Teams verb %d is %q, the bot's is %q", i, tv[i], bv[i])
		}
	}
}
