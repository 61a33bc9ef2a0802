package approvals

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestPrecheck: the checks an agent meets when asking for a form are Submit's own,
// each refusal is one sentence, audited as access_refused, and changes nothing.
func TestPrecheck(t *testing.T) {
	ctx := context.Background()
	target := Target{ObjectID: oidTarget, UPN: "alex@contoso.com"}
	tests := []struct {
		name      string
		policy    func(*Policy)
		setup     func(h *harness)
		requester Actor
		target    Target
		action    Action
		code      Code // "" = accepted
		want      string
		protected bool
	}{
		{name: "accepted", requester: actor(oidRequester, "Riley"), target: target, action: ActionRevoke},
		{name: "protected target under refuse", requester: actor(oidRequester, "Riley"), target: Target{ObjectID: oidAdmin},
			action: ActionReregister, code: ErrProtectedTarget, want: "is protected (directory role Global Administrator)"},
		{name: "protected target under two approvers is accepted and says so", policy: func(p *Policy) { p.Protected = ProtectedTwoApprovers },
			requester: actor(oidRequester, "Riley"), target: Target{ObjectID: oidAdmin}, action: ActionReregister, protected: true},
		{name: "open request for the target", setup: func(h *harness) { h.submit(nil) },
			requester: actor(oidRequester2, "Sam"), target: target, action: ActionRevoke, code: ErrOpenRequestExists, want: "already pending"},
		{name: "rate limit", policy: func(p *Policy) { p.RateLimit = 1 },
			setup:     func(h *harness) { h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(1) }) },
			requester: actor(oidRequester, "Riley"), target: target, action: ActionReregister, code: ErrRateLimited, want: "1 requests in the last hour"},
		{name: "not in the helpdesk group", requester: actor(oidOutsider, "Mallory"), target: target, action: ActionRevoke,
			code: ErrNotRequester, want: "helpdesk group"},
		{name: "about oneself", requester: actor(oidRequester, "Riley"), target: Target{ObjectID: oidRequester}, action: ActionRevoke,
			code: ErrTargetIsActor, want: "your own account"},
		{name: "unlinked", requester: Actor{Platform: "teams", ChatID: "29:x"}, target: target, action: ActionRevoke,
			code: ErrNotRequester, want: "not linked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.policy)
			if tt.setup != nil {
				tt.setup(h)
			}
			before, seq := h.allRequests(), h.head().Seq
			prot, err := h.svc.Precheck(ctx, tt.action, tt.requester, tt.target)
			sameRequests(t, before, h.allRequests())
			evs := h.eventsAfter(seq)
			if tt.code == "" {
				if err != nil || len(evs) != 0 || prot.Protected != tt.protected {
					t.Fatalf("Precheck = %+v, %v; events %+v", prot, err, evs)
				}
				return
			}
			e := requireCode(t, err, tt.code)
			requireSentence(t, e.Msg)
			if !strings.Contains(e.Msg, tt.want) {
				t.Errorf("message %q lacks %q", e.Msg, tt.want)
			}
			if len(evs) != 1 || evs[0].Kind != EventRefused || evs[0].Code != tt.code || !strings.HasPrefix(evs[0].Detail, "open a "+string(tt.action)+" form: ") {
				t.Errorf("audit: %+v", evs)
			}
		})
	}
}

// TestPrecheckIgnoresAStalePendingRequest: a pending request past its expiry does not
// block, as at Submit, and Precheck (read-only) leaves expiring it to the writers.
func TestPrecheckIgnoresAStalePendingRequest(t *testing.T) {
	h := newHarness(t, nil)
	r := h.submit(nil)
	h.clock.Advance(h.svc.Policy().TTL + 1)
	if _, err := h.svc.Precheck(context.Background(), ActionRevoke, actor(oidRequester2, "Sam"), r.Target); err != nil {
		t.Fatalf("Precheck: %v", err)
	}
	if got := h.get(r.ID).State; got != StatePending {
		t.Errorf("Precheck changed the stale request to %s", got)
	}
}

// TestWeakVerificationForEveryAction: allow_phone_kba false refuses phone_kba for
// every action, revoke included (it used to be accepted there).
func TestWeakVerificationForEveryAction(t *testing.T) {
	for _, a := range []Action{ActionReregister, ActionRevoke} {
		h := newHarness(t, nil)
		_, err := h.svc.Submit(context.Background(), NewRequest{
			Action: a, Target: Target{ObjectID: oidTarget}, Requester: actor(oidRequester, "Riley"),
			Reason: "locked out after a phone swap", Ticket: "INC-7",
			Verification: Verification{Method: VerifyPhoneKBA, Detail: "date of birth and employee id"},
		})
		requireCode(t, err, ErrWeakVerification)
		if n := len(h.allRequests()); n != 0 {
			t.Errorf("%s: %d requests stored", a, n)
		}
	}
}

func TestPolicyAccepts(t *testing.T) {
	for _, tt := range []struct {
		allow, protected bool
		m                VerificationMethod
		want             bool
	}{
		{false, false, VerifyPhoneKBA, false},
		{true, false, VerifyPhoneKBA, true},
		{true, true, VerifyPhoneKBA, false},
		{false, true, VerifyVideoWithID, true},
		{true, false, "vibes", false},
	} {
		if got := (Policy{AllowPhoneKBA: tt.allow}).Accepts(tt.m, tt.protected); got != tt.want {
			t.Errorf("allow %v protected %v %s: %v", tt.allow, tt.protected, tt.m, got)
		}
	}
}

// ineligibleDir answers IsMember for one user as the bot's directory does for a
// disabled account.
type ineligibleDir struct {
	*fakeDir
	who string
}

func (d ineligibleDir) IsMember(ctx context.Context, user, group string) (bool, error) {
	if user == d.who {
		return false, &IneligibleError{Why: "is disabled"}
	}
	return d.fakeDir.IsMember(ctx, user, group)
}

// TestIneligibleApproverIsRefusedWithTheCause: a disabled approver's approval is
// refused as ineligible (not as "directory unavailable"), audited, and runs nothing.
func TestIneligibleApproverIsRefusedWithTheCause(t *testing.T) {
	h := newHarness(t, nil)
	r := h.submit(nil)
	svc, err := New(context.Background(), Options{Store: h.store, Directory: ineligibleDir{fakeDir: h.dir, who: oidApprover1},
		Executor: h.exec, Policy: h.policy, Clock: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Decide(context.Background(), r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "")
	e := requireCode(t, err, ErrIneligible)
	if !strings.Contains(e.Msg, "is disabled") || !errors.Is(err, ErrIneligible) {
		t.Errorf("message: %q", e.Msg)
	}
	if got := h.get(r.ID); got.State != StatePending || h.exec.total() != 0 {
		t.Errorf("state %s, %d executions", got.State, h.exec.total())
	}
	if k := h.kinds(r.ID); !reflect.DeepEqual(k[len(k)-1:], []EventKind{EventRefused}) {
		t.Errorf("events: %v", k)
	}
}
