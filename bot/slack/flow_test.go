package slack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/mfadesk/mfadesk/bot"
)

var reregisterForm = &bot.Form{
	Action: "reregister", Target: "alice@contoso.com", TargetLabel: "Alice Example (alice@contoso.com)",
	Warning:       "Deletes every MFA method except the password, then revokes sessions.",
	Verifications: []bot.Choice{{Value: "video_with_id", Label: "Video call with photo ID"}, {Value: "in_person", Label: "In person with badge"}},
}

func formRouter(h *harness) {
	h.h.handle = func(ev bot.Event) bot.Message {
		if strings.HasPrefix(ev.Text, "reregister") {
			return bot.Message{Private: true, Text: "Fill in the form.", Form: reregisterForm}
		}
		return bot.Refuse("nope")
	}
}

// openForm runs /mfa reregister and returns the modal once the form is in it.
func openForm(t *testing.T, h *harness, user string) *fakeView {
	t.Helper()
	rec, _ := h.slash(user, "reregister alice@contoso.com")
	if ack := ackJSON(t, rec); ack != nil {
		t.Fatalf("ack of a form command = %v, want empty", ack)
	}
	var v *fakeView
	h.fake.waitFor("the request form", func() bool {
		for _, fv := range h.fake.views {
			if fv.View["callback_id"] == callbackRequest {
				v = fv
				return true
			}
		}
		return false
	})
	return h.fake.view(v.ID)
}

func TestRequestForm(t *testing.T) {
	h := newHarness(t, ModeHTTP, nil)
	formRouter(h)
	v := openForm(t, h, userHana)
	if len(v.History) != 2 || !strings.Contains(texts(v.History[0]["blocks"]), "Checking your rights") {
		t.Fatalf("the loading view was not opened first: %d views", len(v.History))
	}
	title, _ := textOf(v.View["title"])
	all := texts(v.View["blocks"])
	if title != "Re-register MFA" || !strings.Contains(all, "Alice Example (alice@contoso.com)") || !strings.Contains(all, "In person with badge") {
		t.Fatalf("form: %s\n%s", title, all)
	}
	meta, _ := v.View["private_metadata"].(string)
	if !strings.HasPrefix(meta, "v1.") {
		t.Fatalf("metadata = %q", meta)
	}

	t.Run("quick errors on their block", func(t *testing.T) {
		ack := ackJSON(t, h.interact(h.submitView(userHana, v, map[string]string{fieldReason: "  ", fieldTicket: "INC1"})))
		errs, _ := ack["errors"].(map[string]any)
		if ack["response_action"] != "errors" || errs[fieldReason] == nil || errs[fieldVerification] == nil || errs[fieldDetail] == nil || errs[fieldTicket] != nil {
			t.Fatalf("ack = %v", ack)
		}
	})
	t.Run("someone else cannot submit it", func(t *testing.T) {
		ack := ackJSON(t, h.interact(h.submitView(userAlex, v, map[string]string{fieldReason: "x", fieldVerification: "in_person", fieldTicket: "INC1"})))
		if ack["response_action"] != "update" || !strings.Contains(texts(ack["view"]), "opened by someone else") {
			t.Fatalf("ack = %v", ack)
		}
	})
	t.Run("forged metadata", func(t *testing.T) {
		ic := h.submitView(userHana, v, map[string]string{fieldReason: "x", fieldVerification: "in_person", fieldTicket: "INC1"})
		ic.View.PrivateMetadata = strings.Replace(ic.View.PrivateMetadata, "alice@contoso.com", "ceo@contoso.com", 1)
		ack := ackJSON(t, h.interact(ic))
		if ack["response_action"] != "update" || !strings.Contains(texts(ack["view"]), "not valid any more") {
			t.Fatalf("ack = %v", ack)
		}
	})
	if _, n, _ := h.h.counts(); n != 0 {
		t.Fatalf("refused submissions reached the router")
	}

	t.Run("router field errors on their block", func(t *testing.T) {
		h.h.submit = func(bot.Caller, bot.FormSubmission) bot.Message {
			return bot.Message{Refusal: true, Private: true, Text: "Fix the form.", Errors: bot.FieldErrors{fieldTicket: "INC1 is closed."}}
		}
		ack := ackJSON(t, h.interact(h.submitView(userHana, v, map[string]string{fieldReason: "lost phone", fieldVerification: "in_person", fieldDetail: "badge", fieldTicket: "INC1"})))
		errs, _ := ack["errors"].(map[string]any)
		if ack["response_action"] != "errors" || errs[fieldTicket] != "INC1 is closed." {
			t.Fatalf("ack = %v", ack)
		}
	})
	t.Run("filed", func(t *testing.T) {
		h.h.submit = nil
		ic := h.submitView(userHana, v, map[string]string{fieldReason: "lost phone", fieldVerification: "video_with_id", fieldDetail: "matched badge photo", fieldTicket: "INC2"})
		ack := ackJSON(t, h.interact(ic))
		if ack["response_action"] != "update" || !strings.Contains(texts(ack["view"]), "R-TEST0001") {
			t.Fatalf("ack = %v", ack)
		}
		h.h.mu.Lock()
		got := h.h.submits[len(h.h.submits)-1]
		h.h.mu.Unlock()
		want := bot.FormSubmission{Action: "reregister", Target: "alice@contoso.com", Reason: "lost phone", Verification: "video_with_id", VerificationDetail: "matched badge photo", Ticket: "INC2"}
		if got.Form != want || got.Caller.ObjectID != oidHana {
			t.Fatalf("submit = %+v", got)
		}
	})
}

// When the router takes longer than the budget, the ack says "filing" in time and
// the modal is updated with the answer when it comes.
func TestRequestFormSlowRouter(t *testing.T) {
	h := newHarness(t, ModeHTTP, func(o *Options) { o.SubmitBudget = 50 * time.Millisecond })
	formRouter(h)
	v := openForm(t, h, userHana)
	gate := make(chan struct{})
	h.h.mu.Lock()
	h.h.gate = gate
	h.h.mu.Unlock()
	ic := h.submitView(userHana, v, map[string]string{fieldReason: "lost phone", fieldVerification: "in_person", fieldDetail: "badge", fieldTicket: "INC3"})
	rec := h.interact(ic)
	ack := ackJSON(t, rec)
	h.fake.ackUpdate(v.ID, &goslack.ViewSubmissionResponse{ResponseAction: goslack.RAUpdate, View: decodeModal(t, ack["view"])})
	if ack["response_action"] != "update" || !strings.Contains(texts(ack["view"]), "Filing your request") {
		t.Fatalf("ack = %v", ack)
	}
	close(gate)
	h.fake.waitFor("the result in the modal", func() bool {
		return strings.Contains(texts(h.fake.views[v.ID].View["blocks"]), "R-TEST0001")
	})
}

func decodeModal(t *testing.T, v any) *goslack.ModalViewRequest {
	raw, _ := json.Marshal(v)
	var m goslack.ModalViewRequest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// A trigger id is good for 3 seconds and once: when Slack refuses it, the caller is
// told to run the command again.
func TestRequestFormTriggerRefused(t *testing.T) {
	for _, tt := range []struct {
		name, code string
		setup      func(h *harness, trigger string)
	}{
		{"expired", "expired_trigger_id", func(h *harness, _ string) {
			h.fake.mu.Lock()
			h.fake.now = func() time.Time { return time.Now().Add(4 * time.Second) }
			h.fake.mu.Unlock()
		}},
		{"used twice", "exchanged_trigger_id", func(h *harness, trigger string) {
			h.fake.mu.Lock()
			h.fake.triggers[trigger].used = true
			h.fake.mu.Unlock()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, ModeHTTP, nil)
			formRouter(h)
			v, ru := h.slashForm(userHana, "revoke alice@contoso.com")
			tt.setup(h, v.Get("trigger_id"))
			h.serve(h.signed("/slack/commands", []byte(v.Encode())))
			p := h.fake.waitResponses(ru, 1)[0]
			if !strings.Contains(p["text"].(string), tt.code) || p["response_type"] != "ephemeral" {
				t.Fatalf("answer = %v", p["text"])
			}
			if ev, _, _ := h.h.counts(); ev != 0 {
				t.Fatalf("the router was asked although no form could be shown")
			}
		})
	}
}

// A refused form command shows the refusal in the modal that was opened for it.
func TestRequestFormRefusedByRouter(t *testing.T) {
	h := newHarness(t, ModeHTTP, nil)
	h.h.handle = func(bot.Event) bot.Message {
		return bot.Refuse("You are not in the helpdesk group, so you cannot file requests.")
	}
	h.slash(userHana, "revoke alice@contoso.com")
	h.fake.waitFor("the refusal in the modal", func() bool {
		for _, v := range h.fake.views {
			if strings.Contains(texts(v.View["blocks"]), "not in the helpdesk group") {
				return true
			}
		}
		return false
	})
}

func TestApproveAndDeny(t *testing.T) {
	h := newHarness(t, ModeHTTP, nil)
	h.h.decide = func(c bot.Caller, d bot.Decision) bot.Message {
		if c.ObjectID == oidHana {
			return bot.Refuse("You filed this request, so you cannot approve it.")
		}
		return bot.Message{Private: true, Text: "Approved; running now."}
	}
	t.Run("self-approval is refused privately", func(t *testing.T) {
		ic, ru := h.click(userHana, actionApprove, "R-7KQ2M4XD", testApprovals, "1700000000.000001")
		if ack := ackJSON(t, h.interact(ic)); ack != nil {
			t.Fatalf("ack = %v", ack)
		}
		p := h.fake.waitResponses(ru, 1)[0]
		if p["response_type"] != "ephemeral" || p["replace_original"] != false || !strings.Contains(p["text"].(string), "cannot approve") {
			t.Fatalf("answer = %v", p)
		}
	})
	t.Run("approve", func(t *testing.T) {
		ic, ru := h.click(userAlex, actionApprove, "R-7KQ2M4XD", testApprovals, "1700000000.000001")
		h.interact(ic)
		p := h.fake.waitResponses(ru, 1)[0]
		if !strings.Contains(p["text"].(string), "Approved") {
			t.Fatalf("answer = %v", p)
		}
		h.h.mu.Lock()
		d := h.h.decisions[len(h.h.decisions)-1]
		h.h.mu.Unlock()
		if d.Decision != (bot.Decision{RequestID: "R-7KQ2M4XD", Approve: true, Card: bot.CardRef{Platform: "slack", Channel: testApprovals, ID: "1700000000.000001"}}) || d.Caller.ObjectID != oidAlex {
			t.Fatalf("decision = %+v", d)
		}
	})
	t.Run("malformed request id", func(t *testing.T) {
		_, _, before := h.h.counts()
		ic, ru := h.click(userAlex, actionApprove, "../../etc", testApprovals, "1")
		h.interact(ic)
		if p := h.fake.waitResponses(ru, 1)[0]; !strings.Contains(p["text"].(string), "not belong") {
			t.Fatalf("answer = %v", p)
		}
		if _, _, after := h.h.counts(); after != before {
			t.Fatalf("a malformed click reached the router")
		}
	})
	t.Run("deny asks for a reason", func(t *testing.T) {
		ic, _ := h.click(userAlex, actionDeny, "R-7KQ2M4XD", testApprovals, "1700000000.000001")
		h.interact(ic)
		var v *fakeView
		h.fake.waitFor("the deny form", func() bool {
			for _, fv := range h.fake.views {
				if fv.View["callback_id"] == callbackDeny {
					v = fv
					return true
				}
			}
			return false
		})
		v = h.fake.view(v.ID)
		empty := h.submitView(userAlex, v, map[string]string{fieldJustify: " "})
		if ack := ackJSON(t, h.interact(empty)); ack["response_action"] != "errors" {
			t.Fatalf("empty reason ack = %v", ack)
		}
		other := h.submitView(userHana, v, map[string]string{fieldJustify: "I say no"})
		if ack := ackJSON(t, h.interact(other)); !strings.Contains(texts(ack["view"]), "someone else") {
			t.Fatalf("other user's ack = %v", ack)
		}
		h.h.decide = func(bot.Caller, bot.Decision) bot.Message { return bot.Message{Private: true, Text: "Denied."} }
		ok := h.submitView(userAlex, v, map[string]string{fieldJustify: "Identity not verified by video."})
		ack := ackJSON(t, h.interact(ok))
		if ack["response_action"] != "update" || !strings.Contains(texts(ack["view"]), "Denied.") {
			t.Fatalf("ack = %v", ack)
		}
		h.h.mu.Lock()
		d := h.h.decisions[len(h.h.decisions)-1]
		h.h.mu.Unlock()
		if d.Decision != (bot.Decision{RequestID: "R-7KQ2M4XD", Justification: "Identity not verified by video.", Card: bot.CardRef{Platform: "slack", Channel: testApprovals, ID: "1700000000.000001"}}) || d.Caller.ObjectID != oidAlex {
			t.Fatalf("decision = %+v", d)
		}
	})
}

// Slack's documented interaction payloads, as they are: none of them is an mfadesk
// action, so each is acked empty and nothing reaches the router; a workspace or org
// that is not ours is refused.
func TestInteractionVectors(t *testing.T) {
	tests := []struct {
		file       string
		team, ent  string
		wantStatus int
		wantRefuse bool
	}{
		{file: "block_actions-docs-message.json", team: "T9TK3CUKW"},
		{file: "block_actions-docs-message.json", team: testTeam},
		{file: "view_submission-docs-example.json", team: "T1234567"},
		{file: "view_submission-java-sdk-workspace.json", team: "T12345678"},
		{file: "view_submission-java-sdk-org-install.json", ent: "E111"},
		{file: "view_submission-java-sdk-org-install.json", team: testTeam, wantRefuse: true},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.team+tt.ent, func(t *testing.T) {
			h := newHarness(t, ModeHTTP, func(o *Options) { o.TeamID, o.EnterpriseID = tt.team, tt.ent })
			ack := ackJSON(t, h.interact(mustRead(t, tt.file)))
			if tt.wantRefuse {
				if !strings.Contains(texts(ack["view"]), "own Slack workspace") {
					t.Fatalf("ack = %v", ack)
				}
			} else if ack != nil {
				t.Fatalf("ack = %v, want empty", ack)
			}
			if a, b, c := h.h.counts(); a+b+c != 0 {
				t.Fatalf("a foreign payload reached the router")
			}
		})
	}
}

func TestNotifier(t *testing.T) {
	h := newHarness(t, ModeHTTP, nil)
	ctx := context.Background()
	card := bot.Message{
		Title: "Approval needed: re-register MFA", Text: "Hana asks to re-register MFA for Alice <@U1> (INC42).", RequestID: "R-7KQ2M4XD",
		Sections: []bot.Section{{Facts: []bot.Fact{{Label: "Target", Value: "Alice (alice@contoso.com)"}, {Label: "Will run", Value: "delete 3 methods, revoke sessions"}}}},
		Buttons:  []bot.Button{{Kind: bot.ButtonApprove, Value: "R-7KQ2M4XD"}, {Kind: bot.ButtonDeny, Value: "R-7KQ2M4XD"}},
	}
	ref, err := h.a.PostApproval(ctx, card)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Platform != "slack" || ref.Channel != testApprovals || ref.ID == "" {
		t.Fatalf("ref = %+v", ref)
	}
	msgs := h.fake.messagesIn(testApprovals)
	if len(msgs) != 1 || msgs[0].Text != "Hana asks to re-register MFA for Alice &lt;@U1&gt; (INC42)." || msgs[0].Blocks[len(msgs[0].Blocks)-1]["type"] != "actions" {
		t.Fatalf("posted = %+v", msgs)
	}
	card.Buttons = nil
	card.Text = "Approved by Alex at 10:04 UTC; 3 methods deleted, sessions revoked."
	if err := h.a.UpdateApproval(ctx, ref, card); err != nil {
		t.Fatal(err)
	}
	h.fake.mu.Lock()
	upd := msgs[0].Updates
	h.fake.mu.Unlock()
	if len(upd) != 1 || upd[0].Text != card.Text {
		t.Fatalf("updates = %+v", upd)
	}
	for _, b := range upd[0].Blocks {
		if b["type"] == "actions" {
			t.Fatalf("buttons left on the decided card")
		}
	}
	if err := h.a.UpdateApproval(ctx, bot.CardRef{Platform: "teams", Channel: "x", ID: "y"}, card); err == nil {
		t.Fatal("updated a Teams card through Slack")
	}
	if err := h.a.UpdateApproval(ctx, bot.CardRef{Platform: "slack", Channel: testApprovals, ID: "1.2"}, card); err == nil || !strings.Contains(err.Error(), "message_not_found") {
		t.Fatalf("update of a missing card: %v", err)
	}
	if err := h.a.Tell(ctx, bot.Caller{Platform: "slack", ChatID: userHana}, bot.Message{Text: "Your request R-7KQ2M4XD was approved."}); err != nil {
		t.Fatal(err)
	}
	if dm := h.fake.messagesIn("D0HANA"); len(dm) != 1 || !strings.Contains(dm[0].Text, "approved") {
		t.Fatalf("DM = %+v", dm)
	}
	if err := h.a.Tell(ctx, bot.Caller{Platform: "teams", ChatID: "29:x"}, bot.Message{Text: "x"}); err == nil {
		t.Fatal("told a Teams user through Slack")
	}
	if err := h.a.PostAudit(ctx, "request_created R-7KQ2M4XD by hana · head 9f2c…"); err != nil {
		t.Fatal(err)
	}
	if au := h.fake.messagesIn(testAudit); len(au) != 1 || !strings.Contains(au[0].Text, "head 9f2c") {
		t.Fatalf("audit = %+v", au)
	}
	// Failures are wrapped with what was being done.
	h.fake.mu.Lock()
	h.fake.failNext["chat.postMessage"] = "not_in_channel"
	h.fake.mu.Unlock()
	if _, err := h.a.PostApproval(ctx, card); err == nil || !strings.Contains(err.Error(), "post approval card") || !strings.Contains(err.Error(), "not_in_channel") {
		t.Fatalf("err = %v", err)
	}
	// A card far over Block Kit's limits is still accepted (truncated with a note).
	big := card
	for i := range 80 {
		big.Sections = append(big.Sections, bot.Section{Heading: "Risk", Text: strings.Repeat("sign-in failure ", 30) + string(rune('a'+i%26))})
	}
	if _, err := h.a.PostApproval(ctx, big); err != nil {
		t.Fatalf("large card: %v", err)
	}
}
