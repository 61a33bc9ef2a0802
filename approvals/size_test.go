package approvals

import (
	"context"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// runLifecycles files n requests and approves each (decision, claim, no-op executor,
// result: the commits of one request's life) on a fresh store.
func runLifecycles(t testing.TB, n int) *harness {
	t.Helper()
	h := &harness{t: t, policy: basePolicy(), dir: newFakeDir(), exec: &fakeExec{}, clock: newTestClock(), notify: make(chan struct{}, 1)}
	h.path = t.TempDir() + "/size.db"
	h.policy.RateLimit = 1 << 30
	h.open()
	t.Cleanup(h.close)
	h.exec.setFn(func(context.Context, Request, bool) (Result, error) { return Result{}, nil })
	h.svc.onChange, h.svc.onAudit = nil, nil
	by := actor(oidApprover1, "Avery")
	for i := range n {
		id := h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(i) }).ID
		if r, err := h.svc.Decide(context.Background(), id, by, VerdictApprove, ""); err != nil || r.State != StateSucceeded {
			t.Fatalf("decide: %+v %v", r, err)
		}
	}
	return h
}

// storeFigures reads the store's used size (bbolt's high-water mark, what the file
// must hold) and how full the leaf pages of bucket are.
func storeFigures(t testing.TB, h *harness, bucket string) (size int64, fill float64) {
	t.Helper()
	err := h.store.db.View(func(tx *bolt.Tx) error {
		size = tx.Size()
		st := tx.Bucket([]byte(bucket)).Stats()
		fill = float64(st.LeafInuse) / float64(st.LeafAlloc)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return size, fill
}

// TestAppendOnlyBucketsFillPages: the audit log only ever grows at the end, so its
// pages are filled instead of split in half (bbolt's default fill percent left them
// 43% full). bbolt splits a page only once it overflows and keeps at least three
// entries for the new page, so with one ~560-byte event per commit a 4 KiB page held
// five: 57%. 8 KiB pages hold about fourteen, and a split leaves eleven: ~85%.
func TestAppendOnlyBucketsFillPages(t *testing.T) {
	h := runLifecycles(t, 300)
	if _, fill := storeFigures(t, h, bucketAudit); fill < 0.80 {
		t.Errorf("audit leaf pages %.0f%% full, want at least 80%%", fill*100)
	}
}

// BenchmarkStoreSize reports the store's size per request lifecycle (submit, approve,
// execute, result) and how full the audit bucket's pages are. Run with -benchtime=1x:
// each op is 2,000 lifecycles on a fresh file.
func BenchmarkStoreSize(b *testing.B) {
	const n = 2000
	for b.Loop() {
		h := runLifecycles(b, n)
		size, fill := storeFigures(b, h, bucketAudit)
		_, idxFill := storeFigures(b, h, bucketAuditByReq)
		b.ReportMetric(float64(size)/n, "bytes/lifecycle")
		b.ReportMetric(fill*100, "audit-fill-%")
		b.ReportMetric(idxFill*100, "audit-index-fill-%")
		h.close()
	}
}
