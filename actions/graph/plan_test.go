package graph_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

const (
	officeID = "e37fc753-ff3b-4958-9484-eaa9425c82bc"
	planAuth = "microsoftAuthenticatorMethods/7d9f2c1e-0000-4000-8000-00000000a001"
	planOath = "softwareOathMethods/7d9f2c1e-0000-4000-8000-00000000a002"
	planMob  = "phoneMethods/" + mobileID
	planAlt  = "phoneMethods/" + altID
	planOff  = "phoneMethods/" + officeID
)

// everyMethod gives olive.optin every second factor a re-register deletes, with pref
// as her default (nil for none).
func everyMethod(pref any, disabled ...string) func(*graphtest.Tenant) {
	return func(tn *graphtest.Tenant) {
		tn.DisabledPreferences = disabled
		u := tn.FindUser(tn.Email("olive.optin"))
		u.Methods = []map[string]any{
			{"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "28c10230-6103-485e-b985-444c60001490", "password": nil},
			{"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "id": "7d9f2c1e-0000-4000-8000-00000000a001", "displayName": "Pixel 8", "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.2401.0101"},
			{"@odata.type": "#microsoft.graph.softwareOathAuthenticationMethod", "id": "7d9f2c1e-0000-4000-8000-00000000a002"},
			{"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": mobileID, "phoneNumber": "+1 4255550101", "phoneType": "mobile", "smsSignInState": "notEnabled"},
			{"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": altID, "phoneNumber": "+1 4255550102", "phoneType": "alternateMobile", "smsSignInState": "notSupported"},
			{"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": officeID, "phoneNumber": "+1 4255550103", "phoneType": "office", "smsSignInState": "notSupported"},
		}
		u.SignInPreferences = map[string]any{"isSystemPreferredAuthenticationMethodEnabled": false, "userPreferredMethodForSecondaryAuthentication": pref}
		if u.Registration == nil {
			u.Registration = map[string]any{}
		}
		u.Registration["userPreferredMethodForSecondaryAuthentication"] = "none"
		if pref != nil {
			u.Registration["userPreferredMethodForSecondaryAuthentication"] = pref
		}
	}
}

// patches lists the sign-in preference PATCH bodies the fake received since from.
func patches(fake *graphtest.Server, from int) []string {
	var out []string
	for _, r := range fake.Records()[from:] {
		if r.Method == http.MethodPatch {
			out = append(out, string(r.Body))
		}
	}
	return out
}

// TestReregisterPlanPerDefault: for each default second factor, the whole deletion is
// planned before the first write, in an order Graph accepts (the fake refuses any other
// with Graph's errors): every method is deleted and sessions revoked, or, when the plan
// cannot complete, nothing is deleted and one sentence says why.
func TestReregisterPlanPerDefault(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*graphtest.Tenant)
		types    []actions.MethodType
		setPref  string   // the PATCHed default, "" for none
		order    []string // DELETEs in order
		left     int      // methods left besides the password
		refusal  string   // for a plan that cannot complete
		leftPref string
	}{
		{name: "mobile", edit: everyMethod("sms"), order: []string{planAuth, planOath, planOff, planAlt, planMob}},
		{name: "alternate mobile", edit: everyMethod("voiceAlternateMobile"), setPref: "voiceMobile", order: []string{planAuth, planOath, planOff, planAlt, planMob}},
		{name: "office phone", edit: everyMethod("voiceOffice"), order: []string{planAuth, planOath, planAlt, planMob, planOff}},
		{name: "authenticator push", edit: everyMethod("push"), order: []string{planOath, planOff, planAlt, planMob, planAuth}},
		{name: "oath", edit: everyMethod("oath"), order: []string{planAuth, planOff, planAlt, planMob, planOath}},
		{name: "none", edit: everyMethod(nil), order: []string{planAuth, planOath, planOff, planAlt, planMob}},
		// Only phones are deleted: the kept Authenticator becomes the default first.
		{name: "phone default, Authenticator kept", edit: everyMethod("voiceAlternateMobile"), types: []actions.MethodType{actions.MethodPhone},
			setPref: "push", order: []string{planOff, planAlt, planMob}, left: 2},
		// The policy allows neither voice nor text to the mobile: no order completes.
		{name: "alternate mobile, policy refuses the mobile", edit: everyMethod("voiceAlternateMobile", "voiceMobile", "sms"),
			left: 5, refusal: "Nothing was deleted: Graph deletes the default method only last, so the default had to move to mobile +1 425•••••01 first, and that failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fake := fakeTenant(t, tt.edit, graph.Config{ReregisterTypes: tt.types})
			id := idOf(t, fake, "olive.optin")
			snap := approvedSnapshot(t, c, id)
			from := len(fake.Records())
			var heard []actions.Step
			deleted := 0
			res, err := c.Reregister(context.Background(), id, snap, func(s actions.Step) {
				heard = append(heard, s)
				// Heard as it happens: this deletion done, the next not yet sent.
				if s.Outcome == actions.OutcomeDeleted {
					deleted++
				}
				if n := len(deletes(fake, from)); n != deleted && s.Outcome == actions.OutcomeDeleted {
					t.Errorf("on step %s: %d DELETEs sent, %d deletions heard", s, n, deleted)
				}
			})
			if got := deletes(fake, from); strings.Join(got, " ") != strings.Join(tt.order, " ") {
				t.Errorf("deleted\n %v\nwant\n %v", got, tt.order)
			}
			if got := methodTypes(fake, "olive.optin"); len(got) != tt.left+1 {
				t.Errorf("left %v, want %d besides the password", got, tt.left)
			}
			want := ""
			if tt.setPref != "" {
				want = `{"userPreferredMethodForSecondaryAuthentication":"` + tt.setPref + `"}`
			}
			if tt.refusal != "" {
				want = `{"userPreferredMethodForSecondaryAuthentication":"voiceMobile"}`
			}
			if got := strings.Join(patches(fake, from), " "); got != want {
				t.Errorf("PATCHed %q, want %q", got, want)
			}
			if len(heard) != len(res.Steps) {
				t.Errorf("onStep heard %d steps, the result has %d", len(heard), len(res.Steps))
			}
			for i := range heard {
				if i < len(res.Steps) && heard[i].String() != res.Steps[i].String() {
					t.Errorf("onStep %d = %s, result step %s", i, heard[i], res.Steps[i])
				}
			}
			if tt.refusal != "" {
				if err == nil || !strings.HasPrefix(res.Summary, tt.refusal) || strings.Contains(res.Summary, "\n") {
					t.Fatalf("err %v, summary %q; want the refusal %q", err, res.Summary, tt.refusal)
				}
				if !strings.Contains(res.Summary, "does not allow 'voiceMobile'") {
					t.Errorf("summary %q does not give Graph's reason", res.Summary)
				}
				for _, s := range res.Steps {
					if s.Outcome == actions.OutcomeDeleted || s.Outcome == actions.OutcomeDone {
						t.Errorf("refused plan still did %s", s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, strings.Join(outcomes(res), "\n"))
			}
			last := res.Steps[len(res.Steps)-1]
			if last.Action != "revoke sessions" || last.Outcome != actions.OutcomeDone || res.Failed() {
				t.Errorf("steps %v", outcomes(res))
			}
		})
	}
}

// TestPlanReregisterUnknownDefault: with the default unreadable, a user with both a
// mobile and an alternate mobile phone cannot be planned safely: the plan refuses.
func TestPlanReregisterUnknownDefault(t *testing.T) {
	c, fake := fakeTenant(t, everyMethod("voiceAlternateMobile"), graph.Config{})
	id := idOf(t, fake, "olive.optin")
	snap := approvedSnapshot(t, c, id)
	fake.SetFaults(graphtest.Faults{Forbidden: []string{"/signInPreferences", "/reports/"}})
	from := len(fake.Records())
	res, err := c.Reregister(context.Background(), id, snap, nil)
	if err == nil || !strings.Contains(res.Summary, "could not be read") || !strings.Contains(res.Summary, "nothing was deleted") {
		t.Fatalf("err %v, summary %q", err, res.Summary)
	}
	if d := deletes(fake, from); len(d) != 0 {
		t.Errorf("deleted %v", d)
	}
}

// TestReregisterRemovedMethod: a method the approver approved deleting that was removed
// out of band before execution does not make the request stale: the run goes on and the
// result names it as already gone. An added method still stops it (TestReregisterStale).
func TestReregisterRemovedMethod(t *testing.T) {
	c, fake := fakeTenant(t, nil, graph.Config{})
	id := idOf(t, fake, "olive.optin")
	snap := approvedSnapshot(t, c, id)
	fake.Tenant(func(tn *graphtest.Tenant) {
		u := tn.FindUser(id)
		for i, m := range u.Methods {
			if m["id"] == altID {
				u.Methods = append(u.Methods[:i:i], u.Methods[i+1:]...)
				break
			}
		}
	})
	res, err := c.Reregister(context.Background(), id, snap, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(outcomes(res), "\n"))
	}
	var gone []string
	for _, s := range res.Steps {
		if s.Outcome == actions.OutcomeAlreadyGone {
			gone = append(gone, s.Method.ID)
		}
	}
	if len(gone) != 1 || gone[0] != altID {
		t.Errorf("already gone %v, want the alternate mobile; steps %v", gone, outcomes(res))
	}
	if !strings.Contains(res.Summary, "1 already gone (alternate mobile +44 770•••••56)") {
		t.Errorf("summary %q does not name the method that was already gone", res.Summary)
	}
	if got := methodTypes(fake, "olive.optin"); len(got) != 1 {
		t.Errorf("left %v", got)
	}
}
