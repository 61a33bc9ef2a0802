package bot

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
)

// TestAssessAnswersAsEachQuestion: the combined question (one $batch through the
// Graph client) gets the same answers, by the same caller and protected-target
// rules, as the single questions asked one by one, including refusals (disabled,
// guest, gone, unlinked, not in the group) and protection through a directory role,
// a PIM eligibility and a protected group; and a directory that refuses a read fails
// that answer closed in both.
func TestAssessAnswersAsEachQuestion(t *testing.T) {
	const (
		helpdesk  = "0c7a5e1e-0001-4000-8000-000000000002"
		approvers = "0c7a5e1e-0001-4000-8000-000000000003"
		finance   = "0c7a5e1e-0001-4000-8000-000000000004"
		hana      = "5a1b0001-0000-4000-8000-000000000101"
		alex      = "5a1b0001-0000-4000-8000-000000000102"
		sam       = "5a1b0001-0000-4000-8000-000000000103"
		ada       = "5a1b0001-0000-4000-8000-000000000104"
		nora      = "5a1b0001-0000-4000-8000-000000000105"
		erin      = "5a1b0001-0000-4000-8000-000000000106"
		casey     = "5a1b0001-0000-4000-8000-000000000003"
		mfatest2  = "5a1b0001-0000-4000-8000-000000000002"
		gone      = "5a1b0001-0000-4000-8000-0000000009ff"
	)
	tenant := graphtest.MustTenant("demo")
	tenant.FindUser(tenant.Email("sam.approver")).User["accountEnabled"] = false
	tenant.FindUser(tenant.Email("nora.norights")).User["userType"] = "Guest"
	srv := httptest.NewServer(graphtest.NewServer(tenant))
	t.Cleanup(srv.Close)
	fake := srv.Config.Handler.(*graphtest.Server)
	// A short retry wait: "Graph down" need not wait out the default.
	c, err := graph.New(graph.Config{BaseURL: srv.URL + "/v1.0", Logger: slog.New(slog.DiscardHandler), MaxRetryWait: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	dir := ApprovalsDirectory{Dir: c, ProtectedGroups: []string{finance}}
	ctx := context.Background()
	who := func(pairs ...string) []approvals.Membership {
		var out []approvals.Membership
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, approvals.Membership{User: pairs[i], Group: pairs[i+1]})
		}
		return out
	}
	// same compares two answers: the same verdicts, and errors of the same kind.
	same := func(t *testing.T, got, want approvals.Answers) {
		t.Helper()
		if len(got.Members) != len(want.Members) {
			t.Fatalf("%d member answers, want %d", len(got.Members), len(want.Members))
		}
		for i := range want.Members {
			g, w := got.Members[i], want.Members[i]
			var gi, wi *approvals.IneligibleError
			if g.OK != w.OK || (g.Err == nil) != (w.Err == nil) || errors.As(g.Err, &gi) != errors.As(w.Err, &wi) || (gi != nil && gi.Why != wi.Why) {
				t.Errorf("member %d: combined %+v, single %+v", i, g, w)
			}
		}
		if !reflect.DeepEqual(got.Protection, want.Protection) || (got.ProtectionErr == nil) != (want.ProtectionErr == nil) {
			t.Errorf("protection: combined %+v %v, single %+v %v", got.Protection, got.ProtectionErr, want.Protection, want.ProtectionErr)
		}
	}
	tests := []struct {
		name   string
		q      approvals.Question
		faults graphtest.Faults
		check  func(t *testing.T, a approvals.Answers)
	}{
		{name: "a plain claim", q: approvals.Question{Target: casey, Members: who(hana, helpdesk, alex, approvers)},
			check: func(t *testing.T, a approvals.Answers) {
				if !a.Members[0].OK || !a.Members[1].OK || a.ProtectionErr != nil || a.Protection.Protected {
					t.Errorf("answers %+v", a)
				}
			}},
		{name: "refused people", q: approvals.Question{Target: ada, Members: who(hana, approvers, sam, approvers, nora, helpdesk, gone, helpdesk, "not-an-id", helpdesk)},
			check: func(t *testing.T, a approvals.Answers) {
				if a.Members[0].OK || a.Members[0].Err != nil {
					t.Errorf("not in the group: %+v", a.Members[0])
				}
				for i, why := range []string{"is disabled", "is a guest account", "no longer exists in the directory", "is not linked to a directory object id"} {
					var ie *approvals.IneligibleError
					if m := a.Members[i+1]; !errors.As(m.Err, &ie) || ie.Why != why {
						t.Errorf("member %d: %+v, want ineligible: %s", i+1, m, why)
					}
				}
				if !a.Protection.Protected {
					t.Errorf("a Global Administrator is not protected: %+v", a.Protection)
				}
			}},
		{name: "eligible admin in a protected group", q: approvals.Question{Target: erin, Members: who(hana, helpdesk)},
			check: func(t *testing.T, a approvals.Answers) {
				if !a.Protection.Protected || len(a.Protection.Reasons) < 2 {
					t.Errorf("protection %+v, want the PIM role and the protected group", a.Protection)
				}
			}},
		{name: "roles unreadable", q: approvals.Question{Target: mfatest2, Members: who(hana, helpdesk)},
			faults: graphtest.Faults{Forbidden: []string{"roleEligibilityScheduleInstances"}},
			check: func(t *testing.T, a approvals.Answers) {
				if a.ProtectionErr == nil || !a.Members[0].OK {
					t.Errorf("answers %+v, want the protection to fail closed and the standing to stand", a)
				}
			}},
		{name: "membership unreadable", q: approvals.Question{Target: mfatest2, Members: who(hana, helpdesk)},
			faults: graphtest.Faults{Forbidden: []string{"checkMemberGroups"}},
			check: func(t *testing.T, a approvals.Answers) {
				if a.Members[0].OK || a.Members[0].Err == nil || a.ProtectionErr == nil {
					t.Errorf("answers %+v, want every answer to fail closed", a)
				}
			}},
		{name: "Graph down", q: approvals.Question{Target: mfatest2, Members: who(hana, helpdesk, alex, approvers)},
			faults: graphtest.Faults{Unavailable: []string{"/"}},
			check: func(t *testing.T, a approvals.Answers) {
				if a.Members[0].Err == nil || a.Members[1].Err == nil || a.ProtectionErr == nil {
					t.Errorf("answers %+v, want every answer to fail closed", a)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.SetFaults(tt.faults)
			before := fake.Requests()
			got := dir.Assess(ctx, tt.q)
			trips := fake.Requests() - before
			want := approvals.AskEach(ctx, dir, tt.q)
			same(t, got, want)
			tt.check(t, got)
			if tt.faults.Unavailable == nil && trips > 2 {
				t.Errorf("%d Graph requests for the combined question, want at most 2", trips)
			}
		})
	}
}
