package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
)

// addAffected adds n copies of mfatest1 (an Authenticator, per-user MFA disabled) to
// the tenant, as the users of a rollback would be, and returns their object ids.
func addAffected(tn *graphtest.Tenant, n int) []string {
	tmpl := tn.FindUser(tn.Email("mfatest1"))
	raw, _ := json.Marshal(tmpl)
	var ids []string
	for i := 0; i < n; i++ {
		var u graphtest.TenantUser
		_ = json.Unmarshal(raw, &u)
		id := fmt.Sprintf("5a1b0002-0000-4000-8000-%012d", i)
		upn := fmt.Sprintf("affected%04d@%s", i, tn.Domain)
		u.User["id"], u.User["userPrincipalName"], u.User["mail"], u.User["displayName"] = id, upn, upn, fmt.Sprintf("Affected %04d", i)
		u.MemberOf, u.Audits, u.SignIns = nil, nil, nil
		for _, m := range u.Methods {
			if strings.Contains(m["@odata.type"].(string), "microsoftAuthenticator") {
				m["id"] = fmt.Sprintf("a5c2ef35-0000-4000-8000-%012d", i)
			}
		}
		tn.Users = append(tn.Users, &u)
		ids = append(ids, id)
	}
	return ids
}

func TestBulkEligibility(t *testing.T) {
	s := bottest.New(t, bottest.Options{EditTenant: func(tn *graphtest.Tenant) {
		tn.FindUser(tn.Email("olive.optin")).Requirements = map[string]any{"perUserMfaState": "enforced"}
		tn.FindUser(tn.Email("fiona.failures")).Requirements = map[string]any{"perUserMfaState": "enabled"}
		guest := tn.FindUser(tn.Email("mfatest1"))
		guest.User["userType"] = "Guest"
	}})
	ctx := context.Background()
	ref := func(local string) actions.UserRef {
		return actions.UserRef{Kind: actions.RefUPN, Value: local + "@mfademo.example"}
	}
	open := s.UserID(t, "erin.eligible")
	check := bot.BulkCheck{
		Gather:     s.Client,
		Protection: bot.ApprovalsDirectory{Dir: s.Client}.Protection,
		Open:       func(id string) bool { return id == open },
		InScope:    actions.DefaultReregisterTypes(),
		Requester:  s.UserID(t, "hana.helpdesk"),
	}
	plan, err := check.Check(ctx, []actions.UserRef{
		ref("casey.ca"), ref("mfatest2"), ref("sam.approver"), // eligible
		ref("olive.optin"), ref("fiona.failures"), // per-user MFA enforced / enabled
		ref("paul.password"), ref("alex.approver"), // no phone, Authenticator or OATH
		ref("mfatest1"),      // guest
		ref("ada.admin"),     // Global Administrator
		ref("erin.eligible"), // open request
		ref("hana.helpdesk"), // the requester
		ref("nobody.here"),   // not found
		{Kind: actions.RefObjectID, Value: s.UserID(t, "casey.ca")}, // casey again, by id
	})
	if err != nil {
		t.Fatal(err)
	}
	var eligible []string
	for _, u := range plan.Eligible {
		eligible = append(eligible, u.UPN)
		if len(u.Methods) == 0 {
			t.Errorf("%s has no method snapshot", u.UPN)
		}
	}
	slices.Sort(eligible)
	if want := []string{"casey.ca@mfademo.example", "mfatest2@mfademo.example", "sam.approver@mfademo.example"}; !slices.Equal(eligible, want) {
		t.Errorf("eligible = %v, want %v", eligible, want)
	}
	for reason, want := range map[string][]string{
		actions.SkipPerUserMFA: {"olive.optin@mfademo.example", "fiona.failures@mfademo.example"},
		actions.SkipNoMethods:  {"paul.password@mfademo.example", "alex.approver@mfademo.example"},
		actions.SkipGuest:      {"mfatest1@mfademo.example"},
		bot.SkipProtected:      {"ada.admin@mfademo.example"},
		bot.SkipOpenRequest:    {"erin.eligible@mfademo.example"},
		bot.SkipSelf:           {"hana.helpdesk@mfademo.example"},
		bot.SkipNotFound:       {"nobody.here@mfademo.example"},
	} {
		got := slices.Clone(plan.Skipped[reason])
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("skipped for %q = %v, want %v", reason, got, want)
		}
	}
	if c := plan.Counts(); !strings.HasPrefix(c, "3 eligible;") || !strings.Contains(c, "2 skipped: per-user MFA is enabled or enforced") {
		t.Errorf("counts = %q", c)
	}
	// Over the maximum: one line, no lookup.
	before := s.Graph.Requests()
	check.Max = 2
	if _, err := check.Check(ctx, []actions.UserRef{ref("a"), ref("b"), ref("c")}); err == nil || !strings.Contains(err.Error(), "at most 2 users") {
		t.Errorf("over the maximum: %v", err)
	}
	if s.Graph.Requests() != before {
		t.Error("a refused bulk request read the directory")
	}
}

// runBulk re-registers n affected users against the fake Graph throttling above limit
// calls a second, and checks that every user was re-registered exactly once.
func runBulk(t testing.TB, n int, faults graphtest.Faults) (time.Duration, approvals.BulkProgress, int64, int64) {
	var ids []string
	s := bottest.New(t, bottest.Options{EditTenant: func(tn *graphtest.Tenant) { ids = addAffected(tn, n) }})
	users := make([]approvals.BulkUser, len(ids))
	for i, id := range ids {
		users[i] = approvals.BulkUser{ObjectID: id, UPN: fmt.Sprintf("affected%04d@mfademo.example", i),
			Methods: []approvals.MethodRef{{ID: fmt.Sprintf("a5c2ef35-0000-4000-8000-%012d", i), Type: string(actions.MethodAuthenticator), Label: "Microsoft Authenticator (iPhone 14 Pro Max)"}}}
	}
	st, err := approvals.OpenBolt(filepath.Join(t.TempDir(), "bulk.db"), approvals.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b := approvals.NewBulkRunner(st)
	if err := b.Continue(context.Background(), "R-BULK"); err != nil {
		t.Fatal(err)
	}
	s.Graph.SetFaults(faults)
	calls0, throttled0 := s.Graph.Calls()
	start := time.Now()
	p, err := b.Run(context.Background(), "R-BULK", users, bot.BulkReregister(s.Client, nil), approvals.BulkOptions{MaxConcurrency: 32})
	wall := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	results, err := b.Results(context.Background(), "R-BULK")
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != n || p.Done != n {
		t.Fatalf("%d results, %d done, want %d (progress %+v)", len(results), p.Done, n, p)
	}
	// 0 lost, 0 duplicated: each user's Authenticator is gone and was deleted once.
	s.Graph.Tenant(func(tn *graphtest.Tenant) {
		for _, id := range ids {
			u := tn.FindUser(id)
			deletes := 0
			for _, a := range u.Audits {
				if a["activityDisplayName"] == "Admin deleted security info" {
					deletes++
				}
			}
			for _, m := range u.Methods {
				if strings.Contains(m["@odata.type"].(string), "microsoftAuthenticator") {
					t.Errorf("%s still has the Authenticator", id)
				}
			}
			if deletes != 1 {
				t.Errorf("%s: %d deletions, want 1", id, deletes)
			}
		}
	})
	calls, throttled := s.Graph.Calls()
	return wall, p, calls - calls0, throttled - throttled0
}

// TestBulk429Storm: Graph answers the first 40 calls with 429 and throttles
// everything above 300 calls a second; the run slows down, honours Retry-After, and
// re-registers every user exactly once.
func TestBulk429Storm(t *testing.T) {
	_, p, _, throttled := runBulk(t, 150, graphtest.Faults{ThrottleFirst: 40, ThrottleAbove: 300, RetryAfter: 100 * time.Millisecond})
	if throttled < 40 || p.Throttled < 40 {
		t.Errorf("Graph sent %d 429s and the run saw %d: want the storm seen", throttled, p.Throttled)
	}
}

// BenchmarkBulk1000 re-registers 1000 users against the fake Graph throttling above
// 200 calls a second (BULK_LIMIT overrides; this machine serves about 600 unthrottled) (Retry-After 1 s, as Graph sends whole seconds) and reports the
// throughput against that limit, and the rollback script's sequential pace
// (750 ms sleep per user) for comparison.
func BenchmarkBulk1000(b *testing.B) {
	const users = 1000
	limit := 200
	if v := os.Getenv("BULK_LIMIT"); v != "" {
		limit, _ = strconv.Atoi(v)
	}
	for i := 0; i < b.N; i++ {
		wall, _, calls, throttled := runBulk(b, users, graphtest.Faults{ThrottleAbove: limit, RetryAfter: time.Second})
		served := float64(calls - throttled)
		b.ReportMetric(wall.Seconds(), "s/run")
		b.ReportMetric(float64(users)/wall.Seconds(), "users/s")
		b.ReportMetric(served/wall.Seconds()/float64(limit)*100, "%limit")
		b.ReportMetric(float64(calls)/users, "calls/user")
		b.ReportMetric(float64(throttled), "429s")
		b.ReportMetric(float64(users)*0.75, "s-seed-pace")
	}
}

// TestBulkStaleSnapshotFailsThatUserOnly: one user's methods changed after approval:
// that user is reported stale with nothing deleted, the others are re-registered.
func TestBulkStaleSnapshotFailsThatUserOnly(t *testing.T) {
	var ids []string
	s := bottest.New(t, bottest.Options{EditTenant: func(tn *graphtest.Tenant) {
		ids = addAffected(tn, 4)
		// A phone the approver never saw.
		tn.FindUser(ids[2]).Methods = append(tn.FindUser(ids[2]).Methods, map[string]any{
			"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "3179e48a-750b-4051-897c-87b9720928f7",
			"phoneNumber": "+1 4255550199", "phoneType": "mobile", "smsSignInState": "notConfigured"})
	}})
	users := make([]approvals.BulkUser, len(ids))
	for i, id := range ids {
		users[i] = approvals.BulkUser{ObjectID: id, UPN: fmt.Sprintf("affected%04d@mfademo.example", i),
			Methods: []approvals.MethodRef{{ID: fmt.Sprintf("a5c2ef35-0000-4000-8000-%012d", i), Type: string(actions.MethodAuthenticator), Label: "Microsoft Authenticator (iPhone 14 Pro Max)"}}}
	}
	st, err := approvals.OpenBolt(filepath.Join(t.TempDir(), "bulk.db"), approvals.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b := approvals.NewBulkRunner(st)
	_ = b.Continue(context.Background(), "R-BULK")
	p, err := b.Run(context.Background(), "R-BULK", users, bot.BulkReregister(s.Client, nil), approvals.BulkOptions{})
	if err != nil || p.Done != 3 || p.Stale != 1 {
		t.Fatalf("run: %+v, %v; want 3 done and 1 stale", p, err)
	}
	rs, _ := b.Results(context.Background(), "R-BULK")
	for _, r := range rs {
		if (r.ObjectID == ids[2]) != (r.Outcome == approvals.BulkStale) {
			t.Errorf("%s: %s (%s)", r.UPN, r.Outcome, r.Detail)
		}
		if strings.Contains(r.Detail, "5550199") {
			t.Errorf("result shows a full phone number: %s", r.Detail)
		}
	}
	s.Graph.Tenant(func(tn *graphtest.Tenant) {
		if n := len(tn.FindUser(ids[2]).Methods); n != 3 {
			t.Errorf("the stale user has %d methods, want all 3 kept", n)
		}
	})
}

// TestBulkDemoGroup: the demo tenant's group of affected users, read as a bulk request
// reads it (transitive members, then each user checked).
func TestBulkDemoGroup(t *testing.T) {
	s := bottest.New(t, bottest.Options{})
	var group string
	s.Graph.Tenant(func(tn *graphtest.Tenant) { group = tn.GroupID("mfa-rollback-affected") })
	refs, err := s.Client.GroupUsers(context.Background(), group, bot.DefaultBulkMax)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := bot.BulkCheck{Gather: s.Client, Protection: bot.ApprovalsDirectory{Dir: s.Client}.Protection,
		InScope: actions.DefaultReregisterTypes(), Requester: s.UserID(t, "hana.helpdesk")}.Check(context.Background(), refs)
	if err != nil {
		t.Fatal(err)
	}
	// ada holds Global Administrator, erin may activate it through PIM: both protected.
	if want := "5 eligible; 1 skipped: no phone, Authenticator or OATH method; 2 skipped: protected target"; plan.Counts() != want {
		t.Errorf("counts = %q, want %q", plan.Counts(), want)
	}
}

// TestBulkRechecksProtection: a user made Global Administrator after approval is not
// re-registered; the others are.
func TestBulkRechecksProtection(t *testing.T) {
	var ids []string
	var admin string
	s := bottest.New(t, bottest.Options{EditTenant: func(tn *graphtest.Tenant) {
		ids = addAffected(tn, 3)
		admin = tn.Roles[0].ID
	}})
	s.Graph.Tenant(func(tn *graphtest.Tenant) {
		u := tn.FindUser(ids[1])
		u.MemberOf = append(u.MemberOf, admin)
	})
	users := make([]approvals.BulkUser, len(ids))
	for i, id := range ids {
		users[i] = approvals.BulkUser{ObjectID: id, Methods: []approvals.MethodRef{{ID: fmt.Sprintf("a5c2ef35-0000-4000-8000-%012d", i), Type: string(actions.MethodAuthenticator), Label: "Microsoft Authenticator (iPhone 14 Pro Max)"}}}
	}
	st, err := approvals.OpenBolt(filepath.Join(t.TempDir(), "bulk.db"), approvals.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b := approvals.NewBulkRunner(st)
	_ = b.Continue(context.Background(), "R-BULK")
	p, err := b.Run(context.Background(), "R-BULK", users, bot.BulkReregister(s.Client, bot.ApprovalsDirectory{Dir: s.Client}.Protection), approvals.BulkOptions{})
	if err != nil || p.Done != 2 || p.Failed != 1 {
		t.Fatalf("run: %+v, %v; want 2 done, 1 failed", p, err)
	}
	s.Graph.Tenant(func(tn *graphtest.Tenant) {
		if n := len(tn.FindUser(ids[1]).Methods); n != 2 {
			t.Errorf("the new admin has %d methods, want both kept", n)
		}
	})
}
