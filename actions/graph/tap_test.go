package graph_test

import (
	"context"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
)

// TestReplaceTAP: Graph refuses a second valid pass; DeleteTAPs removes the first, and
// the next pass is created.
func TestReplaceTAP(t *testing.T) {
	ctx := context.Background()
	c, fake := fakeTenant(t, nil, graph.Config{})
	id := idOf(t, fake, "paul.password")
	if steps, err := c.DeleteTAPs(ctx, id); err != nil || len(steps) != 0 {
		t.Fatalf("DeleteTAPs with no pass = %v, %v", steps, err)
	}
	if _, err := c.IssueTAP(ctx, id, time.Hour, true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.IssueTAP(ctx, id, time.Hour, true); actions.KindOf(err) != actions.KindBadRequest {
		t.Fatalf("second pass while one is valid: %v, want Graph's 400", err)
	}
	steps, err := c.DeleteTAPs(ctx, id)
	if err != nil || len(steps) != 1 || steps[0].Outcome != actions.OutcomeDeleted {
		t.Fatalf("DeleteTAPs = %v, %v", steps, err)
	}
	if _, err := c.IssueTAP(ctx, id, 10*time.Minute, false); err != nil {
		t.Fatalf("pass after delete: %v", err)
	}
	for _, d := range []time.Duration{9 * time.Minute, 31 * 24 * time.Hour} {
		if _, err := c.IssueTAP(ctx, id, d, true); actions.KindOf(err) != actions.KindInvalidInput {
			t.Errorf("IssueTAP(%s) = %v, want invalid input before any call", d, err)
		}
	}
}
