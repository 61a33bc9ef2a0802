package approvals

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func bulkUsers(n int) []BulkUser {
	us := make([]BulkUser, n)
	for i := range us {
		us[i] = BulkUser{ObjectID: numberedOID(1000 + i), UPN: fmt.Sprintf("user%d@contoso.com", i)}
	}
	return us
}

// countingWork records which users ran, and how often.
type countingWork struct {
	mu    sync.Mutex
	calls map[string]int
	order []string
	hook  func(n int) // called with the number of calls so far
}

func (c *countingWork) work(_ context.Context, u BulkUser) (BulkResult, error) {
	c.mu.Lock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[u.ObjectID]++
	c.order = append(c.order, u.ObjectID)
	n := len(c.order)
	hook := c.hook
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return BulkResult{Outcome: BulkDone, Detail: "deleted 2 method(s)"}, nil
}

func openBulkStore(t *testing.T, path string) *BoltStore {
	t.Helper()
	st, err := OpenBolt(path, BoltOptions{noSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestBulkCanaryStopAndContinue(t *testing.T) {
	for _, press := range []string{"continue", "stop"} {
		t.Run(press, func(t *testing.T) {
			st := openBulkStore(t, filepath.Join(t.TempDir(), "mfadesk.db"))
			defer st.Close()
			ctx := context.Background()
			b, users, w := NewBulkRunner(st), bulkUsers(10), &countingWork{}
			for i := 0; i < 2; i++ { // asking again before anyone pressed runs nobody more
				p, err := b.Run(ctx, "R-BULK", users, w.work, BulkOptions{})
				if !errors.Is(err, ErrBulkAwaitingContinue) || p.Done != 2 {
					t.Fatalf("run %d: %+v, %v; want the 2 canary users and a pause", i, p, err)
				}
			}
			if len(w.order) != 2 || w.order[0] != users[0].ObjectID || w.order[1] != users[1].ObjectID {
				t.Fatalf("canary ran %v, want the first two users once each", w.order)
			}
			if press == "stop" {
				if err := b.Stop(ctx, "R-BULK"); err != nil {
					t.Fatal(err)
				}
				p, err := b.Run(ctx, "R-BULK", users, w.work, BulkOptions{})
				if err != nil || !p.Finished || p.Done != 2 || len(w.order) != 2 {
					t.Fatalf("after Stop: %+v, %v, %d users ran", p, err, len(w.order))
				}
				if err := b.Continue(ctx, "R-BULK"); CodeOf(err) != ErrInvalid {
					t.Errorf("Continue after Stop = %v, want a refusal", err)
				}
				return
			}
			if err := b.Continue(ctx, "R-BULK"); err != nil {
				t.Fatal(err)
			}
			p, err := b.Run(ctx, "R-BULK", users, w.work, BulkOptions{})
			if err != nil || !p.Finished || p.Done != 10 {
				t.Fatalf("after Continue: %+v, %v", p, err)
			}
			for _, u := range users {
				if w.calls[u.ObjectID] != 1 {
					t.Errorf("%s ran %d times", u.ObjectID, w.calls[u.ObjectID])
				}
			}
		})
	}
}

// TestBulkCrashResumed: the process dies in the middle of a run (its context ends
// and the file is closed); a new process resumes it: every user ends with exactly one
// stored result, and no user whose result was stored runs again.
func TestBulkCrashResumed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mfadesk.db")
	st := openBulkStore(t, path)
	users := bulkUsers(200)
	ctx, crash := context.WithCancel(context.Background())
	first := &countingWork{hook: func(n int) {
		if n == 80 {
			crash()
		}
	}}
	b := NewBulkRunner(st)
	if err := b.Continue(context.Background(), "R-BULK"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Run(ctx, "R-BULK", users, first.work, BulkOptions{MaxConcurrency: 8}); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run = %v, want context.Canceled", err)
	}
	before, err := b.Results(context.Background(), "R-BULK")
	if err != nil {
		t.Fatal(err)
	}
	if len(before) == 0 || len(before) >= len(users) {
		t.Fatalf("%d results stored before the crash: the test crashed nothing in the middle", len(before))
	}
	_ = st.Close()

	st = openBulkStore(t, path)
	defer st.Close()
	b = NewBulkRunner(st)
	second := &countingWork{}
	p, err := b.Run(context.Background(), "R-BULK", users, second.work, BulkOptions{MaxConcurrency: 8})
	if err != nil || !p.Finished || p.Done != len(users) {
		t.Fatalf("resumed run: %+v, %v", p, err)
	}
	for _, r := range before {
		if second.calls[r.ObjectID] != 0 {
			t.Errorf("%s had a stored result and ran again", r.ObjectID)
		}
	}
	after, err := b.Results(context.Background(), "R-BULK")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range after {
		seen[r.ObjectID]++
	}
	for _, u := range users {
		if seen[u.ObjectID] != 1 {
			t.Errorf("%s has %d results, want 1", u.ObjectID, seen[u.ObjectID])
		}
	}
	var lines strings.Builder
	if err := b.WriteResults(context.Background(), "R-BULK", &lines); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(lines.String(), "\n"); n != len(users) || !strings.Contains(lines.String(), `"outcome":"done"`) {
		t.Errorf("export has %d lines, want %d JSON lines", n, len(users))
	}
}

// TestBulkProgressThrottled: the card is updated at most every ProgressEvery, and
// once at the end.
func TestBulkProgressThrottled(t *testing.T) {
	st := openBulkStore(t, filepath.Join(t.TempDir(), "mfadesk.db"))
	defer st.Close()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var updates []BulkProgress
	w := &countingWork{hook: func(int) { mu.Lock(); now = now.Add(time.Second); mu.Unlock() }}
	b := NewBulkRunner(st)
	_ = b.Continue(context.Background(), "R-BULK")
	_, err := b.Run(context.Background(), "R-BULK", bulkUsers(30), w.work, BulkOptions{
		MaxConcurrency: 1, ProgressEvery: 5 * time.Second, Now: clock,
		OnProgress: func(p BulkProgress) { updates = append(updates, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(updates) < 2 || len(updates) > 30/5+2 {
		t.Errorf("%d progress updates for 30 users a second apart, every 5 s: want 2..%d", len(updates), 30/5+2)
	}
	if last := updates[len(updates)-1]; !last.Finished || last.Done != 30 {
		t.Errorf("last update %+v, want finished with 30 done", last)
	}
}

func TestBulkRefusesDuplicates(t *testing.T) {
	st := openBulkStore(t, filepath.Join(t.TempDir(), "mfadesk.db"))
	defer st.Close()
	users := append(bulkUsers(3), bulkUsers(1)...)
	w := &countingWork{}
	_, err := NewBulkRunner(st).Run(context.Background(), "R-BULK", users, w.work, BulkOptions{})
	if CodeOf(err) != ErrInvalid || len(w.order) != 0 {
		t.Errorf("Run with a user twice = %v after %d users, want a refusal before any", err, len(w.order))
	}
}
