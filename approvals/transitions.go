package approvals

import (
	"errors"
	"fmt"
	"slices"
)

// transitions is the state machine drawn in doc.go, as data: from each state, the
// states one write may move a request to. The zero State is a request not stored
// yet. A state is listed as its own successor where a write keeps it on purpose: an
// approval that is not the last one, a step recorded while executing, a re-claim by
// Recover. wtx.save, the single write path of a request, refuses anything else.
var transitions = map[State][]State{
	"":             {StatePending},
	StatePending:   {StatePending, StateApproved, StateDenied, StateExpired, StateCancelled},
	StateApproved:  {StateExecuting, StateFailed},
	StateExecuting: {StateExecuting, StateSucceeded, StateFailed, StatePaused},
	// A bulk run paused after its canary: Continue claims it again, Stop ends it.
	StatePaused: {StateExecuting, StateStopped, StateFailed},
	StateFailed: {StateApproved}, // Retry of a retryable failure
}

// errIllegalTransition marks a write the state machine does not allow: a bug in
// this package, never a user's mistake, so nothing is written.
var errIllegalTransition = errors.New("illegal state transition")

// checkTransition says whether request id may move from one state to another.
func checkTransition(id string, from, to State) error {
	if slices.Contains(transitions[from], to) {
		return nil
	}
	shown := string(from)
	if from == "" {
		shown = "(new)"
	}
	return fmt.Errorf("save request %s: %s → %s: %w", id, shown, to, errIllegalTransition)
}
