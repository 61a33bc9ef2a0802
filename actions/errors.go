package actions

import (
	"errors"
	"fmt"
	"time"
)

// ErrorKind classifies a directory failure so the bot can explain it in one line.
type ErrorKind int

// The kinds of directory failure.
const (
	KindUnknown ErrorKind = iota
	KindNotFound
	KindForbidden
	KindThrottled
	KindBadRequest
	KindUnavailable
	KindInvalidInput
	// KindStale refuses a write whose approval no longer matches the directory.
	KindStale
)

// Error is a directory failure with a plain-language message.
type Error struct {
	Kind       ErrorKind
	Op         string        // what was being done, e.g. "look up user"
	Message    string        // one line, safe to show in chat
	Code       string        // Graph error code, e.g. Request_ResourceNotFound
	Permission string        // for KindForbidden: the application permission that is likely missing
	Licence    string        // for KindForbidden: the licence the tenant lacks, when Graph says so
	RetryAfter time.Duration // for KindThrottled
	RequestID  string        // Graph request-id, for Microsoft support
	Err        error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "directory error"
	}
	if e.Op != "" {
		msg = e.Op + ": " + msg
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err, or KindUnknown.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnknown
}

// Explain turns any error from this package into one line for a chat user.
func Explain(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		return "The directory lookup failed; the details are in the bot's log."
	}
	switch e.Kind {
	case KindNotFound:
		return e.Message
	case KindForbidden:
		if e.Licence != "" {
			return fmt.Sprintf("Microsoft Graph refused (403): the tenant has no %s licence, which this needs.", e.Licence)
		}
		if e.Permission != "" {
			return fmt.Sprintf("Microsoft Graph refused (403): the bot's app registration lacks %s, or the tenant lacks the licence.", e.Permission)
		}
		return "Microsoft Graph refused (403): " + e.Message
	case KindThrottled:
		secs := int(e.RetryAfter.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		return fmt.Sprintf("Microsoft Graph is throttling the bot; try again in %d s.", secs)
	case KindUnavailable:
		if e.Message != "" && e.Message != "Microsoft Graph did not answer in time" {
			return "Microsoft Graph is unavailable (" + e.Message + "); try again shortly."
		}
		return "Microsoft Graph did not answer in time; try again shortly."
	case KindStale:
		return e.Message
	default:
		return e.Error()
	}
}

// Explained returns err with Explain's one line as its message, still wrapping err, so
// a caller that shows the line can pass the error on and KindOf still finds its kind
// (e.g. throttled: worth retrying later).
func Explained(err error) error {
	if err == nil {
		return nil
	}
	return explained{err}
}

type explained struct{ err error }

func (e explained) Error() string { return Explain(e.err) }
func (e explained) Unwrap() error { return e.err }
