package slack

import (
	"sync"
	"testing"
)

// Callers the adapter refuses itself never reach the router, so the router's own
// counts miss them: OnRefused reports each one with its reason.
func TestOnRefusedCountsCallersRefusedBeforeRouting(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	h := newHarness(t, ModeHTTP, func(o *Options) {
		o.OnRefused = func(reason string) { mu.Lock(); got[reason]++; mu.Unlock() }
	})
	h.fake.addUser("U0EVE", "eve@contoso.com", func(u map[string]any) { u["is_restricted"] = true })

	// Another workspace: refused in the ack.
	v, _ := h.slashForm(userHana, "user alice@contoso.com")
	v.Set("team_id", "T0EVIL")
	h.serve(h.signed("/slack/commands", []byte(v.Encode())))
	// A guest: refused after the ack, when the identity is resolved.
	_, ru := h.slash("U0EVE", "user alice@contoso.com")
	h.fake.waitResponses(ru, 1)
	// A member: not refused.
	_, ru = h.slash(userHana, "user alice@contoso.com")
	h.fake.waitResponses(ru, 1)

	mu.Lock()
	defer mu.Unlock()
	if got["workspace"] != 1 || got["identity"] != 1 || len(got) != 2 {
		t.Fatalf("refusals counted %v, want workspace 1 and identity 1", got)
	}
}
