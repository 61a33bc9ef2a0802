package actions

import "regexp"

// phoneRun is a run of 7 or more digits with the separators people type in numbers.
var phoneRun = regexp.MustCompile(`\+?\d[\d ().\-]{5,}\d`)

var isoDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// MaskPhones masks, with MaskPhone, every phone-number-like run (7 or more digits,
// with the separators people type) in free text: an agent who verified a caller by
// calling back may well type the number into a reason or a justification, and such
// text is stored, hashed into the audit chain and posted to channels. Dates written
// as 2025-03-01 are left alone.
func MaskPhones(s string) string {
	return phoneRun.ReplaceAllStringFunc(s, func(m string) string {
		digits := 0
		for _, r := range m {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if digits < 7 || isoDate.MatchString(m) {
			return m
		}
		return MaskPhone(m)
	})
}
