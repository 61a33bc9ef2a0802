package actions

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mfadesk/mfadesk/actions/clip"
	"github.com/mfadesk/mfadesk/actions/guid"
)

// RefKind says how a user was named in chat.
type RefKind int

const (
	// RefObjectID is a directory object id (a GUID).
	RefObjectID RefKind = iota + 1
	// RefUPN is a user principal name or a mail address; both look like local@domain.
	RefUPN
)

// UserRef is a validated user reference: safe to put into a URL path segment or,
// through Quote, into an OData $filter literal.
type UserRef struct {
	Kind  RefKind
	Value string
}

func (r UserRef) String() string { return r.Value }

var (
	// The local part allows what Entra allows in a UPN (letters, digits and
	// ' . - _ ! # ^ ~ +) plus guest UPNs' #EXT#. The domain is DNS labels.
	// Anything else (spaces, quotes other than ', parentheses, slashes, %) is refused
	// before it can reach a URL or a $filter.
	upnRe = regexp.MustCompile(`^[A-Za-z0-9'._\-!#^~+&]{1,113}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`)
)

// ParseUserRef validates how a chat user named a directory user: a UPN, a mail
// address or an object id. Slack wraps mail addresses as <mailto:a@b|a@b>; that
// form is unwrapped.
func ParseUserRef(s string) (UserRef, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "<mailto:") && strings.HasSuffix(s, ">") {
		inner := strings.TrimSuffix(strings.TrimPrefix(s, "<mailto:"), ">")
		if i := strings.IndexByte(inner, '|'); i >= 0 {
			inner = inner[:i]
		}
		s = inner
	}
	switch {
	case s == "":
		return UserRef{}, fmt.Errorf("no user given: name them by UPN, mail or object id")
	case guid.Valid(s):
		return UserRef{Kind: RefObjectID, Value: strings.ToLower(s)}, nil
	case len(s) <= 256 && upnRe.MatchString(s) && !strings.Contains(s, ".."):
		return UserRef{Kind: RefUPN, Value: s}, nil
	default:
		return UserRef{}, fmt.Errorf("%q is not a UPN, mail address or object id", clip.Runes(s, 65))
	}
}

// Quote renders s as an OData string literal: single quotes doubled, wrapped in quotes.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
