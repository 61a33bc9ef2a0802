package approvals

import (
	"errors"
	"fmt"
)

// Code classifies why a call was refused. A Code is itself an error, so
// errors.Is(err, approvals.ErrExpired) reports whether err is a refusal of that kind.
type Code string

// Refusal codes. The string values are stable: they are stored in audit events.
const (
	// ErrInvalid: the input is malformed (unknown action, missing reason, bad id).
	ErrInvalid Code = "invalid"
	// ErrNotFound: there is no request with that id.
	ErrNotFound Code = "not_found"
	// ErrAlreadyDecided: the request is no longer pending, or this approver already approved it.
	ErrAlreadyDecided Code = "already_decided"
	// ErrExpired: the request expired before the decision or cancellation arrived.
	ErrExpired Code = "expired"
	// ErrSelfApproval: the requester tried to decide their own request.
	ErrSelfApproval Code = "self_approval"
	// ErrNotApprover: the caller is not a member of the approvers group (or not linked to a directory user).
	ErrNotApprover Code = "not_approver"
	// ErrNotRequester: the caller may not file requests (not in the helpdesk group), or may not cancel this one.
	ErrNotRequester Code = "not_requester"
	// ErrTargetIsActor: the caller is the target of the request.
	ErrTargetIsActor Code = "target_is_actor"
	// ErrOpenRequestExists: the target already has a pending, approved or executing request.
	ErrOpenRequestExists Code = "open_request_exists"
	// ErrRateLimited: the requester filed too many requests in the policy window.
	ErrRateLimited Code = "rate_limited"
	// ErrProtectedTarget: the target is protected and the policy refuses protected targets.
	ErrProtectedTarget Code = "protected_target"
	// ErrWeakVerification: the identity-verification method is too weak for this target.
	ErrWeakVerification Code = "weak_verification"
	// ErrDirectoryUnavailable: the directory could not be asked, so the call was refused (fail closed).
	ErrDirectoryUnavailable Code = "directory_unavailable"
	// ErrTampered: the stored request no longer matches the digest recorded when it was filed.
	ErrTampered Code = "tampered"
	// ErrNotRetryable: Retry was asked of a request that did not fail on a temporary error.
	ErrNotRetryable Code = "not_retryable"
	// ErrLocked: another process holds the database file.
	ErrLocked Code = "locked"
	// ErrSchema: the database was written by a newer mfadesk, or is not an mfadesk database.
	ErrSchema Code = "schema"
	// ErrStoreUnavailable: the shared approvals store (etcd) did not answer, so the
	// call was refused (or, when saving, its outcome is unknown: Msg says which).
	ErrStoreUnavailable Code = "store_unavailable"
)

// Error implements error so that a Code can be the target of errors.Is.
func (c Code) Error() string { return "approvals: " + string(c) }

// audited reports whether a refusal with this code is written to the audit log.
// Malformed input names nothing reliably and storage problems cannot be written to
// the store they concern, so those are left to the caller's log.
func (c Code) audited() bool {
	switch c {
	case ErrInvalid, ErrLocked, ErrSchema, ErrStoreUnavailable:
		return false
	}
	return true
}

// Error is a refusal: Msg is one plain sentence the bot can show to the chat user as
// is; Err, when set, is the underlying cause (a directory error, say) for logs only.
type Error struct {
	Code Code
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + " (" + e.Err.Error() + ")"
	}
	return e.Msg
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrSomething) match on the code.
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}

// CodeOf returns the code of the refusal in err's chain, or "" if err is not a refusal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// UserMessage returns the sentence to show a chat user for err: the refusal's own
// message, or a generic sentence for internal errors, whose details belong in logs.
func UserMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return "Something went wrong inside mfadesk and the error was logged; check the request with show before trying again."
}

func refusef(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}
