package bot

import (
	"strings"
	"testing"
)

// Validation messages name the limit they enforce (and how far off the answer is),
// and every form carries the same limits for the adapters to show.
func TestFormLimitsNamed(t *testing.T) {
	good := FormSubmission{Action: "reregister", Reason: "Lost phone, locked out", Verification: "video_with_id", VerificationDetail: "badge seen", Ticket: "INC-1"}
	tests := []struct {
		name  string
		edit  func(*FormSubmission)
		field string
		want  string
	}{
		{"short reason", func(f *FormSubmission) { f.Reason = "lost" }, "reason", "at least 10 characters (now 4)"},
		{"long reason", func(f *FormSubmission) { f.Reason = strings.Repeat("x", 501) }, "reason", "at most 500 characters (now 501)"},
		{"short detail", func(f *FormSubmission) { f.VerificationDetail = "ok" }, "verification_detail", "at least 3 characters"},
		{"long detail", func(f *FormSubmission) { f.VerificationDetail = strings.Repeat("x", 501) }, "verification_detail", "at most 500 characters (now 501)"},
		{"long ticket", func(f *FormSubmission) { f.Ticket = strings.Repeat("1", 65) }, "ticket", "2 to 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := good
			tt.edit(&f)
			errs := checkForm(f)
			if got := errs[tt.field]; !strings.Contains(got, tt.want) || len(errs) != 1 {
				t.Fatalf("errors = %v, want %s to say %q", errs, tt.field, tt.want)
			}
		})
	}
	if errs := checkForm(good); errs != nil {
		t.Fatalf("good form refused: %v", errs)
	}
	// The limits are the rule itself: at the edges the form is accepted.
	edge := good
	edge.Reason, edge.VerificationDetail, edge.Ticket = strings.Repeat("r", FormLimit("reason").Max), strings.Repeat("d", FormLimit("verification_detail").Min), "I1"
	if errs := checkForm(edge); errs != nil {
		t.Fatalf("form at the limits refused: %v", errs)
	}
	if h := FormLimit("reason").Hint(); h != "10 to 500 characters" {
		t.Errorf("hint = %q", h)
	}
	lim := formLimits()
	lim["reason"] = FieldLimit{Max: 1}
	if FormLimit("reason").Max != 500 {
		t.Error("a form's limits share the rule's map")
	}
}
