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

// CallGate paces a run's directory calls: Wait blocks until the next call may start
// (an error only when ctx ends), and Done reports how it ended (the HTTP status, 0 for
// no answer), so the gate can learn the rate the directory allows.
type CallGate interface {
	Wait(ctx context.Context) error
	Done(status int)
}

// WithCallGate returns a context whose directory calls each pass through gate: a bulk
// run paces its calls to what the directory allows.
func WithCallGate(ctx context.Context, gate CallGate) context.Context {
	return context.WithValue(ctx, gateKey{}, gate)
}

// CallGateOf returns the gate of ctx, or nil. The directory client calls its Wait
// before each HTTP request, retries included, and its Done after.
func CallGateOf(ctx context.Context) CallGate {
	g, _ := ctx.Value(gateKey{}).(CallGate)
	return g
}
