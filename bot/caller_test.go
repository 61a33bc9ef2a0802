package bot_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
)

const (
	oidAppr2    = "00000000-0000-4000-8000-000000000005"
	oidOther    = "00000000-0000-4000-8000-000000000006"
	oidOutsider = "00000000-0000-4000-8000-000000000009"
	oidDisabled = "00000000-0000-4000-8000-00000000000d"
	oidGuest    = "00000000-0000-4000-8000-00000000000e"
	oidGone     = "00000000-0000-4000-8000-00000000000f"
)

// addPerson puts a user in the backend's directory (nil user: in groups, but gone
// from the directory) and in groups.
func (b *backend) addPerson(oid string, u *actions.User, groups ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if u != nil {
		u.ID = oid
		b.users[oid] = *u
	}
	b.members[oid] = groups
}

// refusals returns the access_refused events after seq.
func refusals(t *testing.T, svc *approvals.Service, after uint64) []approvals.Event {
	t.Helper()
	evs, err := svc.Events(context.Background(), time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []approvals.Event
	for _, e := range evs {
		if e.Seq > after && e.Kind == approvals.EventRefused {
			out = append(out, e)
		}
	}
	return out
}

func headSeq(t *testing.T, svc *approvals.Service) uint64 {
	t.Helper()
	h, err := svc.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h.Seq
}

// TestCallerRuleInTheCore: the caller rule (exists, enabled, member not guest, groups)
// is applied by the core to every caller, whatever the platform: each kind of
// ineligible caller is refused with the real cause for lookups, forms, filing and
// decisions; nothing is filed or run; and each refusal is audited.
func TestCallerRuleInTheCore(t *testing.T) {
	ctx := context.Background()
	both := []string{gHelpdesk, gApprovers}
	people := []struct {
		name   string
		caller bot.Caller
		add    func(b *backend)
		want   string // the cause, in every refusal of a command
		code   approvals.Code
	}{
		{"disabled", bot.Caller{Platform: "teams", ChatID: "29:dee", Name: "Dee", ObjectID: oidDisabled},
			func(b *backend) {
				b.addPerson(oidDisabled, &actions.User{DisplayName: "Dee Disabled", UPN: "dee@contoso.example", UserType: "Member"}, both...)
			},
			"Your directory account is disabled", approvals.ErrIneligible},
		{"guest", bot.Caller{Platform: "web", ChatID: "gus", Name: "Gus", ObjectID: oidGuest},
			func(b *backend) {
				b.addPerson(oidGuest, &actions.User{DisplayName: "Gus Guest", UPN: "gus_ext#EXT#@contoso.example", UserType: "Guest", Enabled: true}, both...)
			},
			"Your directory account is a guest account", approvals.ErrIneligible},
		{"gone from the directory", bot.Caller{Platform: "teams", ChatID: "29:gone", Name: "Gone", ObjectID: oidGone},
			func(b *backend) { b.addPerson(oidGone, nil, both...) },
			"no longer exists in the directory", approvals.ErrIneligible},
		{"unlinked", bot.Caller{Platform: "teams", ChatID: "29:nobody", Name: "Nobody"}, func(*backend) {},
			"not linked to a directory user", approvals.ErrIneligible},
		{"in no group", bot.Caller{Platform: "web", ChatID: "nora", Name: "Nora", ObjectID: oidOutsider},
			func(b *backend) {
				b.addPerson(oidOutsider, &actions.User{DisplayName: "Nora Norights", UPN: "nora@contoso.example", UserType: "Member", Enabled: true})
			},
			"not in the helpdesk or approvers group", approvals.ErrNoRights},
	}
	for _, p := range people {
		t.Run(p.name, func(t *testing.T) {
			h := newHarness(t)
			p.add(h.b)
			f := goodForm
			f.Action = "revoke"
			pending := h.r.Submit(ctx, agent, f)
			if pending.Refusal {
				t.Fatal(pending.Text)
			}
			seq := headSeq(t, h.svc)
			for _, text := range []string{"user mfatest2@contoso.example", "methods mfatest2@contoso.example", "revoke " + oidTarget, "pending"} {
				m := h.r.Handle(ctx, bot.Event{Caller: p.caller, Text: text})
				if !m.Refusal || m.Form != nil || !strings.Contains(m.Text, p.want) {
					t.Errorf("%q: %+v, want a refusal naming %q", text, m, p.want)
				}
			}
			evs := refusals(t, h.svc, seq)
			if len(evs) != 4 {
				t.Fatalf("%d access_refused events for 4 refused commands: %+v", len(evs), evs)
			}
			if e := evs[0]; e.Code != p.code || !strings.HasPrefix(e.Detail, "/mfa user: ") || e.Target.UPN != "mfatest2@contoso.example" ||
				e.Actor.ObjectID != p.caller.ObjectID || e.Actor.ChatID != p.caller.ChatID {
				t.Errorf("refused lookup audited as %+v", e)
			}
			// Filing and deciding through the core refuse too, whatever the adapter did.
			if m := h.r.Submit(ctx, p.caller, goodForm); !m.Refusal || m.RequestID != "" {
				t.Errorf("submit: %+v", m)
			}
			if m := h.r.Decide(ctx, p.caller, bot.Decision{RequestID: pending.RequestID, Approve: true, Card: h.n.card(pending.RequestID)}); !m.Refusal {
				t.Errorf("approve: %+v", m)
			}
			if w := h.b.Writes(); len(w) != 0 {
				t.Errorf("writes: %v", w)
			}
			if open, _ := h.svc.OpenRequests(ctx); len(open) != 1 || open[0].State != approvals.StatePending {
				t.Errorf("requests after the refusals: %+v", open)
			}
		})
	}
}

// TestDisabledApproverRefusedWithTheCause: an approver whose account was disabled
// after the request was filed cannot approve it (the rule is asked live at decision).
func TestDisabledApproverRefusedWithTheCause(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	f := goodForm
	f.Action = "revoke"
	ack := h.r.Submit(ctx, agent, f)
	if ack.Refusal {
		t.Fatal(ack.Text)
	}
	u := h.b.users[oidAppr]
	u.Enabled = false
	h.b.addPerson(oidAppr, &u, gApprovers)
	m := h.r.Decide(ctx, approver, bot.Decision{RequestID: ack.RequestID, Approve: true, Card: h.n.card(ack.RequestID)})
	if !m.Refusal || !strings.Contains(m.Text, "disabled") {
		t.Fatalf("disabled approver: %+v", m)
	}
	if w := h.b.Writes(); len(w) != 0 {
		t.Fatalf("writes: %v", w)
	}
}

// TestLookupByNonMemberIsAudited: probing by someone without rights is visible in the
// audit log, named as the directory knows them.
func TestLookupByNonMemberIsAudited(t *testing.T) {
	h := newHarness(t)
	h.b.addPerson(oidOutsider, &actions.User{DisplayName: "Nora Norights", UPN: "nora@contoso.example", UserType: "Member", Enabled: true})
	seq := headSeq(t, h.svc)
	nora := bot.Caller{Platform: "web", ChatID: "nora", Name: "Alex Approver", ObjectID: oidOutsider}
	if m := h.r.Handle(context.Background(), bot.Event{Caller: nora, Text: "methods mfatest2@contoso.example"}); !m.Refusal {
		t.Fatalf("lookup by a non-member: %+v", m)
	}
	evs := refusals(t, h.svc, seq)
	if len(evs) != 1 || evs[0].Code != approvals.ErrNoRights || evs[0].Actor.DisplayName != "Nora Norights (nora@contoso.example)" ||
		!strings.Contains(evs[0].Detail, "/mfa methods") {
		t.Fatalf("audit: %+v", evs)
	}
	if !strings.Contains(strings.Join(h.n.audit, "\n"), "access_refused") {
		t.Errorf("the refusal was not posted to the audit channel: %v", h.n.audit)
	}
}

// TestRefusedBeforeTheForm: what filing would refuse whatever the form says is
// refused when the form is asked for — no form, audited, nothing filed.
func TestRefusedBeforeTheForm(t *testing.T) {
	ctx := context.Background()
	revokeOther := func(h *harness) {
		h.b.addPerson(oidOther, &actions.User{DisplayName: "Olga Other", UPN: "olga@contoso.example", UserType: "Member", Enabled: true})
		f := goodForm
		f.Action, f.Target = "revoke", oidOther
		if m := h.r.Submit(ctx, agent, f); m.Refusal {
			t.Fatal(m.Text)
		}
	}
	tests := []struct {
		name   string
		policy func(*approvals.Policy)
		setup  func(h *harness)
		text   string
		want   string
		code   approvals.Code
	}{
		{"protected target", nil, func(*harness) {}, "revoke ada@contoso.example", "is protected (holds the directory role Global Administrator)", approvals.ErrProtectedTarget},
		{"open request for the target", nil, func(h *harness) {
			f := goodForm
			f.Action = "revoke"
			if m := h.r.Submit(ctx, agent, f); m.Refusal {
				t.Fatal(m.Text)
			}
		}, "reregister mfatest2@contoso.example", "is already pending", approvals.ErrOpenRequestExists},
		{"rate limit", func(p *approvals.Policy) { p.RateLimit = 1 }, revokeOther, "reregister mfatest2@contoso.example", "which is the limit", approvals.ErrRateLimited},
		{"about oneself", nil, func(*harness) {}, "revoke hana@contoso.example", "your own account", approvals.ErrTargetIsActor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarnessPolicy(t, tt.policy)
			tt.setup(h)
			open, _ := h.svc.OpenRequests(ctx)
			seq := headSeq(t, h.svc)
			m := h.r.Handle(ctx, bot.Event{Caller: agent, Text: tt.text})
			if !m.Refusal || m.Form != nil || !strings.Contains(m.Text, tt.want) || strings.Contains(m.Text, "\n") {
				t.Fatalf("%q: %+v, want a one-line refusal with %q and no form", tt.text, m, tt.want)
			}
			evs := refusals(t, h.svc, seq)
			if len(evs) != 1 || evs[0].Code != tt.code || !strings.Contains(evs[0].Detail, "form") {
				t.Errorf("audit: %+v", evs)
			}
			if after, _ := h.svc.OpenRequests(ctx); len(after) != len(open) {
				t.Errorf("%d open requests before, %d after", len(open), len(after))
			}
		})
	}
}

// TestFormOffersWhatThePolicyAccepts: the verification choices come from the policy
// (allow_phone_kba, and never phone_kba for a protected target), and a revoke with a
// refused method is refused at filing like a re-register.
func TestFormOffersWhatThePolicyAccepts(t *testing.T) {
	ctx := context.Background()
	offers := func(m bot.Message) bool {
		if m.Form == nil {
			t.Fatalf("no form: %+v", m)
		}
		return slices.ContainsFunc(m.Form.Verifications, func(c bot.Choice) bool { return c.Value == string(approvals.VerifyPhoneKBA) })
	}
	h := newHarness(t)
	if offers(h.r.Handle(ctx, bot.Event{Caller: agent, Text: "revoke mfatest2@contoso.example"})) {
		t.Error("phone_kba offered although the policy refuses it")
	}
	f := goodForm
	f.Action, f.Verification = "revoke", "phone_kba"
	if m := h.r.Submit(ctx, agent, f); !m.Refusal || !strings.Contains(m.Text, "not accepted") {
		t.Errorf("revoke with phone_kba under allow_phone_kba false: %+v", m)
	}

	h = newHarnessPolicy(t, func(p *approvals.Policy) { p.AllowPhoneKBA = true; p.Protected = approvals.ProtectedTwoApprovers })
	if !offers(h.r.Handle(ctx, bot.Event{Caller: agent, Text: "revoke mfatest2@contoso.example"})) {
		t.Error("phone_kba not offered although the policy accepts it")
	}
	if offers(h.r.Handle(ctx, bot.Event{Caller: agent, Text: "revoke ada@contoso.example"})) {
		t.Error("phone_kba offered for a protected target")
	}
}

// TestCancelAndSystemStepsNamed: the cancellation is recorded under the directory's
// name for the requester, not their chat display name, and steps mfadesk took itself
// show as mfadesk in show's history.
func TestCancelAndSystemStepsNamed(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	spoof := agent
	spoof.Name = "Alex Approver" // the agent renamed their chat profile
	f := goodForm
	f.Action = "revoke"
	ack := h.r.Submit(ctx, agent, f)
	if m := h.r.Handle(ctx, bot.Event{Caller: spoof, Text: "cancel " + ack.RequestID}); m.Refusal {
		t.Fatal(m.Text)
	}
	hist, err := h.svc.History(ctx, ack.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	last := hist[len(hist)-1]
	if last.Kind != approvals.EventCancelled || last.Actor.DisplayName != "Hana Helpdesk (hana@contoso.example)" {
		t.Errorf("cancellation recorded as %+v", last.Actor)
	}

	done := h.r.Submit(ctx, agent, goodForm)
	if m := h.r.Decide(ctx, approver, bot.Decision{RequestID: done.RequestID, Approve: true, Card: h.n.card(done.RequestID)}); m.Refusal {
		t.Fatal(m.Text)
	}
	s := cardText(h.r.Handle(ctx, bot.Event{Caller: approver, Text: "show " + done.RequestID}))
	if strings.Contains(s, "unlinked") || !strings.Contains(s, "request_executing | mfadesk") || !strings.Contains(s, "request_succeeded | mfadesk") {
		t.Errorf("show history:\n%s", s)
	}
}

// TestSecondApproverSeesTheRisk: in two-approver mode the card, re-rendered after the
// first approval, still carries the risk context the first approver saw.
func TestSecondApproverSeesTheRisk(t *testing.T) {
	h := newHarnessPolicy(t, func(p *approvals.Policy) { p.Protected = approvals.ProtectedTwoApprovers })
	h.b.addPerson(oidAppr2, &actions.User{DisplayName: "Sam Second", UPN: "sam@contoso.example", UserType: "Member", Enabled: true}, gApprovers)
	ctx := context.Background()
	f := goodForm
	f.Action, f.Target = "revoke", oidAdmin
	ack := h.r.Submit(ctx, agent, f)
	if ack.Refusal {
		t.Fatal(ack.Text)
	}
	const risk = "Holds admin roles: Global Administrator"
	if !strings.Contains(cardText(h.n.posted[0]), risk) {
		t.Fatalf("first card lacks the risk:\n%s", cardText(h.n.posted[0]))
	}
	if m := h.r.Decide(ctx, approver, bot.Decision{RequestID: ack.RequestID, Approve: true, Card: h.n.card(ack.RequestID)}); m.Refusal || !strings.Contains(m.Text, "1 of 2") {
		t.Fatalf("first approval: %+v", m)
	}
	second := h.n.updates[len(h.n.updates)-1]
	if txt := cardText(second); len(second.Buttons) != 2 || !strings.Contains(txt, "Risk context") || !strings.Contains(txt, risk) {
		t.Errorf("the card the second approver sees:\n%s", txt)
	}
	if s := cardText(h.r.Handle(ctx, bot.Event{Caller: approver, Text: "show " + ack.RequestID})); !strings.Contains(s, risk) {
		t.Errorf("show lacks the risk:\n%s", s)
	}
}

// TestDisabledFirstApproverAtClaim: in two-approver mode, the first approver's
// account is disabled before the second approval; at the claim the first approval no
// longer counts, the cause is named (not "the directory could not be asked"), and
// nothing runs.
func TestDisabledFirstApproverAtClaim(t *testing.T) {
	h := newHarnessPolicy(t, func(p *approvals.Policy) { p.Protected = approvals.ProtectedTwoApprovers })
	h.b.addPerson(oidAppr2, &actions.User{DisplayName: "Sam Second", UPN: "sam@contoso.example", UserType: "Member", Enabled: true}, gApprovers)
	ctx := context.Background()
	f := goodForm
	f.Action, f.Target = "revoke", oidAdmin
	ack := h.r.Submit(ctx, agent, f)
	if m := h.r.Decide(ctx, approver, bot.Decision{RequestID: ack.RequestID, Approve: true, Card: h.n.card(ack.RequestID)}); m.Refusal {
		t.Fatal(m.Text)
	}
	u := h.b.users[oidAppr]
	u.Enabled = false
	h.b.addPerson(oidAppr, &u, gApprovers)
	sam := bot.Caller{Platform: "web", ChatID: "sam", ObjectID: oidAppr2}
	h.r.Decide(ctx, sam, bot.Decision{RequestID: ack.RequestID, Approve: true, Card: h.n.card(ack.RequestID)})
	req, err := h.svc.Get(ctx, ack.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if req.State == approvals.StateSucceeded || !strings.Contains(req.Error, "the directory account is disabled") || len(h.b.Writes()) != 0 {
		t.Fatalf("state %s, error %q, writes %v", req.State, req.Error, h.b.Writes())
	}
}
