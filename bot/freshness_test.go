package bot

import (
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
)

// TestLookupsSayHowFresh: every lookup built on report data (methods, sign-ins,
// audit, status) says when that data was reused or queued, as diagnose does — with
// rows or without, and after the renderer's own note.
func TestLookupsSayHowFresh(t *testing.T) {
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	base := actions.Evidence{
		Query:       actions.Query{Sources: actions.ForDiagnose, SignInDays: 7, AuditDays: 7},
		Taken:       now,
		User:        actions.User{UPN: "ada@example.com", DisplayName: "Ada"},
		ReportsAsOf: now.Add(-12 * time.Second),
		Queued:      3 * time.Second,
	}
	const want = "Report data (registration, sign-ins, audit log) as of 12 s ago. Queued 3 s for Microsoft Graph's report budget."
	withRows := base
	withRows.Methods = []actions.Method{{ID: "m1", Type: actions.MethodAuthenticator}}
	withRows.SignIns = []actions.SignIn{{Time: now, App: "Outlook"}}
	withRows.SignInsMore = true
	withRows.Audits = []actions.AuditEvent{{Time: now, Activity: "User registered security info"}}
	for _, tt := range []struct {
		name   string
		render func(actions.Evidence) Message
		ev     actions.Evidence
	}{
		{"methods", RenderMethods, withRows},
		{"status", RenderStatus, base},
		{"signins", RenderSignIns, withRows},
		{"signins, none", RenderSignIns, base},
		{"audit", RenderAudit, withRows},
		{"audit, none", RenderAudit, base},
	} {
		m := tt.render(tt.ev)
		var notes []string
		for _, s := range m.Sections {
			if s.Note != "" {
				notes = append(notes, s.Note)
			}
		}
		if len(notes) != 1 || !strings.HasSuffix(notes[0], want) {
			t.Errorf("%s: notes %q, want one ending %q", tt.name, notes, want)
		}
	}
	// The renderer's own note stays first.
	if n := RenderSignIns(withRows).Sections[0].Note; !strings.HasPrefix(n, "More sign-ins match") {
		t.Errorf("sign-ins note %q", n)
	}
	// Fresh data adds nothing.
	fresh := withRows
	fresh.ReportsAsOf, fresh.Queued = time.Time{}, 0
	if n := RenderAudit(fresh).Sections[0].Note; n != "" {
		t.Errorf("fresh audit note %q", n)
	}
}
