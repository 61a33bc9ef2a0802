package approvals

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func performedPolicy(p *Policy) { p.MinEvidence = DefaultMinEvidence() }

var targetActor = actor(oidTarget, "Alex")

func (h *harness) confirm(r Request) Confirmation {
	h.t.Helper()
	c, err := h.svc.StartConfirmation(context.Background(), NewConfirmation{RequestID: r.ID, Target: r.Target, Agent: r.Requester})
	if err != nil {
		h.t.Fatalf("start confirmation: %v", err)
	}
	return c
}

func wrongPick(c Confirmation) int {
	for _, n := range c.Choices {
		if n != c.Answer {
			return n
		}
	}
	return -1
}

func TestConfirmationNumbers(t *testing.T) {
	h := newHarness(t, performedPolicy)
	c := h.confirm(h.submit(nil))
	if len(c.Choices) != 3 || !slices.Contains(c.Choices, c.Answer) || c.Choices[0] == c.Choices[1] || c.Choices[1] == c.Choices[2] || c.Choices[0] == c.Choices[2] {
		t.Fatalf("choices %v answer %d: want three distinct numbers including the answer", c.Choices, c.Answer)
	}
}

// TestAnswerRefusals: each refused answer changes nothing and is audited.
func TestAnswerRefusals(t *testing.T) {
	cases := []struct {
		name  string
		setup func(h *harness, c Confirmation)
		by    Actor
		pick  func(Confirmation) int
		code  Code
	}{
		{"someone other than the target", nil, actor(oidOutsider, "Mallory"), func(c Confirmation) int { return c.Answer }, ErrNotTarget},
		{"the agent clicks for the user", nil, actor(oidRequester, "Riley"), func(c Confirmation) int { return c.Answer }, ErrNotTarget},
		{"expired", func(h *harness, _ Confirmation) { h.clock.Advance(DefaultConfirmTTL) }, targetActor, func(c Confirmation) int { return c.Answer }, ErrExpired},
		{"replayed", func(h *harness, c Confirmation) {
			if _, _, err := h.svc.Answer(context.Background(), c.ID, targetActor, c.Answer); err != nil {
				h.t.Fatalf("first answer: %v", err)
			}
		}, targetActor, func(c Confirmation) int { return c.Answer }, ErrConfirmationUsed},
		{"unknown id", nil, targetActor, func(c Confirmation) int { return c.Answer }, ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, performedPolicy)
			c := h.confirm(h.submit(nil))
			if tc.setup != nil {
				tc.setup(h, c)
			}
			id := c.ID
			if tc.code == ErrNotFound {
				id = confirmPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAA"
			}
			before, head := h.allRequests(), h.head()
			beforeConf, _ := h.svc.Confirmation(context.Background(), c.ID)
			_, _, err := h.svc.Answer(context.Background(), id, tc.by, tc.pick(c))
			e := requireCode(t, err, tc.code)
			requireSentence(t, e.Msg)
			sameRequests(t, before, h.allRequests())
			afterConf, _ := h.svc.Confirmation(context.Background(), c.ID)
			if afterConf.State != beforeConf.State || afterConf.Failures != beforeConf.Failures {
				t.Fatalf("confirmation changed: %+v → %+v", beforeConf, afterConf)
			}
			evs := h.eventsAfter(head.Seq)
			if len(evs) != 1 || evs[0].Kind != EventRefused || evs[0].Code != tc.code {
				t.Fatalf("events after the refusal = %+v, want one access_refused %s", evs, tc.code)
			}
		})
	}
}

// TestWrongNumberThreeTimes: two wrong picks leave the request pending; the third
// refuses it, audited; a right pick after that is refused.
func TestWrongNumberThreeTimes(t *testing.T) {
	h := newHarness(t, performedPolicy)
	r := h.submit(nil)
	c := h.confirm(r)
	for i := 1; i <= MaxConfirmFailures; i++ {
		_, got, err := h.svc.Answer(context.Background(), c.ID, targetActor, wrongPick(c))
		requireCode(t, err, ErrWrongNumber)
		want := StatePending
		if i == MaxConfirmFailures {
			want = StateDenied
		}
		if got.State != want {
			t.Fatalf("after %d wrong picks the request is %s, want %s", i, got.State, want)
		}
	}
	if k := h.kinds(r.ID); !slices.Contains(k, EventConfirmFailed) || k[len(k)-1] != EventDenied {
		t.Fatalf("events %v: want failures then request_denied", k)
	}
	_, _, err := h.svc.Answer(context.Background(), c.ID, targetActor, c.Answer)
	requireCode(t, err, ErrConfirmationUsed)
	h.mustVerify()
}

// TestApprovalNeedsPerformedEvidence: under the default minimum a reregister
// cannot be approved on the agent's word; the target's pick makes it approvable;
// an unreachable target needs two approvers.
func TestApprovalNeedsPerformedEvidence(t *testing.T) {
	ctx := context.Background()
	t.Run("refused without confirmation", func(t *testing.T) {
		h := newHarness(t, performedPolicy)
		r := h.submit(nil)
		before := h.allRequests()
		_, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Ann"), VerdictApprove, "")
		requireSentence(t, requireCode(t, err, ErrNotConfirmed).Msg)
		sameRequests(t, before, h.allRequests())
		if h.exec.total() != 0 {
			t.Fatal("executor ran")
		}
	})
	t.Run("approved after the target confirmed", func(t *testing.T) {
		h := newHarness(t, performedPolicy)
		r := h.submit(nil)
		c := h.confirm(r)
		_, got, err := h.svc.Answer(ctx, c.ID, targetActor, c.Answer)
		if err != nil || len(got.Performed) != 1 || got.Performed[0].Platform != "slack" || got.Performed[0].Method != "number_match" {
			t.Fatalf("answer: %v, performed %+v", err, got.Performed)
		}
		done, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Ann"), VerdictApprove, "")
		if err != nil || done.State != StateSucceeded {
			t.Fatalf("decide: %v, state %s", err, done.State)
		}
	})
	t.Run("verified before filing, used once", func(t *testing.T) {
		h := newHarness(t, performedPolicy)
		c, err := h.svc.StartConfirmation(ctx, NewConfirmation{Target: defaultNewRequest().Target, Agent: actor(oidRequester, "Riley")})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := h.svc.Answer(ctx, c.ID, targetActor, c.Answer); err != nil {
			t.Fatal(err)
		}
		r := h.submit(nil)
		if len(r.Performed) != 1 {
			t.Fatalf("performed = %+v, want the verification", r.Performed)
		}
		if got, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Ann"), VerdictApprove, ""); err != nil || got.State != StateSucceeded {
			t.Fatalf("decide: %v %s", err, got.State)
		}
		r2 := h.submit(func(n *NewRequest) { n.Action, n.Methods = ActionRevoke, nil }) // revoke: claimed is enough
		if len(r2.Performed) != 0 {
			t.Fatalf("the verification was used twice: %+v", r2.Performed)
		}
	})
	t.Run("unreachable target needs two approvers", func(t *testing.T) {
		h := newHarness(t, performedPolicy)
		r := h.submit(nil)
		if _, err := h.svc.MarkUnreachable(ctx, r.ID, "no Slack account with that address"); err != nil {
			t.Fatal(err)
		}
		got, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Ann"), VerdictApprove, "")
		if err != nil || got.State != StatePending {
			t.Fatalf("first approval: %v, state %s (want pending, a second approver needed)", err, got.State)
		}
		got, err = h.svc.Decide(ctx, r.ID, actor(oidApprover2, "Ben"), VerdictApprove, "")
		if err != nil || got.State != StateSucceeded {
			t.Fatalf("second approval: %v, state %s", err, got.State)
		}
	})
	t.Run("revoke stays claimed by default", func(t *testing.T) {
		h := newHarness(t, performedPolicy)
		r := h.submit(func(n *NewRequest) { n.Action, n.Methods = ActionRevoke, nil })
		if got, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Ann"), VerdictApprove, ""); err != nil || got.State != StateSucceeded {
			t.Fatalf("decide: %v %s", err, got.State)
		}
	})
}

// TestNotMeCancelsAndFreezes: "This is not me" from the target cancels the open
// request, withdraws the confirmation, freezes the target; new requests are refused
// until an approver lifts it with a justification.
func TestNotMeCancelsAndFreezes(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, performedPolicy)
	r := h.submit(nil)
	c := h.confirm(r)
	target := r.Target

	before := h.allRequests()
	_, err := h.svc.NotMe(ctx, target, actor(oidOutsider, "Mallory"), c.ID)
	requireCode(t, err, ErrNotTarget)
	sameRequests(t, before, h.allRequests())

	out, err := h.svc.NotMe(ctx, target, targetActor, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Cancelled) != 1 || out.Cancelled[0].ID != r.ID || h.get(r.ID).State != StateCancelled {
		t.Fatalf("cancelled %+v, state %s", out.Cancelled, h.get(r.ID).State)
	}
	if len(out.Withdrawn) != 1 || !out.Freeze.Until.Equal(h.clock.Now().Add(DefaultFreezeFor)) {
		t.Fatalf("outcome %+v", out)
	}
	_, _, err = h.svc.Answer(ctx, c.ID, targetActor, c.Answer)
	requireCode(t, err, ErrConfirmationUsed)

	_, err = h.svc.Submit(ctx, defaultNewRequest())
	e := requireCode(t, err, ErrFrozen)
	requireSentence(t, e.Msg)
	_, err = h.svc.StartConfirmation(ctx, NewConfirmation{Target: target, Agent: actor(oidRequester, "Riley")})
	requireCode(t, err, ErrFrozen)

	for _, tc := range []struct {
		by   Actor
		just string
		code Code
	}{
		{actor(oidRequester2, "Sam"), "called back on the number on record", ErrNotApprover},
		{targetActor, "it was me after all", ErrTargetIsActor},
		{actor(oidApprover1, "Ann"), "", ErrInvalid},
	} {
		requireCode(t, h.svc.Unfreeze(ctx, target, tc.by, tc.just), tc.code)
	}
	if _, frozen, _ := h.svc.Frozen(ctx, target.ObjectID); !frozen {
		t.Fatal("a refused unfreeze lifted the freeze")
	}
	if err := h.svc.Unfreeze(ctx, target, actor(oidApprover1, "Ann"), "called back on the number on record"); err != nil {
		t.Fatal(err)
	}
	h.submit(nil)
	h.mustVerify()
}

// TestFreezeExpires: a freeze ends by itself after FreezeFor.
func TestFreezeExpires(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, func(p *Policy) { p.FreezeFor = time.Hour })
	if _, err := h.svc.NotMe(ctx, defaultNewRequest().Target, targetActor, "notice"); err != nil {
		t.Fatal(err)
	}
	_, err := h.svc.Submit(ctx, defaultNewRequest())
	requireCode(t, err, ErrFrozen)
	h.clock.Advance(time.Hour)
	h.submit(nil)
}

// TestEvidenceRecheckedAtClaim: a request whose record was set to approved without
// the user's confirmation (a forged or stale approval) is refused when it is claimed,
// and so is one about a user frozen since it was approved; nothing runs.
func TestEvidenceRecheckedAtClaim(t *testing.T) {
	ctx := context.Background()
	t.Run("no confirmation", func(t *testing.T) {
		h := newHarness(t, func(p *Policy) { performedPolicy(p); p.Resume = map[Action]bool{ActionReregister: true} })
		r := h.submit(nil)
		h.forceState(r.ID, StateApproved, actor(oidApprover1, "Ann"))
		if _, err := h.svc.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		got := h.get(r.ID)
		if got.State != StateFailed || h.exec.total() != 0 || !strings.Contains(got.Error, "confirm") {
			t.Fatalf("state %s, error %q, executor calls %d", got.State, got.Error, h.exec.total())
		}
	})
	t.Run("frozen since the approval", func(t *testing.T) {
		h := newHarness(t, func(p *Policy) { p.Resume = map[Action]bool{ActionRevoke: true} })
		r := h.submit(func(n *NewRequest) { n.Action, n.Methods = ActionRevoke, nil })
		h.forceState(r.ID, StateApproved, actor(oidApprover1, "Ann"))
		if err := h.svc.update(ctx, func(w *wtx) error {
			return w.tx.Put(bucketFrozen, []byte(oidTarget), []byte(`{"until":"2099-01-01T00:00:00Z"}`))
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		if got := h.get(r.ID); got.State != StateFailed || h.exec.total() != 0 || !strings.Contains(got.Error, "frozen") {
			t.Fatalf("state %s, error %q, executor calls %d", got.State, got.Error, h.exec.total())
		}
	})
}

// TestVerifyNotRepeated: an agent cannot send a second verification to the same user
// while the first is open; after it expires they can.
func TestVerifyNotRepeated(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	in := NewConfirmation{Target: defaultNewRequest().Target, Agent: actor(oidRequester, "Riley")}
	if _, err := h.svc.StartConfirmation(ctx, in); err != nil {
		t.Fatal(err)
	}
	_, err := h.svc.StartConfirmation(ctx, in)
	requireSentence(t, requireCode(t, err, ErrRateLimited).Msg)
	h.clock.Advance(DefaultConfirmTTL)
	if _, err := h.svc.StartConfirmation(ctx, in); err != nil {
		t.Fatal(err)
	}
}
