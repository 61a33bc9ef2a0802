package bot

import (
	"strings"
	"testing"
)

func TestMaskPhones(t *testing.T) {
	tests := map[string]string{
		"called +1 425 555 0199 ok": "+1 425",
		"ticket INC-1234 at 10:30":  "INC-1234 at 10:30",
		"2026-11-22":                "2026-11-22",
	}
	for in, keep := range tests {
		got := maskPhones(in)
		if !strings.Contains(got, keep) || strings.Contains(got, "555 0199") {
			t.Errorf("maskPhones(%q) = %q", in, got)
		}
	}
}
