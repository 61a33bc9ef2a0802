package approvals

import (
	"context"
	"strings"
	"testing"
)

// The target's manager in these tests; oidApprover2 is a manager who is also an
// approver.
var (
	oidManager     = numberedOID(501)
	managerTarget  = Target{ObjectID: oidManager, UPN: "mona@contoso.example", DisplayName: "Mona Manager"}
	managerActor   = Actor{Platform: "teams", ChatID: "29:mona", ObjectID: oidManager, DisplayName: "Mona Manager (mona@contoso.example)"}
	requesterActor = actor(oidRequester, "Riley")
)

func (d *fakeDir) ManagerOf(_ context.Context, user string) (string, error) {
	if user == oidTarget {
		return oidManager, nil
	}
	return "", nil
}

func (h *harness) attestation(r Request, mgr Target) Attestation {
	h.t.Helper()
	a, err := h.svc.StartAttestation(context.Background(), NewAttestation{RequestID: r.ID, Agent: r.Requester, Manager: mgr})
	if err != nil {
		h.t.Fatalf("start attestation: %v", err)
	}
	return a
}

// TestAttestationMakesRequestApprovable: the manager's attestation is performed
// evidence, recorded on the request (phone numbers masked) and in the chain.
func TestAttestationMakesRequestApprovable(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, performedPolicy)
	r := h.submit(nil)
	a := h.attestation(r, managerTarget)
	_, got, err := h.svc.Attest(ctx, a.ID, managerActor, "  saw her in person at desk 4, called +44 20 7946 0958  ")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Performed) != 1 {
		t.Fatalf("performed = %+v", got.Performed)
	}
	p := got.Performed[0]
	if p.Method != MethodManagerAttestation || p.Platform != "teams" || p.Name != "Mona Manager (mona@contoso.example)" ||
		!strings.HasPrefix(p.Line, "saw her in person at desk 4") || strings.Contains(p.Line, "7946 0958") {
		t.Fatalf("performed = %+v", p)
	}
	done, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Ann"), VerdictApprove, "")
	if err != nil || done.State != StateSucceeded {
		t.Fatalf("decide: %v, state %s", err, done.State)
	}
	kinds := h.kinds(r.ID)
	if !containsKind(kinds, EventAttestSent) || !containsKind(kinds, EventAttested) {
		t.Fatalf("events %v", kinds)
	}
	for _, e := range h.eventsAfter(0) {
		if strings.Contains(e.Detail, "7946 0958") {
			t.Fatalf("a phone number entered the chain: %q", e.Detail)
		}
	}
	h.mustVerify()
}

func containsKind(kinds []EventKind, k EventKind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// TestAttestationManagerConflicts: a manager who is the requester, the target or an
// approver of the request is refused when asked and when attesting, with one
// sentence, changing nothing.
func TestAttestationManagerConflicts(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		manager Target
		decide  bool // an approver decided before the manager is asked
	}{
		{"manager is the requester", Target{ObjectID: oidRequester, UPN: "riley@contoso.example"}, false},
		{"manager is the target", Target{ObjectID: oidTarget, UPN: "alex@contoso.example"}, false},
		{"manager is an approver who decided", Target{ObjectID: oidApprover2, UPN: "ben@contoso.example"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Claimed minimum, so an approver can decide (two needed) before the ask.
			h := newHarness(t, func(p *Policy) { p.Protected = ProtectedTwoApprovers })
			r := h.submit(func(n *NewRequest) { n.Target = Target{ObjectID: oidAdmin, UPN: "ada@contoso.example"} })
			if tc.manager.ObjectID == oidTarget {
				tc.manager.ObjectID = oidAdmin
			}
			if tc.decide {
				var err error
				if r, err = h.svc.Decide(ctx, r.ID, actor(oidApprover2, "Ben"), VerdictApprove, ""); err != nil || r.State != StatePending {
					t.Fatalf("first approval: %v %s", err, r.State)
				}
			}
			before, head := h.allRequests(), h.head()
			_, err := h.svc.StartAttestation(ctx, NewAttestation{RequestID: r.ID, Agent: r.Requester, Manager: tc.manager})
			requireSentence(t, requireCode(t, err, ErrManagerConflict).Msg)
			sameRequests(t, before, h.allRequests())
			if evs := h.eventsAfter(head.Seq); len(evs) != 1 || evs[0].Kind != EventRefused {
				t.Fatalf("events %+v, want one refusal", evs)
			}
		})
	}
	t.Run("approver decided after the ask", func(t *testing.T) {
		h := newHarness(t, func(p *Policy) { p.Protected = ProtectedTwoApprovers })
		r := h.submit(func(n *NewRequest) { n.Target = Target{ObjectID: oidAdmin, UPN: "ada@contoso.example"} })
		a := h.attestation(r, Target{ObjectID: oidApprover2, UPN: "ben@contoso.example"})
		if _, err := h.svc.Decide(ctx, r.ID, actor(oidApprover2, "Ben"), VerdictApprove, ""); err != nil {
			t.Fatal(err)
		}
		before := h.allRequests()
		_, _, err := h.svc.Attest(ctx, a.ID, actor(oidApprover2, "Ben"), "saw him at his desk today")
		requireCode(t, err, ErrManagerConflict)
		sameRequests(t, before, h.allRequests())
	})
}

// TestAttestationRefusals: someone other than the manager asked, an expired or
// replayed attestation, an empty line: refused, changing nothing, audited.
func TestAttestationRefusals(t *testing.T) {
	ctx := context.Background()
	const line = "saw her in person at desk 4"
	cases := []struct {
		name  string
		setup func(h *harness, a Attestation)
		by    Actor
		line  string
		code  Code
	}{
		{"someone else", nil, actor(oidOutsider, "Mallory"), line, ErrNotManager},
		{"the requester", nil, requesterActor, line, ErrNotManager},
		{"expired", func(h *harness, _ Attestation) { h.clock.Advance(DefaultConfirmTTL) }, managerActor, line, ErrExpired},
		{"replayed", func(h *harness, a Attestation) {
			if _, _, err := h.svc.Attest(ctx, a.ID, managerActor, line); err != nil {
				h.t.Fatalf("first attestation: %v", err)
			}
		}, managerActor, line, ErrConfirmationUsed},
		{"withdrawn by a newer ask", func(h *harness, a Attestation) {
			h.attestation(h.get(a.RequestID), managerTarget)
		}, managerActor, line, ErrConfirmationUsed},
		{"empty line", nil, managerActor, "   ", ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, performedPolicy)
			a := h.attestation(h.submit(nil), managerTarget)
			if tc.setup != nil {
				tc.setup(h, a)
			}
			before, head := h.allRequests(), h.head()
			beforeA, _ := h.svc.Attestation(ctx, a.ID)
			_, _, err := h.svc.Attest(ctx, a.ID, tc.by, tc.line)
			requireSentence(t, requireCode(t, err, tc.code).Msg)
			sameRequests(t, before, h.allRequests())
			if afterA, _ := h.svc.Attestation(ctx, a.ID); afterA.State != beforeA.State {
				t.Fatalf("attestation changed: %s → %s", beforeA.State, afterA.State)
			}
			want := 1
			if tc.code == ErrInvalid {
				want = 0 // bad input is answered, not audited, like every ErrInvalid
			}
			if evs := h.eventsAfter(head.Seq); len(evs) != want || want == 1 && (evs[0].Kind != EventRefused || evs[0].Code != tc.code) {
				t.Fatalf("events %+v, want %d refusal %s", evs, want, tc.code)
			}
		})
	}
}

// TestAttesterCannotApprove: an approver who attested as the manager is refused at
// approval, and an approval by them is refused again at the claim.
func TestAttesterCannotApprove(t *testing.T) {
	ctx := context.Background()
	mgr := Target{ObjectID: oidApprover2, UPN: "ben@contoso.example", DisplayName: "Ben"}
	ben := actor(oidApprover2, "Ben")
	t.Run("at approval", func(t *testing.T) {
		h := newHarness(t, performedPolicy)
		r := h.submit(nil)
		a := h.attestation(r, mgr)
		if _, _, err := h.svc.Attest(ctx, a.ID, ben, "saw him at his desk today"); err != nil {
			t.Fatal(err)
		}
		before := h.allRequests()
		_, err := h.svc.Decide(ctx, r.ID, ben, VerdictApprove, "")
		requireSentence(t, requireCode(t, err, ErrManagerConflict).Msg)
		sameRequests(t, before, h.allRequests())
		if got, err := h.svc.Decide(ctx, r.ID, actor(oidApprover1, "Ann"), VerdictApprove, ""); err != nil || got.State != StateSucceeded {
			t.Fatalf("another approver: %v %s", err, got.State)
		}
	})
	t.Run("at the claim", func(t *testing.T) {
		h := newHarness(t, func(p *Policy) { performedPolicy(p); p.Resume = map[Action]bool{ActionReregister: true} })
		r := h.submit(nil)
		a := h.attestation(r, mgr)
		if _, _, err := h.svc.Attest(ctx, a.ID, ben, "saw him at his desk today"); err != nil {
			t.Fatal(err)
		}
		h.forceState(r.ID, StateApproved, ben)
		if _, err := h.svc.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		if got := h.get(r.ID); got.State != StateFailed || h.exec.total() != 0 || !strings.Contains(got.Error, "attested") {
			t.Fatalf("state %s, error %q, executor calls %d", got.State, got.Error, h.exec.total())
		}
	})
}

// TestNotThem: the manager's "This is not them" cancels, withdraws and freezes, like
// the target's "This is not me"; anyone else is refused.
func TestNotThem(t *testing.T) {
	ctx := context.Background()
	for _, viaAttestation := range []bool{true, false} {
		name := "from a notice"
		if viaAttestation {
			name = "from an attestation"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, performedPolicy)
			r := h.submit(nil)
			a := h.attestation(r, managerTarget)
			id := ""
			if viaAttestation {
				id = a.ID
			}
			before := h.allRequests()
			_, err := h.svc.NotThem(ctx, r.Target, actor(oidOutsider, "Mallory"), id, "notice")
			requireCode(t, err, ErrNotManager)
			sameRequests(t, before, h.allRequests())
			out, err := h.svc.NotThem(ctx, r.Target, managerActor, id, "notice")
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Cancelled) != 1 || h.get(r.ID).State != StateCancelled {
				t.Fatalf("outcome %+v", out)
			}
			if _, frozen, _ := h.svc.Frozen(ctx, oidTarget); !frozen {
				t.Fatal("not frozen")
			}
			_, _, err = h.svc.Attest(ctx, a.ID, managerActor, "saw her in person at desk 4")
			requireCode(t, err, ErrConfirmationUsed)
			h.mustVerify()
		})
	}
}
