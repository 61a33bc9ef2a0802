package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// A failure a retry cannot fix says what is wrong and who can fix it, never "try
// again" (an outage or throttling still says to retry: actions.Explain).
func TestDirectoryFailuresSayWhoCanFix(t *testing.T) {
	tests := []struct {
		name   string
		faults graphtest.Faults
		caller func(Caller) Caller
		want   []string
	}{
		{"teams caller without aadObjectId", graphtest.Faults{}, func(c Caller) Caller { c.Platform, c.ObjectID = PlatformTeams, ""; return c },
			[]string{"Teams did not say which directory account you are", "work account"}},
		{"graph 403 on the group check", graphtest.Faults{Forbidden: []string{"checkMemberGroups"}}, nil,
			[]string{"Microsoft Graph refused (403)", "GroupMember.Read.All", "administrator must grant it", "trying again will not help"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, fake, hana := lookupRouter(t, nil)
			fake.SetFaults(tt.faults)
			if tt.caller != nil {
				hana = tt.caller(hana)
			}
			m := r.Handle(context.Background(), Event{Caller: hana, Text: "user mfatest2@mfademo.example"})
			// An unlinked caller is refused for who they are; a directory that cannot
			// answer says what could not be done first.
			if !m.Refusal || (tt.caller == nil && !strings.HasPrefix(m.Text, "Your rights could not be checked in the directory, so nothing was done.")) {
				t.Fatalf("answer = %q", m.Text)
			}
			for _, w := range tt.want {
				if !strings.Contains(m.Text, w) {
					t.Errorf("answer lacks %q: %q", w, m.Text)
				}
			}
			if strings.Contains(strings.ToLower(m.Text), "try again") {
				t.Errorf("a failure a retry cannot fix says to try again: %q", m.Text)
			}
		})
	}
}
