package approvals

import (
	"time"

	"github.com/mfadesk/mfadesk/actions"
)

// TAPOptions are what a temporary-access-pass request asks for. They are part of the
// filed request (under its digest), so the approver approves this lifetime and use,
// not whatever the executor might be handed later.
type TAPOptions struct {
	LifetimeMinutes int  `json:"lifetime_minutes"`
	UsableOnce      bool `json:"usable_once,omitempty"`
	// Replaces says the target had a pass when the request was filed: the run deletes
	// it first (Graph keeps one per user), which also signs the user out.
	Replaces bool `json:"replaces,omitempty"`
}

// Lifetime is the pass's lifetime as a duration.
func (o TAPOptions) Lifetime() time.Duration { return time.Duration(o.LifetimeMinutes) * time.Minute }

// validateTAP checks that a tap request carries its options and only it does, with a
// lifetime Graph accepts.
func (in NewRequest) validateTAP() *Error {
	switch {
	case in.Action != ActionTAP && in.TAP != nil:
		return refusef(ErrInvalid, "Only a tap request carries pass options.")
	case in.Action != ActionTAP:
		return nil
	case in.TAP == nil:
		return refusef(ErrInvalid, "A tap request needs the pass's lifetime.")
	}
	if err := actions.CheckTAPLifetime(in.TAP.Lifetime()); err != nil {
		return refusef(ErrInvalid, "%s.", capitalize(actions.Explain(err)))
	}
	return nil
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// describe says what pass is asked for, for the audit line: "pass lifetime 1h, one-time".
func (o TAPOptions) describe() string {
	out := "pass lifetime " + actions.FormatLifetime(o.Lifetime())
	if o.UsableOnce {
		out += ", one-time"
	} else {
		out += ", multi-use"
	}
	if o.Replaces {
		out += ", replaces the existing pass"
	}
	return out
}
