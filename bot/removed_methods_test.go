package bot

import (
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/approvals"
)

// TestApprovalCardSaysRemovedMethodsRun: the card tells the approver what happens when
// the user's methods change before execution, as the executor does it: an added or
// changed method stops the request, a removed one is reported as already gone.
func TestApprovalCardSaysRemovedMethodsRun(t *testing.T) {
	req := approvals.Request{ID: "r1", Action: approvals.ActionReregister, State: approvals.StatePending,
		Methods: []approvals.MethodRef{{ID: "m1", Type: "phone", Label: "mobile +1 425•••••99"}}}
	msg := RenderApproval(req, nil, func(string) bool { return true })
	var will string
	for _, s := range msg.Sections {
		if s.Heading == "What will run" {
			will = s.Text
		}
	}
	for _, want := range []string{"added or changed before it runs, nothing is deleted", "already removed is reported as already gone"} {
		if !strings.Contains(will, want) {
			t.Errorf("card says %q; want %q", will, want)
		}
	}
}
