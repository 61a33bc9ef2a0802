package actions

import (
	"strings"
	"testing"
	"time"
)

func TestCheckTAPLifetime(t *testing.T) {
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{
		{10 * time.Minute, true}, {time.Hour, true}, {30 * 24 * time.Hour, true},
		{9 * time.Minute, false}, {30*24*time.Hour + time.Minute, false}, {0, false},
		{90 * time.Second * 11, false}, // 16m30s: not whole minutes
	} {
		err := CheckTAPLifetime(tc.d)
		if (err == nil) != tc.ok {
			t.Errorf("CheckTAPLifetime(%s) = %v, want ok=%v", tc.d, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "10 minutes to 30 days") {
			t.Errorf("CheckTAPLifetime(%s) does not name the range: %v", tc.d, err)
		}
	}
}

func TestFormatLifetime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", 90 * time.Minute: "1h30m", 7 * 24 * time.Hour: "7d", 36 * time.Hour: "1d12h", 10 * time.Minute: "10m",
	} {
		if got := FormatLifetime(d); got != want {
			t.Errorf("FormatLifetime(%s) = %q, want %q", d, got, want)
		}
	}
}
