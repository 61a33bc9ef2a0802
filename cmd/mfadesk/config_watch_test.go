package main

import (
	"strings"
	"testing"
	"time"
)

// TestConfigWatchAfterReset: absent is the default 24 h, 0 turns the watch off, and a
// value outside the bounds is refused naming the key.
func TestConfigWatchAfterReset(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       time.Duration
		every      time.Duration
		err        string
	}{
		{name: "default", want: 24 * time.Hour, every: time.Minute},
		{name: "off", yaml: "  watch_after_reset: 0s\n", want: 0, every: time.Minute},
		{name: "set", yaml: "  watch_after_reset: 48h\n  watch_interval: 2m\n", want: 48 * time.Hour, every: 2 * time.Minute},
		{name: "too short", yaml: "  watch_after_reset: 1m\n", err: "approvals.watch_after_reset"},
		{name: "poll too often", yaml: "  watch_interval: 1s\n", err: "approvals.watch_interval"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(baseConfig+"approvals:\n  expiry: 30m\n"+tc.yaml), env(goodEnv))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Approvals.WatchFor(); got != tc.want || c.Approvals.WatchInterval != tc.every {
				t.Errorf("watch %v every %v, want %v every %v", got, c.Approvals.WatchInterval, tc.want, tc.every)
			}
		})
	}
}
