package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// TestObjectIDByEmail: mapping a chat email reads the account and the standing in one
// $batch; a granting standing then serves the next lookup (no standing read), but
// never a request form, nor beyond lookupRolesMaxAge; a refused standing is not kept;
// an email that is no UPN is found as a mail address; an unknown one is KindNotFound.
func TestObjectIDByEmail(t *testing.T) {
	r, fake, hana := lookupRouter(t, func(tn *graphtest.Tenant) {
		// Nora's UPN differs from the email her chat profile shows.
		tn.FindUser(tn.Email("nora.norights")).User["mail"] = "nora@elsewhere.example"
	})
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }
	ctx := context.Background()
	const diagnose = "diagnose mfatest2@mfademo.example"

	before := fake.Requests()
	id, err := r.ObjectIDByEmail(ctx, "hana.helpdesk@mfademo.example")
	if err != nil || id != hana.ObjectID {
		t.Fatalf("mapped to %q, %v; want %s", id, err, hana.ObjectID)
	}
	if n := fake.Requests() - before; n != 1 {
		t.Errorf("mapping: %d Graph requests, want 1", n)
	}
	before = fake.Requests()
	if m := r.Handle(ctx, Event{Caller: hana, Text: diagnose}); m.Refusal {
		t.Fatal(m.Text)
	}
	if n := fake.Requests() - before; n != 2 {
		t.Errorf("diagnose after mapping: %d Graph requests, want 2 (the target's name and its evidence)", n)
	}

	// Hana leaves the helpdesk group: a form asks live at once.
	fake.Tenant(func(tn *graphtest.Tenant) { tn.FindUser(tn.Email("hana.helpdesk")).MemberOf = nil })
	if _, err := r.ObjectIDByEmail(ctx, "hana.helpdesk@mfademo.example"); err != nil {
		t.Fatal(err)
	}
	if m := r.Handle(ctx, Event{Caller: hana, Text: diagnose}); !m.Refusal {
		t.Errorf("a refused standing at mapping was kept: %s", m.Title)
	}

	fake.Tenant(func(tn *graphtest.Tenant) {
		tn.FindUser(tn.Email("hana.helpdesk")).MemberOf = []string{tn.GroupID("mfadesk-helpdesk")}
	})
	if _, err := r.ObjectIDByEmail(ctx, "hana.helpdesk@mfademo.example"); err != nil {
		t.Fatal(err)
	}
	fake.Tenant(func(tn *graphtest.Tenant) { tn.FindUser(tn.Email("hana.helpdesk")).MemberOf = nil })
	if m := r.Handle(ctx, Event{Caller: hana, Text: "revoke mfatest2@mfademo.example"}); !m.Refusal {
		t.Errorf("a request form used the standing kept at mapping")
	}
	fake.Tenant(func(tn *graphtest.Tenant) {
		tn.FindUser(tn.Email("hana.helpdesk")).MemberOf = []string{tn.GroupID("mfadesk-helpdesk")}
	})
	if _, err := r.ObjectIDByEmail(ctx, "hana.helpdesk@mfademo.example"); err != nil {
		t.Fatal(err)
	}
	fake.Tenant(func(tn *graphtest.Tenant) { tn.FindUser(tn.Email("hana.helpdesk")).User["accountEnabled"] = false })
	now = now.Add(lookupRolesMaxAge)
	if m := r.Handle(ctx, Event{Caller: hana, Text: diagnose}); !m.Refusal || !strings.Contains(m.Text, "disabled") {
		t.Errorf("the standing kept at mapping outlived %s: %+v", lookupRolesMaxAge, m)
	}

	for _, tt := range []struct {
		email string
		kind  actions.ErrorKind
		ok    bool
	}{
		{"nora@elsewhere.example", 0, true},
		{"nobody@mfademo.example", actions.KindNotFound, false},
	} {
		id, err := r.ObjectIDByEmail(ctx, tt.email)
		if tt.ok != (err == nil && id != "") || (!tt.ok && actions.KindOf(err) != tt.kind) {
			t.Errorf("%s: %q, %v", tt.email, id, err)
		}
	}
}
