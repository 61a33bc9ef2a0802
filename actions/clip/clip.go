// Package clip shortens text without cutting a UTF-8 sequence in two. Every bound
// on free text (chat limits, error messages that quote input, stored fields) goes
// through here, so no caller slices a string at a byte offset.
package clip

import "unicode/utf8"

// Runes returns s if it has at most n code points; otherwise its first n-1 code
// points and "…", so the result never exceeds n code points (chat platforms count
// code points).
func Runes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return "…"
	}
	i, k := 0, 0
	for k < n-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		k++
	}
	return s[:i] + "…"
}

// Bytes returns the longest prefix of s of at most n bytes that ends on a rune
// boundary, with no marker: for stored fields with a byte budget.
func Bytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
