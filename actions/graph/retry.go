package graph

import (
	"context"
	"errors"
	"time"

	"github.com/mfadesk/mfadesk/actions"
)

// sleep waits d on clock, or until ctx ends (then it returns ctx's error). The write
// path's waits between retries go through the same Clock as the report scheduler, so
// tests replace one clock and nothing really sleeps.
func sleep(ctx context.Context, clock Clock, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-clock.At(clock.Now().Add(d)):
		return nil
	}
}

// ownRetryKey marks a context whose caller retries transient errors itself: the SDK's
// retry handler and the batch item retry then leave every answer to it, so the waits
// are counted (and bounded) in one place, on one clock.
type ownRetryKey struct{}

func withOwnRetries(ctx context.Context) context.Context {
	return context.WithValue(ctx, ownRetryKey{}, true)
}

func ownRetries(ctx context.Context) bool {
	b, _ := ctx.Value(ownRetryKey{}).(bool)
	return b
}

// transient reports whether err may pass if tried again: throttling (429, and 503 or
// 504 which Graph also uses for load shedding), a timeout, or Graph unreachable or
// failing on its side.
func transient(err error) bool {
	k := actions.KindOf(err)
	return k == actions.KindThrottled || k == actions.KindUnavailable
}

// retryBudget is the time one write action may spend retrying transient Graph errors,
// shared by all its steps: an approved request survives a throttling spell, but the
// approver is told within a bounded time when it did not.
type retryBudget struct {
	c        *Client
	deadline time.Time
}

func (c *Client) newRetryBudget() *retryBudget {
	return &retryBudget{c: c, deadline: c.clock.Now().Add(c.cfg.WriteRetryBudget)}
}

// maxBackoff caps the wait between attempts when Graph names no Retry-After.
const maxBackoff = 15 * time.Second

// do runs one idempotent step (a read, a DELETE where 404 means done, a revoke, setting
// a preference) until it succeeds, fails for good, or the next wait would end past the
// budget. Each attempt has its own timeout (Config.Timeout). The wait is the longer of
// Graph's Retry-After and an exponential backoff from 1 s. The last error is returned
// as it was classified, so a step that is still throttled says so (KindThrottled).
func (b *retryBudget) do(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	ctx = withOwnRetries(ctx)
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(context.WithValue(ctx, attemptKey{}, attempt), b.c.cfg.Timeout)
		err := fn(actx)
		cancel()
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		wait := time.Second << min(attempt, 4)
		wait = min(wait, maxBackoff)
		if ra := retryAfterOf(err); ra > wait {
			wait = ra
		}
		if b.c.clock.Now().Add(wait).After(b.deadline) {
			b.c.log.WarnContext(ctx, "graph still failing, retry budget spent", "step", what, "attempts", attempt+1, "err", err)
			return err
		}
		b.c.log.InfoContext(ctx, "graph transient error, retrying", "step", what, "attempt", attempt+1, "wait", wait, "err", err)
		if sleep(ctx, b.c.clock, wait) != nil {
			return err
		}
	}
}

// attemptKey carries the retry number of a write step's attempt (0 for the first), sent
// as Retry-Attempt like the SDK's own retries, so Graph's logs show a retry as one.
type attemptKey struct{}

func retryAttempt(ctx context.Context) int {
	n, _ := ctx.Value(attemptKey{}).(int)
	return n
}

func retryAfterOf(err error) time.Duration {
	var e *actions.Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
