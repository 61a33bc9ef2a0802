package graph

import (
	"testing"
	"time"
)

type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time { return c.t }
func (c *stepClock) At(t time.Time) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- t
	return ch
}

// TestReserveIdle: the background share takes a slot only when it goes out now and
// three stay free in the window; never behind a queued lookup, never while the slot a
// window back is still unanswered.
func TestReserveIdle(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		setup func(q *reportQuota, c *stepClock)
		ok    bool
	}{
		{"empty budget", func(*reportQuota, *stepClock) {}, true},
		{"one answered in the window", func(q *reportQuota, _ *stepClock) {
			s, _ := q.reserve(1, time.Minute)
			q.answered(s...)
		}, true},
		{"two answered in the window: a diagnose would have to wait", func(q *reportQuota, _ *stepClock) {
			s, _ := q.reserve(2, time.Minute)
			q.answered(s...)
		}, false},
		{"a window later they no longer count", func(q *reportQuota, c *stepClock) {
			s, _ := q.reserve(5, time.Minute)
			q.answered(s...)
			c.t = c.t.Add(10 * time.Second)
		}, true},
		{"one in flight counts, and one more still fits", func(q *reportQuota, c *stepClock) {
			s, _ := q.reserve(2, time.Minute)
			q.answered(s[1])
			c.t = c.t.Add(10 * time.Second)
		}, true},
		{"a lookup queued for later goes first", func(q *reportQuota, _ *stepClock) {
			s, _ := q.reserve(6, time.Minute) // the sixth is planned a window on
			q.answered(s[:5]...)
		}, false},
		{"the predecessor a window back unanswered", func(q *reportQuota, c *stepClock) {
			s, _ := q.reserve(5, time.Minute)
			q.answered(s[1:]...)
			c.t = c.t.Add(20 * time.Second)
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &stepClock{t: t0}
			q := newReportQuota(DefaultReportLimit, DefaultReportWindow, c)
			tc.setup(q, c)
			s, retry := q.reserveIdle(3)
			if (s != nil) != tc.ok {
				t.Fatalf("reserveIdle took a slot: %v, want %v", s != nil, tc.ok)
			}
			if s == nil && !retry.After(c.t) {
				t.Errorf("refused with a retry at %v, not after now %v", retry, c.t)
			}
			if s != nil {
				if s.at != c.t {
					t.Errorf("slot planned at %v, want now", s.at)
				}
				// A diagnose right after still goes out at once.
				d, _ := q.reserve(3, 0)
				if d == nil || d[2].at.After(c.t) {
					t.Errorf("a diagnose after the background slot would wait")
				}
			}
		})
	}
}
