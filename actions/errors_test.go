package actions

import (
	"fmt"
	"testing"
	"time"
)

// TestExplainedKeepsKind: the executor shows Explain's line but passes the error on;
// its kind (here: throttled, worth a retry) must survive.
func TestExplainedKeepsKind(t *testing.T) {
	err := fmt.Errorf("re-register u1: %w", &Error{Kind: KindThrottled, RetryAfter: 3 * time.Second})
	e := fmt.Errorf("reregister: %w", Explained(err))
	if KindOf(e) != KindThrottled || e.Error() != "reregister: Microsoft Graph is throttling the bot; try again in 3 s." {
		t.Errorf("kind %v, %q", KindOf(e), e.Error())
	}
	if Explained(nil) != nil {
		t.Error("Explained(nil) is not nil")
	}
}
