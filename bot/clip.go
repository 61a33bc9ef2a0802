package bot

import (
	"unicode"

	textclip "github.com/mfadesk/mfadesk/actions/clip"
)

// clip keeps n code points of s and marks a cut with "…" (the rule is textclip's).
func clip(s string, n int) string { return textclip.Runes(s, n+1) }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
