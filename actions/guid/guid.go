// Package guid is the one check for directory object ids, app ids and tenant ids:
// 8-4-4-4-12 hexadecimal digits. Every package that accepts such an id asks here, so
// "is this a GUID" has one answer.
package guid

import "strings"

// Canonical returns s trimmed and lower-cased and whether it is a well-formed GUID.
// Policy compares only canonical ids, so "ABC…" and "abc…" are the same object.
func Canonical(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	return s, Valid(s)
}

// Valid says whether s, exactly as given (no trimming), is a GUID in either case.
func Valid(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
