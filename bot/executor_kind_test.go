package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
)

// throttledWriter fails every write as Graph does after the retry budget: throttled.
type throttledWriter struct{}

func (throttledWriter) RevokeSessions(context.Context, string) (actions.Result, error) {
	return actions.Result{}, &actions.Error{Kind: actions.KindThrottled, RetryAfter: 30 * time.Second}
}

func (throttledWriter) Reregister(context.Context, string, []actions.MethodRef, func(actions.Step)) (actions.Result, error) {
	return actions.Result{}, &actions.Error{Kind: actions.KindThrottled, RetryAfter: 30 * time.Second}
}

func (throttledWriter) IssueTAP(context.Context, string, time.Duration, bool) (actions.TAP, error) {
	return actions.TAP{}, nil
}

// TestExecutorKeepsTransientKind: a write that is still throttled after its retries
// reaches approvals as throttled (so the request can be offered for a retry), with the
// same one-line message.
func TestExecutorKeepsTransientKind(t *testing.T) {
	for _, a := range []approvals.Action{approvals.ActionRevoke, approvals.ActionReregister} {
		_, err := Executor{W: throttledWriter{}}.Execute(context.Background(), approvals.Request{ID: "r1", Action: a}, false,
			func(context.Context, approvals.Step) error { return nil })
		if actions.KindOf(err) != actions.KindThrottled || !strings.Contains(err.Error(), "throttling the bot; try again in 30 s") {
			t.Errorf("%s: err %v (kind %v)", a, err, actions.KindOf(err))
		}
	}
}
