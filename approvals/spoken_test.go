package approvals

import (
	"strings"
	"testing"
)

// TestSpokenIDRoundTrip: every way a person may say or type an id shown by SpokenID
// parses back to the same canonical id, and mangled ones still fail.
func TestSpokenIDRoundTrip(t *testing.T) {
	for range 200 {
		id, err := newID()
		if err != nil {
			t.Fatal(err)
		}
		spoken := SpokenID(id)
		if spoken == id || !strings.HasPrefix(spoken, "R-") || strings.Count(spoken, " ") != 6 {
			t.Fatalf("SpokenID(%s) = %q, want R- and 7 groups", id, spoken)
		}
		body := strings.TrimPrefix(spoken, "R-")
		for _, in := range []string{
			spoken,
			strings.ToLower(spoken),
			body,
			strings.ToLower(body),
			strings.ReplaceAll(spoken, " ", "-"),
			strings.ReplaceAll(body, " ", "  "),
			"  r-" + strings.ToLower(body) + "  ",
		} {
			got, err := ParseID(in)
			if err != nil || got != id {
				t.Fatalf("ParseID(%q) = %q, %v; want %s", in, got, err, id)
			}
		}
	}
}

func TestSpokenIDRefusals(t *testing.T) {
	id, _ := newID()
	body := strings.TrimPrefix(SpokenID(id), "R-")
	for _, in := range []string{
		body[:len(body)-1],                 // a group short
		body + " A",                        // a character too many
		strings.Replace(body, " ", ".", 1), // not a separator
		strings.Replace(body, " ", "_", 1),
		"R-" + strings.Repeat("AAAA ", 100),
	} {
		if _, err := ParseID(in); err == nil {
			t.Errorf("ParseID(%q) accepted", in)
		} else {
			requireCode(t, err, ErrInvalid)
		}
	}
	for _, in := range []string{"", "R-ABC", "not an id", id + "X"} {
		if got := SpokenID(in); got != in {
			t.Errorf("SpokenID(%q) = %q, want it unchanged", in, got)
		}
	}
}
