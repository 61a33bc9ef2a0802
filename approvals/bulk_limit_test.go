package approvals

import (
	"context"
	"testing"
	"time"
)

// TestLimiterEstimates: a 429 after calls succeeded paces at 95% of them; a storm of
// 429s with nothing succeeding sets no pace (it only waits for Retry-After), so it
// cannot collapse the run to a call a second.
func TestLimiterEstimates(t *testing.T) {
	ctx := context.Background()
	t.Run("limit learnt", func(t *testing.T) {
		l := newLimiter(&progress{})
		l.began = time.Now().Add(-2 * time.Second) // a run under way
		for i := 0; i < 200; i++ {
			if err := l.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			l.Done(200)
		}
		l.throttled(0)
		if l.rate < 185 || l.rate > 195 {
			t.Errorf("pace after 200 calls and a 429 = %.1f, want 95%% of 200", l.rate)
		}
	})
	t.Run("storm without successes", func(t *testing.T) {
		l := newLimiter(&progress{})
		for i := 0; i < 40; i++ {
			if err := l.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			l.Done(429)
			l.throttled(0)
		}
		if l.rate != 0 {
			t.Errorf("pace after 40 calls all throttled = %.1f, want none set", l.rate)
		}
	})
}

// TestLimiterYoungRun: a run throttled 400 ms after it began counts its calls over
// those 400 ms, not over a whole second.
func TestLimiterYoungRun(t *testing.T) {
	l := newLimiter(&progress{})
	l.began = time.Now().Add(-400 * time.Millisecond)
	for i := 0; i < 80; i++ {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		l.Done(200)
	}
	l.throttled(0)
	if l.rate < 180 || l.rate > 200 {
		t.Errorf("pace = %.1f, want about 95%% of 80 calls / 0.4 s = 190", l.rate)
	}
}
