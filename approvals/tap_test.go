package approvals

import (
	"context"
	"strings"
	"testing"
)

func TestTAPRequestValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*NewRequest)
		want string // "" for accepted
	}{
		{"one hour, one-time", func(in *NewRequest) { in.TAP = &TAPOptions{LifetimeMinutes: 60, UsableOnce: true} }, ""},
		{"thirty days", func(in *NewRequest) { in.TAP = &TAPOptions{LifetimeMinutes: 43200} }, ""},
		{"no options", func(in *NewRequest) { in.TAP = nil }, "needs the pass's lifetime"},
		{"too short", func(in *NewRequest) { in.TAP = &TAPOptions{LifetimeMinutes: 9} }, "10 minutes to 30 days"},
		{"too long", func(in *NewRequest) { in.TAP = &TAPOptions{LifetimeMinutes: 43201} }, "10 minutes to 30 days"},
		{"options on revoke", func(in *NewRequest) { in.Action = ActionRevoke; in.TAP = &TAPOptions{LifetimeMinutes: 60} }, "Only a tap request"},
		{"no verification", func(in *NewRequest) { in.TAP = &TAPOptions{LifetimeMinutes: 60}; in.Verification = Verification{} }, "verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			in := defaultNewRequest()
			in.Action, in.Methods = ActionTAP, nil
			tc.mod(&in)
			r, err := h.svc.Submit(context.Background(), in)
			if tc.want == "" {
				if err != nil || r.TAP == nil || *r.TAP != *in.TAP {
					t.Fatalf("Submit = %+v, %v", r.TAP, err)
				}
				return
			}
			e := requireCode(t, err, ErrInvalid)
			requireSentence(t, e.Msg)
			if !strings.Contains(e.Msg, tc.want) {
				t.Errorf("refusal %q does not say %q", e.Msg, tc.want)
			}
			if len(h.allRequests()) != 0 {
				t.Error("a refused request was stored")
			}
		})
	}
}

// TestTAPOptionsBoundByDigest: the lifetime the approver saw is the one that runs; a
// record edited in the file afterwards is refused as tampered.
func TestTAPOptionsBoundByDigest(t *testing.T) {
	h := newHarness(t, nil)
	r := h.submit(func(in *NewRequest) {
		in.Action, in.Methods, in.TAP = ActionTAP, nil, &TAPOptions{LifetimeMinutes: 60, UsableOnce: true}
	})
	err := h.svc.update(context.Background(), func(w *wtx) error {
		cur, err := loadRequest(w.tx, r.ID)
		if err != nil {
			return err
		}
		cur.TAP = &TAPOptions{LifetimeMinutes: 43200}
		return w.save(&cur)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.Decide(context.Background(), r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "")
	requireCode(t, err, ErrTampered)
	if h.exec.total() != 0 {
		t.Error("the executor ran a tampered request")
	}
}
