package actions

import (
	"strings"
	"testing"
)

// The codes a helpdesk meets most must all be explained: a missing one falls back to
// Graph's raw wording, which is what the table exists to avoid.
func TestSignInErrorTable(t *testing.T) {
	must := []int{50074, 50076, 50079, 500121, 50126, 50053, 50055, 50057, 50058, 50097, 50105, 50158, 53003, 530032, 70043, 700016, 7000112, 90072}
	for _, c := range must {
		if _, ok := SignInErrorOf(c); !ok {
			t.Errorf("code %d is not in the table", c)
		}
	}
	if len(signInErrors) < 40 {
		t.Errorf("the table explains %d codes, want at least 40", len(signInErrors))
	}
	for code, e := range signInErrors {
		switch {
		case e.Code != code:
			t.Errorf("%d: entry says code %d", code, e.Code)
		case strings.TrimSpace(e.Meaning) == "" || strings.HasSuffix(e.Meaning, "."):
			t.Errorf("%d: meaning %q must be plain words without a final full stop", code, e.Meaning)
		case strings.TrimSpace(e.Next) == "" || !strings.HasSuffix(e.Next, "."):
			t.Errorf("%d: next step %q must be a sentence", code, e.Next)
		}
	}
}

func TestSignInReason(t *testing.T) {
	tests := []struct {
		name string
		in   SignIn
		want string
	}{
		{"known code: plain words, not Graph's text", SignIn{ErrorCode: 50126, FailureReason: "Invalid username or password or Invalid on-premise username or password."}, "wrong user name or password"},
		{"unknown code: Graph's raw reason", SignIn{ErrorCode: 999999, FailureReason: "Something new happened."}, "Something new happened"},
		{"unknown code, no reason", SignIn{ErrorCode: 999998}, "error 999998"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SignInReason(tt.in); got != tt.want {
				t.Errorf("SignInReason = %q, want %q", got, tt.want)
			}
		})
	}
	got := SignInErrorsIn([]SignIn{{ErrorCode: 50126}, {ErrorCode: 999999}, {ErrorCode: 500121}, {ErrorCode: 50126}, {}})
	if len(got) != 2 || got[0].Code != 50126 || got[1].Code != 500121 {
		t.Errorf("SignInErrorsIn = %+v, want 50126 then 500121 once each", got)
	}
}
