package approvals

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestPolicyRefusals drives every refusal of Submit, Decide and Cancel and checks
// that each says one plain sentence, changes no request, runs nothing, and (except
// for malformed input) leaves exactly one access_refused event naming the actor.
func TestPolicyRefusals(t *testing.T) {
	ctx := context.Background()
	var (
		requester = actor(oidRequester, "Riley")
		approver1 = actor(oidApprover1, "Avery")
		approver2 = actor(oidApprover2, "Blake")
		outsider  = actor(oidOutsider, "Mallory")
		unlinked  = Actor{Platform: "slack", ChatID: "U0NOLINK", DisplayName: "Nobody"}
	)
	submitWith := func(mod func(*NewRequest)) func(*harness, string) error {
		return func(h *harness, _ string) error {
			in := defaultNewRequest()
			if mod != nil {
				mod(&in)
			}
			_, err := h.svc.Submit(ctx, in)
			return err
		}
	}
	decideAs := func(a Actor, v Verdict) func(*harness, string) error {
		return func(h *harness, id string) error {
			_, err := h.svc.Decide(ctx, id, a, v, "checked the ticket")
			return err
		}
	}
	cancelAs := func(a Actor) func(*harness, string) error {
		return func(h *harness, id string) error {
			_, err := h.svc.Cancel(ctx, id, a)
			return err
		}
	}
	pending := func(h *harness) string { return h.submit(nil).ID }
	decided := func(v Verdict) func(h *harness) string {
		return func(h *harness) string {
			id := h.submit(nil).ID
			if _, err := h.svc.Decide(ctx, id, approver1, v, ""); err != nil {
				h.t.Fatalf("setup decision: %v", err)
			}
			return id
		}
	}
	upper := func(a Actor) Actor { a.ObjectID = strings.ToUpper(a.ObjectID); return a }
	twoApprovers := func(p *Policy) { p.Protected = ProtectedTwoApprovers }
	graphDown := errors.New("graph: 503 service unavailable")

	tests := []struct {
		name    string
		policy  func(*Policy)
		setup   func(h *harness) string // returns the id the call acts on
		call    func(h *harness, id string) error
		code    Code
		want    string // part of the message
		actor   string // object id in the refused event
		invalid bool   // malformed input: refused without an audit event
	}{
		// Filing.
		{name: "submit by a non-member of the helpdesk group", code: ErrNotRequester, want: "helpdesk group", actor: oidOutsider,
			call: submitWith(func(in *NewRequest) { in.Requester = outsider })},
		{name: "submit from an unlinked chat account", code: ErrNotRequester, want: "not linked", actor: "",
			call: submitWith(func(in *NewRequest) { in.Requester = unlinked })},
		{name: "submit about oneself (object ids compared case-insensitively)", code: ErrTargetIsActor, want: "your own account", actor: oidRequester,
			call: submitWith(func(in *NewRequest) { in.Target.ObjectID = strings.ToUpper(oidRequester) })},
		{name: "submit about a protected target under refuse", code: ErrProtectedTarget, want: "is protected (directory role Global Administrator)", actor: oidRequester,
			call: submitWith(func(in *NewRequest) { in.Target.ObjectID = oidAdmin })},
		{name: "submit phone_kba for a protected target", code: ErrWeakVerification, want: "protected account", actor: oidRequester,
			policy: func(p *Policy) { p.Protected = ProtectedTwoApprovers; p.AllowPhoneKBA = true },
			call: submitWith(func(in *NewRequest) {
				in.Target.ObjectID = oidAdmin
				in.Verification = Verification{Method: VerifyPhoneKBA, Detail: "DOB and employee id"}
			})},
		{name: "submit phone_kba when the policy refuses it", code: ErrWeakVerification, want: "not accepted", actor: oidRequester,
			call: submitWith(func(in *NewRequest) {
				in.Verification = Verification{Method: VerifyPhoneKBA, Detail: "DOB and employee id"}
			})},
		{name: "submit while the target has an open request", code: ErrOpenRequestExists, want: "already pending", actor: oidRequester2,
			setup: func(h *harness) string { pending(h); return "" },
			call:  submitWith(func(in *NewRequest) { in.Requester = actor(oidRequester2, "Sam") })},
		{name: "submit over the rate limit", code: ErrRateLimited, want: "2 requests in the last hour", actor: oidRequester,
			policy: func(p *Policy) { p.RateLimit = 2 },
			setup: func(h *harness) string {
				for i := 1; i <= 2; i++ {
					h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(i) })
				}
				return ""
			},
			call: submitWith(nil)},
		{name: "submit when group membership cannot be checked", code: ErrDirectoryUnavailable, want: "could not be asked", actor: oidRequester,
			setup: func(h *harness) string { h.dir.setErrors(graphDown, nil); return "" },
			call:  submitWith(nil)},
		{name: "submit when protection cannot be checked", code: ErrDirectoryUnavailable, want: "protected account", actor: oidRequester,
			setup: func(h *harness) string { h.dir.setErrors(nil, graphDown); return "" },
			call:  submitWith(nil)},
		{name: "submit without a reason", code: ErrInvalid, want: "reason", invalid: true,
			call: submitWith(func(in *NewRequest) { in.Reason = "  " })},
		{name: "submit reregister without verification", code: ErrInvalid, want: "verified", invalid: true,
			call: submitWith(func(in *NewRequest) { in.Verification = Verification{} })},
		{name: "submit an unknown action", code: ErrInvalid, want: "not an action", invalid: true,
			call: submitWith(func(in *NewRequest) { in.Action = "delete_user" })},

		// Deciding.
		{name: "requester approves own request", code: ErrSelfApproval, want: "you filed it", actor: oidRequester,
			setup: pending, call: decideAs(upper(requester), VerdictApprove)},
		{name: "requester denies own request", code: ErrSelfApproval, want: "you filed it", actor: oidRequester,
			setup: pending, call: decideAs(requester, VerdictDeny)},
		{name: "non-approver approves", code: ErrNotApprover, want: "approvers group", actor: oidOutsider,
			setup: pending, call: decideAs(outsider, VerdictApprove)},
		{name: "unlinked chat account approves", code: ErrNotApprover, want: "not linked", actor: "",
			setup: pending, call: decideAs(unlinked, VerdictApprove)},
		{name: "approver is the target", code: ErrTargetIsActor, want: "your own account", actor: oidApprover2,
			setup: func(h *harness) string {
				return h.submit(func(in *NewRequest) { in.Target = Target{ObjectID: oidApprover2, UPN: "blake@contoso.com"} }).ID
			},
			call: decideAs(approver2, VerdictApprove)},
		{name: "approve when membership cannot be checked", code: ErrDirectoryUnavailable, want: "could not be asked", actor: oidApprover1,
			setup: func(h *harness) string { id := pending(h); h.dir.setErrors(graphDown, nil); return id },
			call:  decideAs(approver1, VerdictApprove)},
		{name: "approve a denied request", code: ErrAlreadyDecided, want: "denied by Avery", actor: oidApprover2,
			setup: decided(VerdictDeny), call: decideAs(approver2, VerdictApprove)},
		{name: "approve a carried-out request (replayed button)", code: ErrAlreadyDecided, want: "carried out", actor: oidApprover1,
			setup: decided(VerdictApprove), call: decideAs(approver1, VerdictApprove)},
		{name: "same approver approves twice on a protected target", code: ErrAlreadyDecided, want: "second approval", actor: oidApprover1,
			policy: twoApprovers,
			setup: func(h *harness) string {
				id := h.submit(func(in *NewRequest) { in.Target.ObjectID = oidAdmin }).ID
				if _, err := h.svc.Decide(ctx, id, approver1, VerdictApprove, ""); err != nil {
					h.t.Fatalf("first approval: %v", err)
				}
				return id
			},
			call: decideAs(upper(approver1), VerdictApprove)},
		{name: "target became protected before the approval", code: ErrProtectedTarget, want: "Tier 0", actor: oidApprover1,
			setup: func(h *harness) string {
				id := pending(h)
				h.dir.protect(oidTarget, "member of Tier 0 admins")
				return id
			},
			call: decideAs(approver1, VerdictApprove)},
		{name: "approve a request whose record was edited", code: ErrTampered, want: "no longer matches", actor: oidApprover1,
			setup: func(h *harness) string {
				id := pending(h)
				err := h.store.Update(ctx, func(tx Tx) error {
					r, err := loadRequest(tx, id)
					if err != nil {
						return err
					}
					r.Target.ObjectID = numberedOID(5) // swap the target after filing
					b, err := encodeRequest(r)
					if err != nil {
						return err
					}
					return tx.Put(bucketRequests, []byte(id), b)
				})
				if err != nil {
					h.t.Fatal(err)
				}
				return id
			},
			call: decideAs(approver1, VerdictApprove)},
		{name: "approve an unknown id", code: ErrNotFound, want: "no request", actor: oidApprover1,
			setup: func(*harness) string { id, _ := newID(); return id },
			call:  decideAs(approver1, VerdictApprove)},
		{name: "approve a malformed id", code: ErrInvalid, want: "not a request id", invalid: true,
			setup: func(*harness) string { return "R-NOPE" },
			call:  decideAs(approver1, VerdictApprove)},

		// Cancelling.
		{name: "someone else cancels", code: ErrNotRequester, want: "Only the requester, Riley", actor: oidApprover1,
			setup: pending, call: cancelAs(approver1)},
		{name: "requester cancels a decided request", code: ErrAlreadyDecided, want: "denied", actor: oidRequester,
			setup: decided(VerdictDeny), call: cancelAs(requester)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.policy)
			id := ""
			if tc.setup != nil {
				id = tc.setup(h)
			}
			before := h.allRequests()
			head := h.head()
			execs := h.exec.total()
			h.mu.Lock()
			changes := len(h.changes)
			h.mu.Unlock()

			err := tc.call(h, id)

			e := requireCode(t, err, tc.code)
			requireSentence(t, e.Msg)
			if UserMessage(err) != e.Msg {
				t.Errorf("UserMessage = %q, want %q", UserMessage(err), e.Msg)
			}
			if !strings.Contains(e.Msg, tc.want) {
				t.Errorf("message %q does not mention %q", e.Msg, tc.want)
			}
			sameRequests(t, before, h.allRequests())
			if got := h.exec.total(); got != execs {
				t.Errorf("executor ran %d more times", got-execs)
			}
			h.mu.Lock()
			if len(h.changes) != changes {
				t.Errorf("OnChange fired for a refusal: %+v", h.changes[changes:])
			}
			h.mu.Unlock()
			evs := h.eventsAfter(head.Seq)
			if tc.invalid {
				if len(evs) != 0 {
					t.Errorf("malformed input was audited: %+v", evs)
				}
			} else {
				if len(evs) != 1 {
					t.Fatalf("want one access_refused event, got %+v", evs)
				}
				ev := evs[0]
				if ev.Kind != EventRefused || ev.Code != tc.code || ev.Actor.ObjectID != tc.actor ||
					!strings.Contains(ev.Detail, e.Msg) || ev.Actor.ChatID == "" {
					t.Errorf("refusal event = %+v", ev)
				}
				if id != "" && tc.code != ErrNotFound && ev.RequestID != id {
					t.Errorf("refusal event names request %q, want %q", ev.RequestID, id)
				}
			}
			h.mustVerify()
		})
	}
}

func TestNewRefusesIncompletePolicy(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"no helpdesk group", func(o *Options) { o.Policy.HelpdeskGroupID = "" }, "helpdesk group"},
		{"no approvers group", func(o *Options) { o.Policy.ApproversGroupID = "" }, "approvers group"},
		{"approvers group not a GUID", func(o *Options) { o.Policy.ApproversGroupID = "Helpdesk Approvers" }, "approvers group"},
		{"unknown protected mode", func(o *Options) { o.Policy.Protected = "ask_nicely" }, "protected mode"},
		{"negative ttl", func(o *Options) { o.Policy.TTL = -1 }, "negative"},
		{"resume of unknown action", func(o *Options) { o.Policy.Resume = map[Action]bool{"wipe": true} }, "unknown action"},
		{"no directory", func(o *Options) { o.Directory = nil }, "directory"},
		{"no executor", func(o *Options) { o.Executor = nil }, "executor"},
		{"no store", func(o *Options) { o.Store = nil }, "store"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Store: h.store, Directory: h.dir, Executor: h.exec, Policy: basePolicy()}
			tc.mutate(&opts)
			if _, err := New(context.Background(), opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	t.Run("defaults fail closed", func(t *testing.T) {
		p := h.svc.Policy()
		if p.Protected != ProtectedRefuse || p.AllowPhoneKBA || p.TTL != DefaultTTL ||
			p.RateLimit != DefaultRateLimit || p.RateWindow != DefaultRateWindow || p.TicketOptional || len(p.Resume) != 0 {
			t.Fatalf("effective default policy = %+v", p)
		}
	})
}

func TestPhoneKBAAllowedForUnprotectedTargetsWhenConfigured(t *testing.T) {
	h := newHarness(t, func(p *Policy) { p.AllowPhoneKBA = true })
	r := h.submit(func(in *NewRequest) {
		in.Verification = Verification{Method: VerifyPhoneKBA, Detail: "DOB + employee id"}
	})
	if r.State != StatePending {
		t.Fatalf("state = %s", r.State)
	}
	// Revoking sessions needs no identity verification at all.
	r2 := h.submit(func(in *NewRequest) {
		in.Action, in.Methods, in.Verification = ActionRevoke, nil, Verification{}
		in.Target.ObjectID = numberedOID(7)
	})
	if r2.State != StatePending {
		t.Fatalf("revoke state = %s", r2.State)
	}
}
