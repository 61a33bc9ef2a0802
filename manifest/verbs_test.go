package manifest

import (
	"testing"

	"github.com/mfadesk/mfadesk/bot"
)

// Both manifests list the bot's verbs from bot.Verbs, so a new verb reaches them.
func TestManifestsListTheBotsVerbs(t *testing.T) {
	const want = "help | user|methods|status|signins|audit|diagnose|reregister|revoke|tap|verify|unfreeze <user> | me|pending | show|cancel|attest <id>"
	if got := slackUsageHint(); got != want {
		t.Errorf("Slack usage hint %q, want %q", got, want)
	}
	// Teams lists every verb it has room for (the schema allows 12), in the bot's order.
	tv, bv := teamsVerbs(), bot.Verbs()
	menu := 0
	for _, v := range bv {
		if !typedOnly[v] {
			menu++
		}
	}
	if len(tv) != min(teamsMenuMax, menu) {
		t.Fatalf("Teams menus list %d verbs, the bot has %d", len(tv), len(bv))
	}
	j := 0
	for _, v := range bv {
		if j < len(tv) && tv[j] == v {
			j++
		}
	}
	if j != len(tv) {
		t.Errorf("Teams verbs %v are not the bot's %v in order", tv, bv)
	}
}
