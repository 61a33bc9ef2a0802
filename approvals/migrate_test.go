package approvals

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/approvals/etcdtest"
)

// TestMigrateBoltToEtcd copies a database with requests in several states, card
// references and an audit chain into etcd, then runs a Service on the copy: the
// same requests, history and chain head, a verifying chain, and new transitions
// continue the chain. A second migration into the same prefix is refused.
func TestMigrateBoltToEtcd(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, func(p *Policy) { p.RateLimit = 100 })
	done := h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(1) })
	if _, err := h.svc.Decide(ctx, done.ID, actor(oidApprover1, "Avery"), VerdictApprove, "ok"); err != nil {
		t.Fatal(err)
	}
	denied := h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(2) })
	if _, err := h.svc.Decide(ctx, denied.ID, actor(oidApprover1, "Avery"), VerdictDeny, "no"); err != nil {
		t.Fatal(err)
	}
	pending := h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(3) })
	if _, err := h.svc.Decide(ctx, pending.ID, actor(oidRequester, "Riley"), VerdictApprove, ""); CodeOf(err) != ErrSelfApproval {
		t.Fatalf("self approval: %v", err) // an access_refused event in the chain
	}
	// Card references live in a bucket the bot owns; migration copies it unread.
	if err := h.store.Update(ctx, func(tx Tx) error { return tx.Put("cards", []byte(pending.ID), []byte(`{"slack":"C1/1.2"}`)) }); err != nil {
		t.Fatal(err)
	}
	wantReqs, wantHead, wantHist := h.allRequests(), h.head(), h.kinds(done.ID)
	h.close()

	src, err := OpenBolt(h.path, BoltOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	srv := etcdtest.Start(t)
	prefix := uniquePrefix()
	dst := openEtcdStore(t, srv.Endpoint(), prefix, 0)
	rep, err := Migrate(ctx, src, dst)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !rep.Verify.OK || rep.Verify.Events != wantHead.Seq || rep.Buckets["cards"] != 1 || rep.Buckets[bucketRequests] != 3 {
		t.Fatalf("report %+v", rep)
	}

	ex := &fakeExec{}
	svc, err := New(ctx, Options{Store: dst, Directory: newFakeDir(), Executor: ex, Policy: h.policy, Clock: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.List(ctx, ListFilter{})
	if err != nil || !reflect.DeepEqual(got, wantReqs) {
		t.Fatalf("requests on etcd differ:\n got %+v\nwant %+v (%v)", got, wantReqs, err)
	}
	if head, err := svc.Head(ctx); err != nil || head != wantHead {
		t.Fatalf("head %+v %v, want %+v", head, err, wantHead)
	}
	hist, err := svc.History(ctx, done.ID)
	if err != nil || len(hist) != len(wantHist) {
		t.Fatalf("history %+v %v", hist, err)
	}
	if err := dst.View(ctx, func(tx Tx) error {
		if v := tx.Get("cards", []byte(pending.ID)); string(v) != `{"slack":"C1/1.2"}` {
			t.Fatalf("card reference = %q", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The copy is live: the pending request can be approved there, and the chain grows.
	if r, err := svc.Decide(ctx, pending.ID, actor(oidApprover2, "Blair"), VerdictApprove, ""); err != nil || r.State != StateSucceeded {
		t.Fatalf("decide on the copy: %+v %v", r, err)
	}
	if rep, err := svc.Verify(ctx); err != nil || !rep.OK || rep.Events <= wantHead.Seq {
		t.Fatalf("verify after a decision on the copy: %+v %v", rep, err)
	}

	_, err = Migrate(ctx, src, dst)
	if err == nil || !strings.Contains(err.Error(), "already holds mfadesk data") {
		t.Fatalf("second migration into the same prefix: %v", err)
	}
}
