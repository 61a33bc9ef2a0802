package approvals

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestSecondOpenFailsFastWhenLocked(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	h.submit(nil)
	for _, ro := range []bool{false, true} {
		start := time.Now()
		_, err := OpenBolt(h.path, BoltOptions{ReadOnly: ro, LockTimeout: 100 * time.Millisecond})
		e := requireCode(t, err, ErrLocked)
		if want := "database " + h.path + " is locked by another mfadesk process"; e.Msg != want || err.Error() != want {
			t.Fatalf("read-only=%v: error %q, want %q", ro, err, want)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("read-only=%v: second open hung for %s", ro, time.Since(start))
		}
	}
	// The CLI helpers use the default timeout and say the same.
	if _, err := VerifyFile(ctx, h.path); CodeOf(err) != ErrLocked {
		t.Fatalf("VerifyFile while serving: %v", err)
	}
	h.close()
	if rep, err := VerifyFile(ctx, h.path); err != nil || !rep.OK {
		t.Fatalf("VerifyFile after close: %+v, %v", rep, err)
	}
}

func TestFileModeIs0600(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.db")
	loose := filepath.Join(dir, "loose.db")
	if err := os.WriteFile(loose, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fresh, loose} {
		st, err := OpenBolt(p, BoltOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = st.Close()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

func TestSchemaVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	setSchema := func(t *testing.T, path, v string) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte(bucketMeta))
			if err != nil {
				return err
			}
			return b.Put([]byte(keySchema), []byte(v))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		schema string // "" leaves the file without one
		want   string
	}{
		{"newer version is refused", strconv.Itoa(schemaVersion + 1), "newer than this mfadesk understands"},
		{"garbage version is refused", "two", "unreadable schema version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".db")
			setSchema(t, path, tc.schema)
			st, err := OpenBolt(path, BoltOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(ctx, Options{Store: st, Directory: newFakeDir(), Executor: &fakeExec{}, Policy: basePolicy()})
			_ = st.Close()
			if e := requireCode(t, err, ErrSchema); !strings.Contains(e.Msg, tc.want) {
				t.Fatalf("New: %v", err)
			}
			if _, err := VerifyFile(ctx, path); CodeOf(err) != ErrSchema {
				t.Fatalf("VerifyFile: %v", err)
			}
		})
	}
	t.Run("current version opens, and reopens", func(t *testing.T) {
		h := newHarness(t, nil)
		h.reopen()
		if rep, err := h.svc.Verify(ctx); err != nil || !rep.OK {
			t.Fatalf("%+v %v", rep, err)
		}
	})
	t.Run("read-only helpers refuse a file mfadesk never wrote", func(t *testing.T) {
		path := filepath.Join(dir, "empty.db")
		st, err := OpenBolt(path, BoltOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = st.Close()
		if _, err := ListFile(ctx, path, ListFilter{}); CodeOf(err) != ErrSchema {
			t.Fatalf("ListFile: %v", err)
		}
		if _, err := VerifyFile(ctx, filepath.Join(dir, "missing.db")); err == nil || !strings.Contains(err.Error(), "open database") {
			t.Fatalf("VerifyFile of a missing file: %v", err)
		}
	})
}
