package actions

import (
	"context"
	"fmt"
	"time"
)

// Graph's range for a temporary access pass's lifetime (lifetimeInMinutes 10–43200).
// The tenant's methods policy may narrow it further; Graph then refuses with its own
// message.
const (
	MinTAPLifetime     = 10 * time.Minute
	MaxTAPLifetime     = 30 * 24 * time.Hour
	DefaultTAPLifetime = time.Hour
)

// CheckTAPLifetime refuses a lifetime outside Graph's range or not in whole minutes, in
// one sentence that names the range. It is the one home of that rule: the command
// parser, the approvals record and the Graph client all ask it.
func CheckTAPLifetime(d time.Duration) error {
	if d < MinTAPLifetime || d > MaxTAPLifetime || d%time.Minute != 0 {
		return &Error{Kind: KindInvalidInput,
			Message: fmt.Sprintf("a temporary access pass lasts from 10 minutes to 30 days, in whole minutes (not %s)", FormatLifetime(d))}
	}
	return nil
}

// FormatLifetime writes a lifetime the way people type it: "1h", "90m", "7d", "1d12h".
func FormatLifetime(d time.Duration) string {
	if d <= 0 || d%time.Minute != 0 {
		return d.String()
	}
	days, rest := d/(24*time.Hour), d%(24*time.Hour)
	h, m := rest/time.Hour, (rest%time.Hour)/time.Minute
	out := ""
	if days > 0 {
		out += fmt.Sprintf("%dd", days)
	}
	if h > 0 {
		out += fmt.Sprintf("%dh", h)
	}
	if m > 0 {
		out += fmt.Sprintf("%dm", m)
	}
	return out
}

// TAPReplacer deletes a user's existing temporary access passes. Graph keeps one pass
// per user and will not create another while one is valid, so an approved pass
// replaces the old one: the executor deletes it first. Deleting a valid pass also
// signs the user out, which the request card says.
type TAPReplacer interface {
	// DeleteTAPs deletes every temporary access pass of the user and reports one step
	// per pass (deleted, or already gone). No passes is no steps and no error.
	DeleteTAPs(ctx context.Context, userID string) ([]Step, error)
}
