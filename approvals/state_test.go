package approvals

import (
	"errors"
	"testing"
)

func TestStateWordsAndParse(t *testing.T) {
	cases := []struct {
		in   string
		want State
		ok   bool
	}{
		{"succeeded", StateSucceeded, true},
		{"done", StateSucceeded, true},
		{" Done ", StateSucceeded, true},
		{"CANCELLED", StateCancelled, true},
		{"pending", StatePending, true},
		{"bogus", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		got, err := ParseState(c.in)
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("ParseState(%q) = %q, %v", c.in, got, err)
		}
		if !c.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseState(%q): %v is not ErrInvalid", c.in, err)
		}
	}
	// Every state parses back from its word, and only succeeded reads differently.
	for _, s := range States() {
		if p, err := ParseState(s.Word()); err != nil || p != s {
			t.Errorf("state %q: word %q parses to %q, %v", s, s.Word(), p, err)
		}
		if (s.Word() != string(s)) != (s == StateSucceeded) {
			t.Errorf("state %q reads as %q", s, s.Word())
		}
	}
}
