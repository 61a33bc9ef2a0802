package bot

import "github.com/mfadesk/mfadesk/bot/chat"

// The chat contract lives in package chat so the adapters need not import bot (and with
// it the approvals store); these aliases keep the bot's own code speaking its old names.
type (
	Message        = chat.Message
	Section        = chat.Section
	Fact           = chat.Fact
	Table          = chat.Table
	Severity       = chat.Severity
	Finding        = chat.Finding
	ButtonKind     = chat.ButtonKind
	Button         = chat.Button
	Form           = chat.Form
	FieldLimit     = chat.FieldLimit
	Choice         = chat.Choice
	FormSubmission = chat.FormSubmission
	Decision       = chat.Decision
	CardRef        = chat.CardRef
	Notifier       = chat.Notifier
	FieldErrors    = chat.FieldErrors
	Caller         = chat.Caller
	Event          = chat.Event
	Handler        = chat.Handler
)

// Severities and button kinds of the chat contract.
const (
	SeverityInfo    = chat.SeverityInfo
	SeverityWarning = chat.SeverityWarning
	SeverityProblem = chat.SeverityProblem
	ButtonApprove   = chat.ButtonApprove
	ButtonDeny      = chat.ButtonDeny
	ButtonRetry     = chat.ButtonRetry
)

// Platform and its constants, as in Caller.Platform.
type Platform = chat.Platform

// Platforms, as in Caller.Platform.
const (
	PlatformSlack = chat.PlatformSlack
	PlatformTeams = chat.PlatformTeams
	PlatformWeb   = chat.PlatformWeb
)

// FormLimit is chat.FormLimit.
func FormLimit(field string) FieldLimit { return chat.FormLimit(field) }

// formLimits is a copy of the limits for one form.
func formLimits() map[string]FieldLimit { return chat.FormLimits() }

// Refuse is chat.Refuse.
func Refuse(text string) Message { return chat.Refuse(text) }

// The Router is the inbound handler of every adapter.
var _ Handler = (*Router)(nil)

// The target-in-the-loop and command-button parts of the chat contract.
type (
	TargetUser       = chat.TargetUser
	TargetNotifier   = chat.TargetNotifier
	UnreachableError = chat.UnreachableError
	TargetClick      = chat.TargetClick
	SecurityPoster   = chat.SecurityPoster
)

// Buttons that stand for a command or answer a confirmation.
const (
	ButtonPick   = chat.ButtonPick
	ButtonNotMe  = chat.ButtonNotMe
	ButtonFile   = chat.ButtonFile
	ButtonCancel = chat.ButtonCancel
	ClickRefusal = chat.ClickRefusal
)

// FormVerb is chat.FormVerb.
func FormVerb(action string) string { return chat.FormVerb(action) }

// The command grammar is part of the chat contract (adapters parse to route a command).
type (
	Verb       = chat.Verb
	Answer     = chat.Answer
	Command    = chat.Command
	UsageError = chat.UsageError
)

// Verbs, limits and answer kinds of the command grammar.
const (
	VerbHelp       = chat.VerbHelp
	VerbUser       = chat.VerbUser
	VerbMethods    = chat.VerbMethods
	VerbStatus     = chat.VerbStatus
	VerbSignins    = chat.VerbSignins
	VerbAudit      = chat.VerbAudit
	VerbDiagnose   = chat.VerbDiagnose
	VerbReregister = chat.VerbReregister
	VerbRevoke     = chat.VerbRevoke
	VerbTAP        = chat.VerbTAP
	VerbPending    = chat.VerbPending
	VerbShow       = chat.VerbShow
	VerbCancel     = chat.VerbCancel
	VerbVerify     = chat.VerbVerify
	VerbUnfreeze   = chat.VerbUnfreeze
	VerbMe         = chat.VerbMe
	VerbAttest     = chat.VerbAttest
	DefaultSignins = chat.DefaultSignins
	MaxSignins     = chat.MaxSignins
	DefaultDays    = chat.DefaultDays
	MaxDays        = chat.MaxDays
	AnswerInline   = chat.AnswerInline
	AnswerForm     = chat.AnswerForm
	AnswerLater    = chat.AnswerLater
)

// The command grammar's functions, under their old names.
var (
	Verbs          = chat.Verbs
	Prefix         = chat.Prefix
	Usage          = chat.Usage
	UsageFor       = chat.UsageFor
	Parse          = chat.Parse
	ValidRequestID = chat.ValidRequestID
)

// Help and the links mfadesk writes are part of the chat contract (adapters render them).
type Span = chat.Span

// LinkURLs is chat.LinkURLs.
var LinkURLs = chat.LinkURLs

// The help and link functions, under their old names.
var (
	Help    = chat.Help
	HelpFor = chat.HelpFor
	Spans   = chat.Spans
)
