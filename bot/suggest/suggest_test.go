package suggest

import "testing"

func TestClosest(t *testing.T) {
	verbs := []string{"help", "user", "methods", "status", "signins", "audit", "diagnose", "reregister", "revoke", "pending", "show", "cancel"}
	tests := []struct {
		word string
		max  int
		want string
	}{
		{"dignose", 2, "diagnose"},
		{"DIAGNSOE", 2, "diagnose"},
		{"sigins", 2, "signins"},
		{"revok", 2, "revoke"},
		{"pendnig", 2, "pending"},
		{"xyzzy", 2, ""},   // nothing close
		{"shw", 1, "show"}, // one edit
		{"rm", 2, ""},      // too far from everything
		{"clientsecret", 2, "client_secret"},
	}
	for _, tt := range tests {
		opts := verbs
		if tt.want == "client_secret" {
			opts = []string{"client_id", "client_secret", "tenant_id"}
		}
		if got := Closest(tt.word, opts, tt.max); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
	// Two options equally near: no guess.
	if got := Closest("cat", []string{"bat", "hat"}, 2); got != "" {
		t.Errorf("tie guessed %q", got)
	}
}
