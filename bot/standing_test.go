package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// TestRightsUncheckableSaysWhy: when the directory refuses to say whether the caller
// may act (403 on the membership check), the answer names that, fails closed, and
// reads nothing else.
func TestRightsUncheckableSaysWhy(t *testing.T) {
	r, fake, hana := lookupRouter(t, nil)
	fake.SetFaults(graphtest.Faults{Forbidden: []string{"checkMemberGroups"}})
	before := fake.Requests()
	m := r.Handle(context.Background(), Event{Caller: hana, Text: "methods mfatest2@mfademo.example"})
	if !m.Refusal || !strings.Contains(m.Text, "Your rights could not be checked") || !strings.Contains(m.Text, "Microsoft Graph refused (403)") {
		t.Fatalf("got %+v", m)
	}
	// The caller's account and the refused membership check; no lookup of the target.
	if n := fake.Requests() - before; n != 2 {
		t.Errorf("%d Graph requests, want 2", n)
	}
}
