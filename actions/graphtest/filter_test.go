package graphtest

import (
	"testing"

	"github.com/mfadesk/mfadesk/actions"
)

func TestFilter(t *testing.T) {
	signIn := map[string]any{
		"userId": "u1", "createdDateTime": "2026-11-20T10:00:00Z", "userPrincipalName": "o'neil@contoso.com",
		"status":          map[string]any{"errorCode": float64(50126)},
		"targetResources": []any{map[string]any{"id": "u1", "type": "User"}, map[string]any{"id": "g1"}},
	}
	tests := []struct {
		filter string
		want   bool
		bad    bool
	}{
		{filter: "userId eq 'u1'", want: true},
		{filter: "userId eq 'U1'", want: true}, // case-insensitive, as Graph
		{filter: "userId eq 'u2'", want: false},
		{filter: "userId eq 'u1' and createdDateTime ge 2026-11-19T00:00:00Z", want: true},
		{filter: "userId eq 'u1' and createdDateTime ge 2026-11-21T00:00:00Z", want: false},
		{filter: "status/errorCode eq 50126", want: true},
		{filter: "status/errorCode ne 0", want: true},
		{filter: "userPrincipalName eq 'o''neil@contoso.com'", want: true},
		{filter: "targetResources/any(t: t/id eq 'g1')", want: true},
		{filter: "targetResources/any(t: t/id eq 'g2')", want: false},
		{filter: "(userId eq 'x' or userId eq 'u1') and not (status/errorCode eq 0)", want: true},
		{filter: "startswith(userPrincipalName,'o''n')", want: true},
		{filter: "missing eq null", want: true},
		{filter: "userId eq 'u1", bad: true},
		{filter: "userId eq u1", bad: true},
		{filter: "userId contains 'u1'", bad: true},
		{filter: "targetResources/any(t t/id eq 'g1')", bad: true},
		{filter: "userId eq 'u1')", bad: true},
	}
	for _, tt := range tests {
		f, err := ParseFilter(tt.filter)
		if tt.bad {
			if err == nil {
				t.Errorf("%s: parsed, want an error", tt.filter)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.filter, err)
			continue
		}
		if got, err := f.Match(signIn); err != nil || got != tt.want {
			t.Errorf("%s = %v (%v), want %v", tt.filter, got, err, tt.want)
		}
	}
}

// FuzzFilterQuote: whatever a user typed, actions.Quote makes one OData string literal
// that the fake's parser reads back unchanged, so no input can change the filter's shape.
func FuzzFilterQuote(f *testing.F) {
	for _, s := range []string{"a@b.co", "o'neil@contoso.com", "'", "''", "x' or userType eq 'Member", ") or (1 eq 1", "", "é'\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter("mail eq " + actions.Quote(s) + " or userPrincipalName eq " + actions.Quote(s))
		if err != nil {
			t.Fatalf("Quote(%q) did not parse: %v", s, err)
		}
		eq := flt.Equalities()
		if len(eq) != 2 || len(eq["mail"]) != 1 || eq["mail"][0] != s || len(eq["userPrincipalName"]) != 1 || eq["userPrincipalName"][0] != s {
			t.Fatalf("Quote(%q) round-tripped as %q", s, eq)
		}
		if ok, err := flt.Match(map[string]any{"mail": s}); err != nil || !ok {
			t.Fatalf("the literal does not match its own value %q: %v %v", s, ok, err)
		}
	})
}
