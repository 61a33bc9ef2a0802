package approvals

import (
	"context"
	"testing"
	"time"
)

// TestLimiterEstimates: a 429 after calls succeeded paces at 97% of them; a storm of
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
			t.Errorf("pace after 200 calls and a 429 = %.1f, want 97%% of 200", l.rate)
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
		t.Errorf("pace = %.1f, want about 97%% of 80 calls / 0.4 s = 194", l.rate)
	}
}

// TestLimiterSilenceNotCounted: the calls answered since a Retry-After silence ended
// are counted over the time since, not over a second that was half silence (which
// halved the pace after every Retry-After).
func TestLimiterSilenceNotCounted(t *testing.T) {
	l := newLimiter(&progress{})
	now := time.Now()
	l.began, l.rate, l.lastCut = now.Add(-5*time.Second), 100, now.Add(-time.Second)
	l.resumed = now.Add(-500 * time.Millisecond)
	for i := 0; i < 100; i++ { // 100 calls in the 500 ms since the silence ended
		l.completed = append(l.completed, l.resumed.Add(time.Duration(i)*5*time.Millisecond))
	}
	l.throttled(time.Second)
	if l.rate < 180 || l.rate > 200 {
		t.Errorf("pace = %.1f, want about 97%% of 100 calls / 0.5 s = 194", l.rate)
	}
	if !l.resumed.After(now) {
		t.Errorf("the silence's end was not recorded: %v", l.resumed)
	}
}

// TestLimiterProbesFromABurst: a 429 moments after the start says only that a burst
// fit; the pace starts at it and grows by recoverBy each quiet second until a 429
// after a longer stretch gives an estimate.
func TestLimiterProbesFromABurst(t *testing.T) {
	l := newLimiter(&progress{})
	now := time.Now()
	l.began = now.Add(-20 * time.Millisecond)
	for i := 0; i < 80; i++ {
		l.completed = append(l.completed, l.began.Add(time.Duration(i)*200*time.Microsecond))
	}
	l.throttled(0)
	if l.rate != 80 || !l.probing {
		t.Fatalf("after a burst of 80: pace %.1f probing %v, want 80 and probing", l.rate, l.probing)
	}
	// A quiet second and more later, the next call raises the pace.
	l.lastCut, l.lastRaise, l.notBefore, l.next = now.Add(-2*time.Second), now.Add(-2*time.Second), time.Time{}, time.Time{}
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := 80 * recoverBy; l.rate < want-0.01 || l.rate > want+0.01 {
		t.Errorf("pace after a quiet second while probing = %.2f, want %.2f", l.rate, want)
	}
}
