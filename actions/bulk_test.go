package actions

import "testing"

func TestReregisterSkip(t *testing.T) {
	read := SourceUser | SourceMethods | SourcePerUserMFA
	phone := Method{ID: "3179e48a-750b-4051-897c-87b9720928f7", Type: MethodPhone, PhoneType: "mobile"}
	fido := Method{ID: "f1", Type: MethodFido2}
	for _, tc := range []struct {
		name string
		ev   Evidence
		want string
	}{
		{"phone, per-user MFA disabled", Evidence{Query: Query{Sources: read}, PerUserMFA: "disabled", Methods: []Method{phone}}, ""},
		{"per-user MFA enabled", Evidence{Query: Query{Sources: read}, PerUserMFA: "enabled", Methods: []Method{phone}}, SkipPerUserMFA},
		{"per-user MFA enforced", Evidence{Query: Query{Sources: read}, PerUserMFA: "enforced", Methods: []Method{phone}}, SkipPerUserMFA},
		{"only a FIDO2 key", Evidence{Query: Query{Sources: read}, PerUserMFA: "disabled", Methods: []Method{fido}}, SkipNoMethods},
		{"no methods", Evidence{Query: Query{Sources: read}, PerUserMFA: "disabled"}, SkipNoMethods},
		{"guest", Evidence{Query: Query{Sources: read}, PerUserMFA: "disabled", User: User{UserType: "Guest"}, Methods: []Method{phone}}, SkipGuest},
		{"per-user MFA unread", Evidence{Query: Query{Sources: SourceUser | SourceMethods}, Methods: []Method{phone}}, SkipUnreadable},
		{"methods unread", Evidence{Query: Query{Sources: SourceUser | SourcePerUserMFA}, PerUserMFA: "disabled"}, SkipUnreadable},
	} {
		if got := ReregisterSkip(tc.ev, DefaultReregisterTypes()); got != tc.want {
			t.Errorf("%s: ReregisterSkip = %q, want %q", tc.name, got, tc.want)
		}
	}
}
