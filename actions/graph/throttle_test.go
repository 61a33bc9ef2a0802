package graph_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// TestThrottleObserved: a 429 the client retries by itself, whether on a whole HTTP
// call or on one item of a $batch, is still reported to the observer of the call's
// context, with its Retry-After.
func TestThrottleObserved(t *testing.T) {
	for _, tc := range []struct {
		name string
		only string
		call func(ctx context.Context, c *graph.Client, id string) error
	}{
		{"batch item (lookup)", "", func(ctx context.Context, c *graph.Client, id string) error {
			_, err := c.User(ctx, actions.UserRef{Kind: actions.RefObjectID, Value: id})
			return err
		}},
		{"HTTP call (sign-out)", "revokeSignInSessions", func(ctx context.Context, c *graph.Client, id string) error {
			_, err := c.RevokeSessions(ctx, id)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, fake := fakeTenant(t, nil, graph.Config{})
			id := idOf(t, fake, "paul.password")
			f := graphtest.Faults{ThrottleFirst: 1, RetryAfter: 1500 * time.Millisecond}
			if tc.only != "" {
				f.ThrottleOnly = []string{tc.only}
			}
			fake.SetFaults(f)
			var seen atomic.Int64
			var after atomic.Int64
			ctx := actions.WithThrottleObserver(context.Background(), func(ra time.Duration) { seen.Add(1); after.Store(int64(ra)) })
			if err := tc.call(ctx, c, id); err != nil {
				t.Fatal(err)
			}
			if seen.Load() != 1 || time.Duration(after.Load()) != 1500*time.Millisecond {
				t.Errorf("observer saw %d throttled answers (Retry-After %s), want 1 (1.5s)", seen.Load(), time.Duration(after.Load()))
			}
		})
	}
}
