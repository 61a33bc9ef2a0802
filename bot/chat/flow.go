package chat

import (
	"context"
)

// FormSubmission is what a request form sends back (Slack modal, Teams card, web form).
type FormSubmission struct {
	Action             string // reregister or revoke
	Target             string // the user as given to the form
	Reason             string
	Verification       string // one of the Choice values of Form.Verifications
	VerificationDetail string // free text: how the identity was verified
	Ticket             string
	// Users is the form's users field (a bulk form opened with reregister --list):
	// a pasted list, read with ParseUserList.
	Users string
}

// Decision is a click on an approval card's Approve, Deny or Retry button.
type Decision struct {
	RequestID     string
	Approve       bool
	Justification string // required for Deny
	// Retry runs again a request that failed on a temporary error (Approve and
	// Justification are then ignored).
	Retry bool
	// Bulk is a press of Continue or Stop on a bulk run paused after its canary
	// (BulkContinue, BulkStop); the other fields but RequestID and Card are ignored.
	Bulk string
	// Card is where the click came from, as the platform reports it (Slack: the
	// message's channel and ts; Teams: the conversation and the activity the invoke
	// replies to; web: the card's id), in the form PostApproval returned it. The
	// request id comes from the button, which the clicker controls; the card does not:
	// a decision (Approve, Deny or Retry) counts only when Card is one of the cards
	// posted for that request.
	Card CardRef
}

// CardRef locates a posted approval card so it can be updated in place. Adapters fill
// it in and read it back; the bot only stores it.
type CardRef struct {
	Platform Platform // slack, teams, web
	Channel  string   // Slack channel id, Teams conversation id
	ID       string   // Slack message ts, Teams activity id
}

// Notifier is what the bot needs from a platform adapter to speak first (outside a
// reply): approval cards, their updates, direct messages and audit-channel posts.
type Notifier interface {
	// PostApproval posts an approval card to the platform's approvals channel.
	PostApproval(ctx context.Context, card Message) (CardRef, error)
	// UpdateApproval replaces a posted card (decided, executed, expired).
	UpdateApproval(ctx context.Context, ref CardRef, card Message) error
	// Tell sends msg privately to a person (the requester learning the outcome).
	Tell(ctx context.Context, to Caller, msg Message) error
	// PostAudit posts one audit line to the platform's audit channel.
	PostAudit(ctx context.Context, text string) error
}

// FieldErrors, when a Message carries them, say which form field was wrong, keyed by
// the field names reason, verification, verification_detail, ticket. Adapters show
// them on the failing block (Slack response_action errors, card validation).
type FieldErrors map[string]string
