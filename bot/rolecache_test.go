package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// TestLookupReusesRecentStanding: a warm diagnose costs one Graph round trip (the
// evidence $batch): the caller's standing is reused for read-only lookups for at most
// 60 s. Anything else asks live — a caller removed from their group is refused a
// request form at once, and after 60 s the lookups too. A refusal is never reused.
func TestLookupReusesRecentStanding(t *testing.T) {
	r, fake, hana := lookupRouter(t, nil)
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }
	ctx := context.Background()
	const diagnose = "diagnose mfatest2@mfademo.example"
	if m := r.Handle(ctx, Event{Caller: hana, Text: diagnose}); m.Refusal {
		t.Fatal(m.Text)
	}
	before := fake.Requests()
	if m := r.Handle(ctx, Event{Caller: hana, Text: diagnose}); m.Refusal {
		t.Fatal(m.Text)
	}
	if n := fake.Requests() - before; n != 1 {
		t.Errorf("warm diagnose: %d Graph round trips, want 1", n)
	}

	// Hana leaves the helpdesk group.
	fake.Tenant(func(tn *graphtest.Tenant) {
		u := tn.FindUser(tn.Email("hana.helpdesk"))
		u.MemberOf = nil
	})
	now = now.Add(30 * time.Second)
	if m := r.Handle(ctx, Event{Caller: hana, Text: "methods mfatest2@mfademo.example"}); m.Refusal {
		t.Errorf("lookup within 60 s: %s", m.Text)
	}
	if m := r.Handle(ctx, Event{Caller: hana, Text: "revoke mfatest2@mfademo.example"}); !m.Refusal || !strings.Contains(m.Text, "not in the helpdesk or approvers group") {
		t.Errorf("a request form used a cached standing: %+v", m)
	}
	// The live refusal dropped the cached answer: lookups are refused now too.
	if m := r.Handle(ctx, Event{Caller: hana, Text: diagnose}); !m.Refusal {
		t.Errorf("lookup after a live refusal answered: %s", m.Title)
	}

	// Back in the group: admitted at once (a refusal is not cached), then expiry.
	fake.Tenant(func(tn *graphtest.Tenant) {
		u := tn.FindUser(tn.Email("hana.helpdesk"))
		u.MemberOf = []string{tn.GroupID("mfadesk-helpdesk")}
	})
	if m := r.Handle(ctx, Event{Caller: hana, Text: diagnose}); m.Refusal {
		t.Fatalf("re-added caller refused: %s", m.Text)
	}
	fake.Tenant(func(tn *graphtest.Tenant) { tn.FindUser(tn.Email("hana.helpdesk")).User["accountEnabled"] = false })
	now = now.Add(lookupRolesMaxAge)
	if m := r.Handle(ctx, Event{Caller: hana, Text: diagnose}); !m.Refusal || !strings.Contains(m.Text, "disabled") {
		t.Errorf("lookup 60 s later by a disabled caller: %+v", m)
	}
}
