// Package suggest finds the word a person probably meant, for "did you mean …?" hints
// on typed verbs and configuration keys.
package suggest

import "strings"

// Closest returns the option nearest to word by edit distance (case-insensitive), or
// "" when none is within max edits or two options tie: a hint must not guess between
// equals.
func Closest(word string, options []string, max int) string {
	w := strings.ToLower(word)
	best, bestD, tie := "", max+1, false
	for _, o := range options {
		d := Distance(w, strings.ToLower(o))
		switch {
		case d < bestD:
			best, bestD, tie = o, d, false
		case d == bestD && !strings.EqualFold(o, best):
			tie = true
		}
	}
	if tie || bestD > max {
		return ""
	}
	return best
}

// Distance is the Damerau–Levenshtein distance (optimal string alignment): inserts,
// deletes, substitutions and swaps of two neighbours each cost one, so "dignose" is 1
// from "diagnose" and "sigins" 1 from "signins".
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Long inputs are not words anyone typed by mistake; bound the work.
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return 1 << 10
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
