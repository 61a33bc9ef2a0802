package chat

import "fmt"

// Message is what the bot says, independent of the platform. Adapters render it as
// Block Kit, an Adaptive Card or HTML. Text is always set: it is the notification and
// screen-reader summary, and what a platform shows when it cannot render the rest.
type Message struct {
	Text     string
	Title    string
	Sections []Section
	Buttons  []Button
	// Refusal marks a one-line answer to bad input or a refused action.
	Refusal bool
	// Private answers go only to the caller (Slack ephemeral, Teams 1:1): lookups hold
	// personal data.
	Private bool
	// Form, when set, asks the caller for the details a request needs.
	Form *Form
	// RequestID ties an approval card to its request, so it can be updated in place.
	RequestID string
	// Errors are per-field form errors (a refused form submission).
	Errors FieldErrors `json:",omitempty"`
}

// Section is one block of a message.
type Section struct {
	Heading  string
	Text     string
	Facts    []Fact
	Table    *Table
	Findings []Finding
	Note     string // a degraded source, e.g. "sign-ins need an Entra ID P1 licence"
}

// Fact is a label and a value.
type Fact struct{ Label, Value string }

// Table is a small table; adapters without tables render each row as a line.
type Table struct {
	Columns []string
	Rows    [][]string
}

// Severity of a finding, always shown in words (not only colour or emoji).
type Severity string

// Severities.
const (
	SeverityInfo    Severity = "info"
	SeverityWarning Severity = "warning"
	SeverityProblem Severity = "problem"
)

// Finding is one conclusion of diagnose, with its evidence.
type Finding struct {
	Severity Severity
	Title    string
	Detail   string
	Evidence string
}

// ButtonKind says what a button does.
type ButtonKind string

// Button kinds.
const (
	ButtonApprove ButtonKind = "approve"
	ButtonDeny    ButtonKind = "deny"
	// ButtonRetry runs again a request that failed on a temporary error.
	ButtonRetry ButtonKind = "retry"
	// ButtonContinue and ButtonStop answer a bulk run paused after its canary; the
	// Decision's Bulk is their kind.
	ButtonContinue ButtonKind = "continue"
	ButtonStop     ButtonKind = "stop"
)

// The values of Decision.Bulk.
const (
	BulkContinue = string(ButtonContinue)
	BulkStop     = string(ButtonStop)
)

// Button is an action on an approval card; Value carries the request id.
type Button struct {
	Kind  ButtonKind
	Label string
	Value string
}

// Form asks for a request's details (Slack modal, Teams card form, web form).
type Form struct {
	Action      string // reregister or revoke
	Target      string // the user as typed, already validated
	TargetLabel string // display name and UPN, for the form's title
	Warning     string // what the action really does
	// Verifications are the identity-verification methods the caller may choose from.
	Verifications []Choice
	// Limits bound the free-text fields (reason, verification_detail, ticket), in
	// characters: adapters set them as input limits and show them as hints.
	Limits map[string]FieldLimit
	// Users, when set, asks for a pasted list of users in a multi-line field named
	// "users" (FormSubmission.Users), within this many characters on the platform.
	Users *FieldLimit `json:",omitempty"`
}

// FieldLimit bounds a free-text answer, in characters after trimming.
type FieldLimit struct{ Min, Max int }

// Hint says the limit in words, for a field's hint or placeholder.
func (l FieldLimit) Hint() string {
	if l.Min > 1 {
		return fmt.Sprintf("%d to %d characters", l.Min, l.Max)
	}
	return fmt.Sprintf("at most %d characters", l.Max)
}

// formLimitTable holds the request form's limits, by field name: checkForm enforces
// them and every form shows them (Form.Limits). Unexported so that no package can
// weaken the rule; read it with FormLimit.
var formLimitTable = map[string]FieldLimit{
	"reason":              {Min: 10, Max: 500},
	"verification_detail": {Min: 3, Max: 500},
	"ticket":              {Min: 2, Max: 64},
}

// FormLimit returns the limit of one request-form field (reason,
// verification_detail, ticket).
func FormLimit(field string) FieldLimit { return formLimitTable[field] }

// FormLimits is a copy of the limits for one form, so no adapter can change the rule.
func FormLimits() map[string]FieldLimit {
	out := make(map[string]FieldLimit, len(formLimitTable))
	for k, v := range formLimitTable {
		out[k] = v
	}
	return out
}

// Choice is one option of a select.
type Choice struct{ Value, Label string }

// Refuse is a one-line private refusal.
func Refuse(text string) Message { return Message{Text: text, Refusal: true, Private: true} }
