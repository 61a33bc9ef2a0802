package slack

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// graphPaths lists the Graph requests recorded since n (one per HTTP request, a
// $batch once).
func (e *flowEnv) graphPaths(n int) []string {
	var out []string
	for _, r := range e.graph.Records()[n:] {
		line := r.Method + " " + r.Path
		var batch struct {
			Requests []struct {
				Method, URL string
			}
		}
		if strings.HasSuffix(r.Path, "$batch") && json.Unmarshal(r.Body, &batch) == nil {
			for _, it := range batch.Requests {
				line += "\n\t" + it.Method + " " + it.URL
			}
		}
		out = append(out, line)
	}
	return out
}

// TestRoundTrips pins the Graph requests (a $batch counts once) of a Slack user's
// first diagnose, a warm diagnose, and an approval up to the first write, wired as
// serve wires them, so a regression fails. Before this work: 5, 3 and 17.
//   - first diagnose (4 before this work): the Slack identity and the caller's
//     standing together ($batch of the account by email and checkMemberGroups, 1;
//     the core maps the email and keeps the standing for the lookup), the target's
//     name (1), the evidence (1). The target is read only once the caller is
//     authorised, and its reports are keyed by object id, so its name costs a round
//     trip of its own (none when named by object id or already resolved);
//   - warm diagnose: the evidence only (names and the lookup standing are reused);
//   - approval (8 requests, 4 after another, before this work): the approver's name
//     for the record (1), then one $batch for the decision and the claim together
//     (the approver's and the requester's standing and the target's protection
//     reads; the claim that follows at once reuses its answers).
func TestRoundTrips(t *testing.T) {
	e := newFlowEnv(t)
	upn := e.tenant.Email("mfatest2")
	diagnose := func() []string {
		n := len(e.graph.Records())
		_, ru := e.slash(userHana, "diagnose "+upn)
		e.fake.WaitResponses(ru, 1)
		return e.graphPaths(n)
	}
	first := diagnose()
	warm := diagnose()
	if len(first) != 3 {
		t.Errorf("first diagnose: %d Graph requests, want 3:\n%s", len(first), strings.Join(first, "\n"))
	}
	if len(warm) != 1 {
		t.Errorf("warm diagnose: %d Graph requests, want 1:\n%s", len(warm), strings.Join(warm, "\n"))
	}

	e.slash(userHana, "revoke "+upn)
	form := e.requestForm()
	ack := ackJSON(t, e.interact(e.submitView(userHana, form, map[string]string{
		fieldReason: "Lost her phone; locked out of Authenticator", fieldVerification: firstOption(t, form),
		fieldDetail: "Slack huddle with video, badge photo matched", fieldTicket: "INC-4711",
	})))
	reqID := requestIDIn(t, texts(ack["view"]))
	card := e.approvalCard(reqID)
	// Warm Alex's identity first, so the count is the approval path's own.
	_, ru := e.slash(userAlex, "pending")
	e.fake.WaitResponses(ru, 1)
	n := len(e.graph.Records())
	ic, ru := e.click(userAlex, actionApprove, reqID, testApprovals, card.TS)
	e.interact(ic)
	e.fake.WaitResponses(ru, 1)
	e.fake.WaitFor("the write", func() bool { return e.graphWrites() > 0 })
	var before []string
	for _, p := range e.graphPaths(n) {
		if strings.HasPrefix(p, http.MethodPost+" ") && strings.Contains(p, "revokeSignInSessions") {
			break
		}
		before = append(before, p)
	}
	if len(before) != 2 {
		t.Errorf("approval: %d Graph requests before the write, want 2:\n%s", len(before), strings.Join(before, "\n"))
	}
}

// TestRefusedCallerReadsNoTarget: mapping a Slack user and reading their standing in
// one $batch does not let the target be read before the caller is authorised: a
// caller the caller rule refuses causes no read of the target.
func TestRefusedCallerReadsNoTarget(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(u *graphtest.TenantUser)
		want string
	}{
		{"no group", func(u *graphtest.TenantUser) { u.MemberOf = nil }, "not in the helpdesk or approvers group"},
		{"disabled", func(u *graphtest.TenantUser) { u.User["accountEnabled"] = false }, "disabled"},
		{"guest", func(u *graphtest.TenantUser) { u.User["userType"] = "Guest" }, "guest"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newFlowEnv(t)
			var target string
			e.graph.Tenant(func(tn *graphtest.Tenant) {
				tt.edit(tn.FindUser(tn.Email("hana.helpdesk")))
				target = tn.FindUser(tn.Email("mfatest2")).ID()
			})
			n := len(e.graph.Records())
			_, ru := e.slash(userHana, "diagnose "+e.tenant.Email("mfatest2"))
			if got := e.fake.WaitResponses(ru, 1)[0]["text"].(string); !strings.Contains(got, tt.want) {
				t.Fatalf("answer %q, want %q", got, tt.want)
			}
			for _, p := range e.graphPaths(n) {
				if strings.Contains(p, "mfatest2") || strings.Contains(p, target) {
					t.Errorf("the target was read for a refused caller:\n%s", p)
				}
			}
		})
	}
}
