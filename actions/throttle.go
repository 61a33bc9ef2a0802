package actions

import (
	"context"
	"time"
)

type throttleKey struct{}

// WithThrottleObserver returns a context whose directory calls report each throttled
// answer (HTTP 429) to fn with the Retry-After it named (0 when none), as it arrives and
// before any retry. A bulk run uses it to slow all its workers down, not only the one
// that was throttled: Graph's limits are per app and tenant.
func WithThrottleObserver(ctx context.Context, fn func(retryAfter time.Duration)) context.Context {
	return context.WithValue(ctx, throttleKey{}, fn)
}

// ObserveThrottle reports a throttled answer to the observer of ctx, if any. The
// directory client calls it.
func ObserveThrottle(ctx context.Context, retryAfter time.Duration) {
	if fn, ok := ctx.Value(throttleKey{}).(func(time.Duration)); ok && fn != nil {
		fn(retryAfter)
	}
}

type gateKey struct{}

// WithCallGate returns a context whose directory calls each wait for gate first: a
// bulk run paces its calls to what the directory allows. gate returns an error only
// when ctx ends.
func WithCallGate(ctx context.Context, gate func(ctx context.Context) error) context.Context {
	return context.WithValue(ctx, gateKey{}, gate)
}

// WaitCallGate waits for the gate of ctx, if any. The directory client calls it
// before each HTTP request, retries included.
func WaitCallGate(ctx context.Context) error {
	if g, ok := ctx.Value(gateKey{}).(func(context.Context) error); ok && g != nil {
		return g(ctx)
	}
	return nil
}
