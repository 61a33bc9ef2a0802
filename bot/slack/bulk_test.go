package slack

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot/slack/slacktest"
)

// rollbackGroup returns the UPNs of the demo group of affected users.
func rollbackGroup(tn *graphtest.Tenant) []string {
	gid := tn.GroupID("mfa-rollback-affected")
	var out []string
	for _, u := range tn.Users {
		for _, g := range u.MemberOf {
			if g == gid {
				out = append(out, u.UPN())
			}
		}
	}
	return out
}

// TestBulkReregisterInSlack: a bulk re-register filed in Slack by group and by pasted
// list, through the modal; the card's counts; the canary; Continue pressed by
// someone who is neither the requester nor an approver of it refused in one line;
// Stop by the requester leaves the other users untouched.
func TestBulkReregisterInSlack(t *testing.T) {
	for _, c := range []struct {
		name  string
		cmd   func(upns []string) string
		field bool // the users are pasted into the form's users field
	}{
		{"group", func([]string) string { return "reregister --group mfa-rollback-affected" }, false},
		{"pasted list", func(upns []string) string { return "reregister " + strings.Join(upns, ", ") }, false},
		{"users field", func([]string) string { return "reregister --list" }, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newFlowEnv(t)
			upns := rollbackGroup(e.tenant)
			e.slash(userHana, c.cmd(upns))
			form := e.requestForm()
			if all := texts(form.View["blocks"]); !strings.Contains(all, "3000 characters in Slack") || (!c.field && !strings.Contains(all, "8 users")) {
				t.Fatalf("form:\n%s", all)
			}
			values := map[string]string{
				fieldReason: "MFA registration campaign rolled back (CHG-88)", fieldVerification: firstOption(t, form),
				fieldDetail: "Change approved by the CAB; list from the campaign report", fieldTicket: "CHG-88",
			}
			if c.field {
				// Over the field's limit first: refused on the field, nothing filed.
				values[fieldUsers] = strings.Repeat("5a1b0001-0000-4000-8000-000000000002\n", 82)
				ack := ackJSON(t, e.interact(e.submitView(userHana, form, values)))
				if errs, _ := ack["errors"].(map[string]any); ack["response_action"] != "errors" || !strings.Contains(fmt.Sprint(errs[fieldUsers]), "at most 3000 characters") {
					t.Fatalf("over-limit list ack = %v", ack)
				}
				values[fieldUsers] = strings.Join(upns, "\n")
			}
			ack := ackJSON(t, e.interact(e.submitView(userHana, form, values)))
			filed := texts(ack["view"])
			reqID := requestIDIn(t, filed)
			const counts = "5 eligible; 1 skipped: no phone, Authenticator or OATH method; 2 skipped: protected target"
			card := e.approvalCard(reqID)
			if all := card.Text + texts(card.Blocks); !strings.Contains(all, counts) {
				t.Fatalf("card lacks the counts:\n%s", all)
			}
			ic, ru := e.click(userAlex, actionApprove, reqID, testApprovals, card.TS)
			e.interact(ic)
			e.fake.WaitResponses(ru, 1)
			e.stack.Approvals.WaitBulk()
			var paused *slacktest.Message
			e.fake.WaitFor("the card with Continue and Stop", func() bool {
				for _, u := range card.Updates {
					if strings.Contains(texts(u.Blocks), actionContinue) || strings.Contains(fmt.Sprint(u.Blocks), actionContinue) {
						paused = u
						return true
					}
				}
				return false
			})
			_ = paused
			// Nora has no rights; Sam approves requests but not this one.
			for _, who := range []string{"U0NORA", "U0SAM"} {
				ic, ru := e.click(who, actionContinue, reqID, testApprovals, card.TS)
				e.interact(ic)
				p := e.fake.WaitResponses(ru, 1)[0]
				if s, _ := p["text"].(string); p["response_type"] != "ephemeral" || strings.Contains(s, "\n") || !strings.Contains(s, "nothing") {
					t.Errorf("%s pressed Continue: %v", who, p)
				}
			}
			e.stack.Approvals.WaitBulk()
			if r, _ := e.stack.Approvals.Get(t.Context(), reqID); r.State != approvals.StatePaused {
				t.Fatalf("after strangers pressed: %s", r.State)
			}
			writes := e.graphWrites()
			ic, ru = e.click(userHana, actionStop, reqID, testApprovals, card.TS)
			e.interact(ic)
			if p := e.fake.WaitResponses(ru, 1)[0]; !strings.Contains(fmt.Sprint(p["text"]), "stopped") {
				t.Fatalf("Hana's Stop: %v", p)
			}
			e.stack.Approvals.WaitBulk()
			r, _ := e.stack.Approvals.Get(t.Context(), reqID)
			res, _ := e.stack.Approvals.BulkResults(t.Context(), reqID)
			if r.State != approvals.StateStopped || len(res) != 2 || e.graphWrites() != writes {
				t.Fatalf("after Stop: %s, %d results, %d more Graph writes", r.State, len(res), e.graphWrites()-writes)
			}
		})
	}
}

// TestBulkPasteOverSlackLimit: a pasted list longer than Slack's limit is refused in
// one line that names the limit, before any form is filled.
func TestBulkPasteOverSlackLimit(t *testing.T) {
	e := newFlowEnv(t)
	var ids []string
	for i := range 90 {
		ids = append(ids, fmt.Sprintf("5a1b0001-0000-4000-8000-%012d", i))
	}
	e.slash(userHana, "reregister "+strings.Join(ids, " "))
	var got string
	e.fake.WaitFor("the refusal", func() bool {
		for _, v := range e.fake.Views {
			if s := texts(v.View["blocks"]); strings.Contains(s, "at most 3000 characters in Slack") {
				got = s
				return true
			}
		}
		return false
	})
	if !strings.Contains(got, "about 81 object ids") || !strings.Contains(got, "--group") {
		t.Fatalf("refusal: %s", got)
	}
	for _, v := range e.fake.Views {
		if v.View["callback_id"] == callbackRequest {
			t.Fatal("a request form was opened")
		}
	}
}
