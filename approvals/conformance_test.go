package approvals

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mfadesk/mfadesk/approvals/etcdtest"
)

// storeKind opens stores of one backend for the conformance suite. open returns a
// new handle on the same database each time it is called within one test (for
// etcd, another client: what a second process would have), or the same handle
// where the backend allows only one (bbolt).
type storeKind struct {
	name string
	// shared reports whether two handles are really independent writers.
	shared bool
	open   func(t *testing.T) (open func() Store)
}

// storeKinds returns the backends; etcd starts once per top-level test t, when
// first needed, and every sub-test gets its own key prefix on it.
func storeKinds(t *testing.T) []storeKind {
	srv := sync.OnceValue(func() *etcdtest.Server { return etcdtest.Start(t) })
	return []storeKind{
		{name: "bbolt", open: func(t *testing.T) func() Store {
			st, err := OpenBolt(filepath.Join(t.TempDir(), "conf.db"), BoltOptions{noSync: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return func() Store { return st }
		}},
		{name: "etcd", shared: true, open: func(t *testing.T) func() Store {
			srv := srv()
			prefix := uniquePrefix()
			return func() Store { return openEtcdStore(t, srv.Endpoint(), prefix, 0) }
		}},
	}
}

var prefixN atomic.Int64

func uniquePrefix() string { return fmt.Sprintf("/t%d", prefixN.Add(1)) }

func openEtcdStore(t testing.TB, endpoint, prefix string, leaseTTL int) *EtcdStore {
	t.Helper()
	st, err := OpenEtcd(context.Background(), EtcdOptions{Endpoints: []string{endpoint}, Prefix: prefix, LeaseTTL: leaseTTL})
	if err != nil {
		t.Fatalf("open etcd store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func mustUpdate(t *testing.T, st Store, fn func(Tx) error) {
	t.Helper()
	if err := st.Update(context.Background(), fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func collect(t *testing.T, st Store, bucket string, from []byte, limit int, reverse bool) []string {
	t.Helper()
	var out []string
	err := st.View(context.Background(), func(tx Tx) error {
		fn := func(k, v []byte) (bool, error) {
			out = append(out, string(k)+"="+string(v))
			return limit == 0 || len(out) < limit, nil
		}
		if reverse {
			return tx.ScanReverse(bucket, fn)
		}
		return tx.Scan(bucket, from, fn)
	})
	if err != nil {
		t.Fatalf("scan %s: %v", bucket, err)
	}
	return out
}

// TestStoreConformance runs the same checks against every Store implementation:
// what the Service relies on, and nothing it does not.
func TestStoreConformance(t *testing.T) {
	for _, kind := range storeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			t.Run("missing keys and buckets", func(t *testing.T) {
				st := kind.open(t)()
				mustUpdate(t, st, func(tx Tx) error {
					if v := tx.Get("nobucket", []byte("k")); v != nil {
						return fmt.Errorf("get in a missing bucket = %q", v)
					}
					if err := tx.Delete("nobucket", []byte("k")); err != nil {
						return fmt.Errorf("delete in a missing bucket: %w", err)
					}
					if err := tx.Put("b", []byte("a"), []byte("1")); err != nil {
						return err
					}
					if v := tx.Get("b", []byte("missing")); v != nil {
						return fmt.Errorf("get of a missing key = %q", v)
					}
					return tx.Delete("b", []byte("missing"))
				})
				if got := collect(t, st, "nobucket", nil, 0, false); len(got) != 0 {
					t.Fatalf("scan of a missing bucket: %q", got)
				}
				if got := collect(t, st, "nobucket", nil, 0, true); len(got) != 0 {
					t.Fatalf("reverse scan of a missing bucket: %q", got)
				}
				// An empty value is a value, not a missing key.
				mustUpdate(t, st, func(tx Tx) error { return tx.Put("b", []byte("empty"), []byte{}) })
				_ = st.View(context.Background(), func(tx Tx) error {
					if v := tx.Get("b", []byte("empty")); v == nil || len(v) != 0 {
						t.Fatalf("empty value read back as %v", v)
					}
					return nil
				})
			})

			t.Run("scan order, from, early stop and paging", func(t *testing.T) {
				st := kind.open(t)()
				// Binary keys (8-byte big-endian sequence numbers, bytes 0x00 and 0xff)
				// and more keys than one etcd page.
				var want []string
				for i := range 300 {
					want = append(want, string(seqKey(uint64(i)*0x0101))+"="+strconv.Itoa(i))
				}
				// In batches: etcd caps the writes of one transaction (--max-txn-ops).
				for b := 0; b < 300; b += 100 {
					mustUpdate(t, st, func(tx Tx) error {
						for i := b; i < b+100; i++ {
							if err := tx.Put("seq", seqKey(uint64(i)*0x0101), []byte(strconv.Itoa(i))); err != nil {
								return err
							}
						}
						return nil
					})
				}
				mustUpdate(t, st, func(tx Tx) error {
					for _, k := range []string{"a", "a\x00", "a\xff", "b"} {
						if err := tx.Put("other", []byte(k), []byte("x")); err != nil {
							return err
						}
					}
					return nil
				})
				got := collect(t, st, "seq", nil, 0, false)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("scan order:\n got %q\nwant %q", got[:5], want[:5])
				}
				if got := collect(t, st, "seq", seqKey(100*0x0101), 3, false); fmt.Sprint(got) != fmt.Sprint(want[100:103]) {
					t.Fatalf("scan from key 100, 3 keys: %q", got)
				}
				rev := collect(t, st, "seq", nil, 0, true)
				if len(rev) != 300 || rev[0] != want[299] || rev[299] != want[0] {
					t.Fatalf("reverse scan: %d keys, first %q", len(rev), rev[0])
				}
				if got := collect(t, st, "seq", nil, 2, true); fmt.Sprint(got) != fmt.Sprint([]string{want[299], want[298]}) {
					t.Fatalf("reverse scan, 2 keys: %q", got)
				}
				if got := collect(t, st, "other", []byte("a\x00"), 0, false); fmt.Sprint(got) != fmt.Sprint([]string{"a\x00=x", "a\xff=x", "b=x"}) {
					t.Fatalf("scan from a\\x00: %q", got)
				}
				// Buckets do not bleed into each other even when one name prefixes another.
				mustUpdate(t, st, func(tx Tx) error { return tx.Put("seqx", []byte("z"), []byte("1")) })
				if got := collect(t, st, "seq", nil, 0, false); len(got) != 300 {
					t.Fatalf("bucket seq sees %d keys after writing to seqx", len(got))
				}
			})

			t.Run("a transaction reads its own writes, in scans too", func(t *testing.T) {
				st := kind.open(t)()
				mustUpdate(t, st, func(tx Tx) error {
					for _, k := range []string{"b", "d", "f"} {
						if err := tx.Put("m", []byte(k), []byte("old")); err != nil {
							return err
						}
					}
					return nil
				})
				var fwd, rev []string
				mustUpdate(t, st, func(tx Tx) error {
					_ = tx.Put("m", []byte("a"), []byte("new"))
					_ = tx.Put("m", []byte("d"), []byte("new"))
					_ = tx.Delete("m", []byte("f"))
					_ = tx.Put("m", []byte("g"), []byte("new"))
					if v := tx.Get("m", []byte("d")); string(v) != "new" {
						return fmt.Errorf("own write read back as %q", v)
					}
					if v := tx.Get("m", []byte("f")); v != nil {
						return fmt.Errorf("own delete read back as %q", v)
					}
					err := tx.Scan("m", nil, func(k, v []byte) (bool, error) {
						fwd = append(fwd, string(k)+"="+string(v))
						return true, nil
					})
					if err != nil {
						return err
					}
					return tx.ScanReverse("m", func(k, v []byte) (bool, error) {
						rev = append(rev, string(k)+"="+string(v))
						return true, nil
					})
				})
				want := []string{"a=new", "b=old", "d=new", "g=new"}
				if fmt.Sprint(fwd) != fmt.Sprint(want) {
					t.Fatalf("scan in the transaction: %q, want %q", fwd, want)
				}
				if fmt.Sprint(rev) != fmt.Sprint([]string{"g=new", "d=new", "b=old", "a=new"}) {
					t.Fatalf("reverse scan in the transaction: %q", rev)
				}
				if got := collect(t, st, "m", nil, 0, false); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("after commit: %q", got)
				}
			})

			t.Run("an error rolls everything back", func(t *testing.T) {
				st := kind.open(t)()
				boom := errors.New("boom")
				err := st.Update(context.Background(), func(tx Tx) error {
					_ = tx.Put("r", []byte("k"), []byte("v"))
					return boom
				})
				if !errors.Is(err, boom) {
					t.Fatalf("update returned %v, want fn's error", err)
				}
				if got := collect(t, st, "r", nil, 0, false); len(got) != 0 {
					t.Fatalf("rolled-back write is visible: %q", got)
				}
			})

			t.Run("a view is one snapshot", func(t *testing.T) {
				open := kind.open(t)
				st, other := open(), open()
				mustUpdate(t, st, func(tx Tx) error {
					_ = tx.Put("s", []byte("a"), []byte("1"))
					return tx.Put("s", []byte("b"), []byte("1"))
				})
				err := st.View(context.Background(), func(tx Tx) error {
					if v := tx.Get("s", []byte("a")); string(v) != "1" {
						return fmt.Errorf("a = %q", v)
					}
					if !kind.shared {
						// bbolt: a write transaction waiting on the read transaction
						// of its own goroutine deadlocks; its MVCC gives the snapshot.
						return nil
					}
					// A writer commits in the middle of the read transaction.
					mustUpdate(t, other, func(tx Tx) error {
						_ = tx.Put("s", []byte("a"), []byte("2"))
						_ = tx.Put("s", []byte("b"), []byte("2"))
						return tx.Put("s", []byte("c"), []byte("2"))
					})
					if v := tx.Get("s", []byte("b")); string(v) != "1" {
						return fmt.Errorf("b = %q inside the view, want the snapshot's 1", v)
					}
					n := 0
					_ = tx.Scan("s", nil, func(_, _ []byte) (bool, error) { n++; return true, nil })
					if n != 2 {
						return fmt.Errorf("scan inside the view sees %d keys, want the snapshot's 2", n)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if got := collect(t, st, "s", nil, 0, false); kind.shared && fmt.Sprint(got) != "[a=2 b=2 c=2]" {
					t.Fatalf("after the view: %q", got)
				}
			})

			t.Run("racing read-modify-writes lose no update", func(t *testing.T) {
				// Several handles (for etcd, separate clients: separate processes in
				// effect) increment one counter and append to a scanned bucket. Every
				// increment must count, and every append must see all earlier ones:
				// the commit must fail and fn re-run when another writer changed a key
				// it read or added a key to a range it scanned.
				open := kind.open(t)
				const handles, each = 4, 25
				var (
					wg   sync.WaitGroup
					runs atomic.Int64
				)
				errs := make(chan error, handles)
				for range handles {
					st := open()
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range each {
							err := st.Update(context.Background(), func(tx Tx) error {
								runs.Add(1)
								n, _ := strconv.Atoi(string(tx.Get("c", []byte("n"))))
								if err := tx.Put("c", []byte("n"), []byte(strconv.Itoa(n+1))); err != nil {
									return err
								}
								count := 0
								if err := tx.Scan("log", nil, func(_, _ []byte) (bool, error) { count++; return true, nil }); err != nil {
									return err
								}
								return tx.Put("log", seqKey(uint64(count)), []byte("x"))
							})
							if err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
				st := open()
				_ = st.View(context.Background(), func(tx Tx) error {
					if v := string(tx.Get("c", []byte("n"))); v != strconv.Itoa(handles*each) {
						t.Fatalf("counter = %s, want %d (runs %d)", v, handles*each, runs.Load())
					}
					return nil
				})
				if got := collect(t, st, "log", nil, 0, false); len(got) != handles*each {
					t.Fatalf("log holds %d keys, want %d: a writer appended without seeing another's key", len(got), handles*each)
				}
				if kind.shared {
					t.Logf("%d commits took %d runs of fn", handles*each, runs.Load())
				}
			})

			t.Run("a deleted key that was read fails the commit", func(t *testing.T) {
				open := kind.open(t)
				st, other := open(), open()
				mustUpdate(t, st, func(tx Tx) error { return tx.Put("d", []byte("k"), []byte("v")) })
				runs := 0
				mustUpdate(t, st, func(tx Tx) error {
					runs++
					v := tx.Get("d", []byte("k"))
					if runs == 1 && kind.shared {
						mustUpdate(t, other, func(tx Tx) error { return tx.Delete("d", []byte("k")) })
					}
					if v == nil {
						return nil // gone: nothing to copy
					}
					return tx.Put("d", []byte("copy"), bytes.Clone(v))
				})
				if kind.shared && runs != 2 {
					t.Fatalf("fn ran %d times; the delete by another writer must have forced a re-run", runs)
				}
				_ = st.View(context.Background(), func(tx Tx) error {
					if v := tx.Get("d", []byte("copy")); kind.shared && v != nil {
						t.Fatalf("copy = %q, want none: it was made from a key deleted before the commit", v)
					}
					return nil
				})
			})

			t.Run("cancelled context", func(t *testing.T) {
				st := kind.open(t)()
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				ran := false
				if err := st.Update(ctx, func(Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
					t.Fatalf("update with a cancelled context: %v (fn ran: %v)", err, ran)
				}
				if err := st.View(ctx, func(Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
					t.Fatalf("view with a cancelled context: %v (fn ran: %v)", err, ran)
				}
			})
		})
	}
}
