package actions

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mfadesk/mfadesk/actions/guid"
)

func TestParseUserRef(t *testing.T) {
	tests := []struct {
		in   string
		kind RefKind
		want string
	}{
		{"mfatest2@contoso.com", RefUPN, "mfatest2@contoso.com"},
		{"  o'neil@contoso.com ", RefUPN, "o'neil@contoso.com"},
		{"<mailto:a.b@contoso.com|a.b@contoso.com>", RefUPN, "a.b@contoso.com"},
		{"guest_fabrikam.com#EXT#@contoso.onmicrosoft.com", RefUPN, "guest_fabrikam.com#EXT#@contoso.onmicrosoft.com"},
		{"5A1B0001-0000-4000-8000-000000000002", RefObjectID, "5a1b0001-0000-4000-8000-000000000002"},
		{"", 0, ""},
		{"bob", 0, ""},
		{"bob@@contoso.com", 0, ""},
		{"a@b.co' or 1 eq 1", 0, ""},
		{"a b@contoso.com", 0, ""},
		{"a@contoso..com", 0, ""},
		{"../users@contoso.com", 0, ""},
		{"a%27@contoso.com", 0, ""},
		{"a@b.co)", 0, ""},
	}
	for _, tt := range tests {
		r, err := ParseUserRef(tt.in)
		if tt.kind == 0 {
			if err == nil {
				t.Errorf("ParseUserRef(%q) = %+v, want refused", tt.in, r)
			}
			continue
		}
		if err != nil || r.Kind != tt.kind || r.Value != tt.want {
			t.Errorf("ParseUserRef(%q) = %+v, %v", tt.in, r, err)
		}
	}
}

// FuzzParseUserRef: whatever is typed, an accepted reference is a GUID or a UPN-shaped
// value with nothing that can break out of a URL path segment or an OData literal
// (quotes are only ever doubled by Quote), and parsing it again gives the same result.
func FuzzParseUserRef(f *testing.F) {
	for _, s := range []string{"a@b.co", "o'neil@contoso.com", "5a1b0001-0000-4000-8000-000000000002", "<mailto:x@y.z|x@y.z>",
		"a@b.co' or 'a' eq 'a", "a/b@c.de", "%2e%2e@x.y", "a@b.co\x00", "é@b.co", "a@b.co?$select=*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseUserRef(s)
		if err != nil {
			if r != (UserRef{}) {
				t.Fatalf("refused %q but returned %+v", s, r)
			}
			return
		}
		v := r.Value
		if !utf8.ValidString(v) || strings.ContainsAny(v, " \t\r\n/\\?%\"()<>|,;:$*=[]{}`\x00") {
			t.Fatalf("accepted %q as %q", s, v)
		}
		if r.Kind == RefObjectID && !guid.Valid(v) {
			t.Fatalf("object id %q is not a GUID", v)
		}
		if r.Kind == RefUPN && strings.Count(v, "@") != 1 {
			t.Fatalf("UPN %q has %d @", v, strings.Count(v, "@"))
		}
		if again, err := ParseUserRef(v); err != nil || again != r {
			t.Fatalf("re-parse of %q: %+v, %v", v, again, err)
		}
		// Path-escaping the value keeps it one segment.
		if strings.Contains(url.PathEscape(v), "/") {
			t.Fatalf("%q escapes to more than one path segment", v)
		}
		q := Quote(v)
		if strings.Count(q, "'")%2 != 0 || !strings.HasPrefix(q, "'") || !strings.HasSuffix(q, "'") {
			t.Fatalf("Quote(%q) = %q is not one literal", v, q)
		}
	})
}

// The refusal quotes a clipped copy of the input; the cut must fall between runes
// (%q would show half a rune as \x escapes).
func TestParseUserRefQuotesMultibyteInputWhole(t *testing.T) {
	in := "ab" + strings.Repeat("日", 80) // a byte cut at 64 lands mid-rune
	_, err := ParseUserRef(in)
	if err == nil {
		t.Fatal("accepted")
	}
	if !utf8.ValidString(err.Error()) || strings.Contains(err.Error(), `\x`) || !strings.Contains(err.Error(), "…") {
		t.Fatalf("refusal %q is not valid UTF-8 or not clipped", err.Error())
	}
}
