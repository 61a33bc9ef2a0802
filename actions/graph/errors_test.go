package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// oneLine checks that an explanation is a single line a chat user can read.
func oneLine(t *testing.T, s string) {
	t.Helper()
	if s == "" || strings.ContainsAny(s, "\n\r") || len(s) > 300 {
		t.Errorf("not one clear line: %q", s)
	}
}

// TestDegradedSources: a source Graph refuses (inside the batch: an item status, not the
// whole batch) becomes one clear note, and the rest of the answer still comes.
func TestDegradedSources(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*graphtest.Tenant)
		faults  graphtest.Faults
		missing actions.Source
		kind    actions.ErrorKind
		explain string // substring of Explain
	}{
		{name: "403 on sign-ins names the permission", faults: graphtest.Faults{Forbidden: []string{"/auditLogs/signIns"}},
			missing: actions.SourceSignIns, kind: actions.KindForbidden, explain: "AuditLog.Read.All"},
		{name: "no P1 licence", edit: func(tn *graphtest.Tenant) { tn.NoPremiumLicense = true },
			missing: actions.SourceSignIns | actions.SourceRegistration | actions.SourceLastSignIn, kind: actions.KindForbidden, explain: "no Entra ID P1 or P2 licence"},
		{name: "403 on per-user MFA", faults: graphtest.Faults{Forbidden: []string{"/authentication/requirements"}},
			missing: actions.SourcePerUserMFA, kind: actions.KindForbidden, explain: "Policy.Read.All"},
		{name: "503 on the audit log", faults: graphtest.Faults{Unavailable: []string{"/auditLogs/directoryAudits"}, RetryAfter: 0},
			missing: actions.SourceAudits, kind: actions.KindThrottled, explain: "throttling"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fake := fakeTenant(t, tt.edit, graph.Config{})
			fake.SetFaults(tt.faults)
			id := idOf(t, fake, "mfatest2")
			before := fake.Requests()
			ev, err := c.Gather(context.Background(), ref(t, id), diagnoseQuery)
			if err != nil {
				t.Fatalf("the whole lookup failed: %v", err)
			}
			for _, s := range tt.missing.Each() {
				e, ok := ev.Missing[s]
				if !ok {
					t.Errorf("%s not missing", s)
					continue
				}
				if actions.KindOf(e) != tt.kind || !strings.Contains(actions.Explain(e), tt.explain) {
					t.Errorf("%s: kind %v, %q", s, actions.KindOf(e), actions.Explain(e))
				}
				oneLine(t, ev.Note(s))
			}
			if len(ev.Missing) != len(tt.missing.Each()) {
				t.Errorf("missing %v, want only %v", ev.Notes(), tt.missing)
			}
			if len(ev.Methods) == 0 || ev.User.ID != id {
				t.Error("the rest of the answer did not come")
			}
			d := actions.Diagnose(ev, time.Now())
			if !d.Has(actions.FindingUnverified) || len(d.Notes) == 0 {
				t.Errorf("diagnosis without the degraded source: %+v", d)
			}
			if tt.kind == actions.KindForbidden && fake.Requests()-before != 1 {
				t.Errorf("%d round trips, want 1 (a 403 item is not retried)", fake.Requests()-before)
			}
		})
	}
}

// TestLookupErrors: 403, 404 and 429 on the user each become one clear line.
func TestLookupErrors(t *testing.T) {
	tests := []struct {
		name    string
		ref     string
		faults  graphtest.Faults
		kind    actions.ErrorKind
		explain string
	}{
		{"404 by object id", "5a1b0001-0000-4000-8000-0000000000ff", graphtest.Faults{}, actions.KindNotFound, "No user 5a1b0001-0000-4000-8000-0000000000ff in the directory."},
		{"404 by UPN", "gone@mfademo.example", graphtest.Faults{}, actions.KindNotFound, "No user gone@mfademo.example in the directory."},
		{"403 on the user", "5a1b0001-0000-4000-8000-000000000002", graphtest.Faults{Forbidden: []string{"/users/"}}, actions.KindForbidden, "User.Read.All"},
		{"429 with Retry-After beyond the wait budget", "5a1b0001-0000-4000-8000-000000000002", graphtest.Faults{ThrottleEvery: 1, RetryAfter: 30 * time.Second}, actions.KindThrottled, "try again in 30 s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fake := fakeTenant(t, nil, graph.Config{MaxRetryWait: 2 * time.Second})
			fake.SetFaults(tt.faults)
			start := time.Now()
			_, err := c.Gather(context.Background(), ref(t, tt.ref), diagnoseQuery)
			if actions.KindOf(err) != tt.kind {
				t.Fatalf("err = %v (kind %v), want kind %v", err, actions.KindOf(err), tt.kind)
			}
			got := actions.Explain(err)
			oneLine(t, got)
			if !strings.Contains(got, tt.explain) {
				t.Errorf("Explain = %q, want %q", got, tt.explain)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %s: the wait is not bounded", time.Since(start))
			}
		})
	}
}

// TestBatchItemRetry: a throttled item inside a batch is sent again on its own after
// its Retry-After; the SDK does not retry batch items.
func TestBatchItemRetry(t *testing.T) {
	c, fake := fakeTenant(t, nil, graph.Config{})
	fake.SetFaults(graphtest.Faults{ThrottleFirst: 1, ThrottleOnly: []string{"/auditLogs/signIns"}, RetryAfter: 0})
	id := idOf(t, fake, "fiona.failures")
	before := fake.Requests()
	ev, err := c.Gather(context.Background(), ref(t, id), diagnoseQuery)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Missing) != 0 || len(ev.SignIns) == 0 {
		t.Fatalf("sign-ins not recovered: %v", ev.Notes())
	}
	if n := fake.Requests() - before; n != 2 {
		t.Errorf("%d round trips, want 2 (the batch, then the throttled item again)", n)
	}
}

// TestMalformedRefRefusedBeforeHTTP: a user reference that is not a UPN, mail or object
// id never reaches Graph, even when built by hand past the parser.
func TestMalformedRefRefusedBeforeHTTP(t *testing.T) {
	c, fake := fakeTenant(t, nil, graph.Config{})
	before := fake.Requests()
	for _, r := range []actions.UserRef{
		{Kind: actions.RefUPN, Value: "a@b.co' or userType eq 'Member"},
		{Kind: actions.RefUPN, Value: "../users"},
		{Kind: actions.RefObjectID, Value: "mfatest1@mfademo.example"},
		{Kind: actions.RefUPN, Value: ""},
	} {
		_, err := c.Gather(context.Background(), r, diagnoseQuery)
		if actions.KindOf(err) != actions.KindInvalidInput {
			t.Errorf("Gather(%q) = %v, want invalid input", r.Value, err)
		}
		oneLine(t, actions.Explain(err))
	}
	for _, id := range []string{"", "mfatest1@mfademo.example", "5a1b0001-0000-4000-8000-00000000000'"} {
		if _, err := c.RevokeSessions(context.Background(), id); actions.KindOf(err) != actions.KindInvalidInput {
			t.Errorf("RevokeSessions(%q) = %v", id, err)
		}
		if _, err := c.Reregister(context.Background(), id, nil, nil); actions.KindOf(err) != actions.KindInvalidInput {
			t.Errorf("Reregister(%q) = %v", id, err)
		}
		if _, err := c.IssueTAP(context.Background(), id, time.Hour, true); actions.KindOf(err) != actions.KindInvalidInput {
			t.Errorf("IssueTAP(%q) = %v", id, err)
		}
	}
	if n := fake.Requests() - before; n != 0 {
		t.Fatalf("%d requests reached Graph", n)
	}
}

// TestSignInsFailedPaging: --failed reads later pages until it has N failures, but
// only then: without --failed one page is enough.
func TestSignInsFailedPaging(t *testing.T) {
	// 150 newer successful sign-ins push Fiona's failures onto the second page.
	c, fake := fakeTenant(t, func(tn *graphtest.Tenant) {
		u := tn.FindUser(tn.Email("fiona.failures"))
		for i := range 150 {
			u.SignIns = append(u.SignIns, map[string]any{
				"createdDateTime": fmt.Sprintf("2023-08-10T08:%02d:%02dZ", i/60, i%60), "appDisplayName": "Microsoft Teams",
				"ipAddress": "203.0.113.15", "status": map[string]any{"errorCode": 0}, "userId": u.ID()})
		}
	}, graph.Config{})
	id := idOf(t, fake, "fiona.failures")
	before := fake.Requests()
	ev, err := c.Gather(context.Background(), ref(t, id), actions.Query{Sources: actions.ForSignIns, SignInLast: 5, SignInFailedOnly: true, SignInDays: 30})
	if err != nil || len(ev.SignIns) != 5 {
		t.Fatalf("%d failed sign-ins, err %v", len(ev.SignIns), err)
	}
	if n := fake.Requests() - before; n != 2 {
		t.Errorf("%d round trips, want 2 (batch + one more page)", n)
	}
	before = fake.Requests()
	ev, err = c.Gather(context.Background(), ref(t, id), actions.Query{Sources: actions.ForSignIns, SignInLast: 5, SignInDays: 30})
	if err != nil || len(ev.SignIns) != 5 || ev.SignIns[0].Failed() {
		t.Fatalf("sign-ins = %+v, %v", ev.SignIns, err)
	}
	if n := fake.Requests() - before; n != 1 {
		t.Errorf("%d round trips without --failed, want 1", n)
	}
}

// TestUnbatchedMatchesBatched: the one-call-at-a-time path reads the same evidence.
func TestUnbatchedMatchesBatched(t *testing.T) {
	c1, fake1 := fakeTenant(t, nil, graph.Config{})
	c2, fake2 := fakeTenant(t, nil, graph.Config{Unbatched: true})
	id := idOf(t, fake1, "mfatest2")
	a, err := c1.Gather(context.Background(), ref(t, id), diagnoseQuery)
	if err != nil {
		t.Fatal(err)
	}
	before := fake2.Requests()
	b, err := c2.Gather(context.Background(), ref(t, id), diagnoseQuery)
	if err != nil {
		t.Fatal(err)
	}
	if n := fake2.Requests() - before; n != int64(len(actions.ForDiagnose.Each())) {
		t.Errorf("unbatched: %d requests, want one per source", n)
	}
	da, db := actions.Diagnose(a, time.Now()), actions.Diagnose(b, time.Now())
	if len(da.Findings) != len(db.Findings) || da.Next != db.Next || len(a.SignIns) != len(b.SignIns) || len(a.Audits) != len(b.Audits) {
		t.Errorf("batched %+v\nunbatched %+v", da, db)
	}
}
