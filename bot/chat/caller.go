package chat

import "context"

// Caller is the person behind an event. ObjectID is the directory object id the adapter
// mapped the chat user to (Slack: verified profile email; Teams: aadObjectId). An empty
// ObjectID is an unknown caller and gets nothing.
type Caller struct {
	Platform Platform
	ChatID   string // the platform's user id
	Name     string // display name, for messages only — never for decisions
	ObjectID string
}

// Event is one command from a chat.
type Event struct {
	Caller Caller
	Text   string
}

// Platform names a chat platform; its value is what cards, the audit log and metrics
// record.
type Platform string

// Title is the platform's name as people write it ("Slack"), for sentences.
func (p Platform) Title() string {
	switch p {
	case PlatformSlack:
		return "Slack"
	case PlatformTeams:
		return "Teams"
	case PlatformWeb:
		return "the demo"
	}
	return string(p)
}

// Platforms, as in Caller.Platform and CardRef.Platform.
const (
	PlatformSlack Platform = "slack"
	PlatformTeams Platform = "teams"
	PlatformWeb   Platform = "web"
)

// Handler is what every adapter needs from the bot: the answer to a typed command, to a
// submitted request form and to a click on an approval card. The bot's Router implements
// it; adapters declare no copy of their own.
type Handler interface {
	Handle(ctx context.Context, ev Event) Message
	Submit(ctx context.Context, c Caller, f FormSubmission) Message
	Decide(ctx context.Context, c Caller, d Decision) Message
}

// IdentityAuditor is implemented by the Router for adapters that refuse a chat user
// before any command reaches the core, because the chat account maps to no eligible
// directory user (a Slack guest, an email that matches no one): those refusals are
// audited too.
type IdentityAuditor interface {
	RefusedIdentity(ctx context.Context, c Caller, msg string)
}
