package main

import "github.com/mfadesk/mfadesk/approvals"

// evidenceMinimums turns the configured evidence minimums into the policy's, or
// returns def when none are configured. Unknown actions or values are left for the
// policy to refuse at start, naming them.
func evidenceMinimums(cfg map[string]string, def map[approvals.Action]approvals.Minimum) map[approvals.Action]approvals.Minimum {
	if len(cfg) == 0 {
		return def
	}
	out := make(map[approvals.Action]approvals.Minimum, len(cfg))
	for a, m := range cfg {
		out[approvals.Action(a)] = approvals.Minimum(m)
	}
	return out
}
