package chat

import (
	"strings"

	"github.com/mfadesk/mfadesk/actions"
)

// LinkURLs are the web addresses mfadesk itself writes into its answers. Renderers
// make these, and only these, clickable: an address a user typed (in a request's
// reason, say) stays plain text, so no one can plant a "verify here" link on a card
// that carries mfadesk's name.
var LinkURLs = []string{actions.SecurityInfoURL, "https://aka.ms/mfasetup"}

// Span is a piece of a text: a link (one of LinkURLs) or plain text.
type Span struct {
	Text string
	Link bool
}

// Spans splits s into plain text and the LinkURLs in it. A URL counts only as a
// whole: "https://aka.ms/mfasetup.evil.example" or ".../mfasetupX" stay text, while
// a sentence's full stop or a closing parenthesis after the URL is not part of it.
func Spans(s string) []Span {
	var out []Span
	plain := 0
	for i := 0; i < len(s); {
		u := linkAt(s, i)
		if u == "" {
			i++
			continue
		}
		if plain < i {
			out = append(out, Span{Text: s[plain:i]})
		}
		out = append(out, Span{Text: u, Link: true})
		i += len(u)
		plain = i
	}
	if plain < len(s) {
		out = append(out, Span{Text: s[plain:]})
	}
	return out
}

// linkAt returns the LinkURL that starts at s[i] and ends at a word boundary, or "".
func linkAt(s string, i int) string {
	if s[i] != 'h' || (i > 0 && urlByte(s[i-1])) {
		return ""
	}
	for _, u := range LinkURLs {
		if !strings.HasPrefix(s[i:], u) {
			continue
		}
		rest := s[i+len(u):]
		if rest == "" || (!urlByte(rest[0]) && rest[0] != '.') || (rest[0] == '.' && (len(rest) == 1 || !urlByte(rest[1]))) {
			return u
		}
	}
	return ""
}

// urlByte reports whether b can continue a URL (not counting '.', which may end a
// sentence).
func urlByte(b byte) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		return true
	}
	return strings.IndexByte("/_-?#=&%~+@:", b) >= 0
}
