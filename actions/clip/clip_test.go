package clip

import (
	"testing"
	"unicode/utf8"
)

func TestRunes(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 5, "hello"},
		{"hello", 4, "hel…"},
		{"hello", 1, "…"},
		{"héllo wörld", 4, "hél…"},
		{"日本語のテキスト", 4, "日本語…"},
		{"日本語", 3, "日本語"},
		{"👩‍💻👩‍💻", 2, "👩…"},
		{"", 3, ""},
	}
	for _, c := range cases {
		got := Runes(c.in, c.n)
		if got != c.want || !utf8.ValidString(got) || utf8.RuneCountInString(got) > max(c.n, 1) {
			t.Errorf("Runes(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestBytes(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"日本語", 4, "日"}, // 3 bytes per rune: 4 would cut the second in two
		{"日本語", 6, "日本"},
		{"é", 1, ""},
		{"abc", 0, ""},
	}
	for _, c := range cases {
		got := Bytes(c.in, c.n)
		if got != c.want || !utf8.ValidString(got) || len(got) > c.n && got != c.in {
			t.Errorf("Bytes(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
