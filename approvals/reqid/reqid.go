// Package reqid is the shape of a request id, in a leaf package so that the chat
// adapters can check a button's id without depending on the approvals store.
package reqid

import (
	"encoding/base32"
	"strings"
)

const (
	// Prefix starts every request id.
	Prefix = "R-"
	// Chars is the length of 128 bits in unpadded base32.
	Chars = 26
)

// Encoding is how a request id's 128 random bits are written.
func Encoding() *base32.Encoding { return base32.StdEncoding.WithPadding(base32.NoPadding) }

// Canonical normalises an id as a person might type it (any case, with or without
// "R-", surrounding spaces, or in spoken groups joined by spaces or dashes) and
// returns it in canonical form; ok is false for anything that is not an id.
func Canonical(s string) (id string, ok bool) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimPrefix(t, Prefix)
	if len(t) <= 2*Chars {
		// Group separators only: the canonical check below still refuses anything else.
		t = strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' || r == '\t' {
				return -1
			}
			return r
		}, t)
	}
	if len(t) == Chars {
		if b, err := Encoding().DecodeString(t); err == nil && len(b) == 16 &&
			Encoding().EncodeToString(b) == t {
			return Prefix + t, true
		}
	}
	return "", false
}
