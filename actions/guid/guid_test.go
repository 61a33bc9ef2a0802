package guid

import "testing"

func TestValidAndCanonical(t *testing.T) {
	cases := []struct {
		in        string
		valid     bool
		canonical string
		canonOK   bool
	}{
		{"6f1c1a52-4a43-4c5c-9c4b-1f7f3c2b9a10", true, "6f1c1a52-4a43-4c5c-9c4b-1f7f3c2b9a10", true},
		{"6F1C1A52-4A43-4C5C-9C4B-1F7F3C2B9A10", true, "6f1c1a52-4a43-4c5c-9c4b-1f7f3c2b9a10", true},
		{" 6f1c1a52-4a43-4c5c-9c4b-1f7f3c2b9a10 ", false, "6f1c1a52-4a43-4c5c-9c4b-1f7f3c2b9a10", true},
		{"6f1c1a52-4a43-4c5c-9c4b-1f7f3c2b9a1", false, "6f1c1a52-4a43-4c5c-9c4b-1f7f3c2b9a1", false},
		{"6f1c1a52-4a43-4c5c-9c4b-1f7f3c2b9a1g", false, "6f1c1a52-4a43-4c5c-9c4b-1f7f3c2b9a1g", false},
		{"6f1c1a52x4a43-4c5c-9c4b-1f7f3c2b9a10", false, "6f1c1a52x4a43-4c5c-9c4b-1f7f3c2b9a10", false},
		{"{6f1c1a52-4a43-4c5c-9c4b-1f7f3c2b9a1}", false, "{6f1c1a52-4a43-4c5c-9c4b-1f7f3c2b9a1}", false},
		{"", false, "", false},
		{"botframework.com", false, "botframework.com", false},
		// A Kelvin sign lower-cases to k, which is still not hex; a length check on the
		// lowered string must not let non-ASCII through.
		{"6f1c1a52-4a43-4c5c-9c4b-1f7f3c2b9a\u212a", false, "6f1c1a52-4a43-4c5c-9c4b-1f7f3c2b9ak", false},
	}
	for _, c := range cases {
		if got := Valid(c.in); got != c.valid {
			t.Errorf("Valid(%q) = %v, want %v", c.in, got, c.valid)
		}
		got, ok := Canonical(c.in)
		if got != c.canonical || ok != c.canonOK {
			t.Errorf("Canonical(%q) = %q, %v; want %q, %v", c.in, got, ok, c.canonical, c.canonOK)
		}
	}
}
