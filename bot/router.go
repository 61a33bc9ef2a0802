package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mfadesk/mfadesk/actions"
)

// Directory is what the router needs from the directory.
type Directory interface {
	User(ctx context.Context, ref actions.UserRef) (actions.User, error)
	MemberGroups(ctx context.Context, userID string, groupIDs []string) ([]string, error)
}

// Caller is the person behind an event. ObjectID is the directory object id the adapter
// mapped the chat user to (Slack: verified profile email; Teams: aadObjectId). An empty
// ObjectID is an unknown caller and gets nothing.
type Caller struct {
	Platform string // slack, teams, web
	ChatID   string // the platform's user id
	Name     string // display name, for messages only — never for decisions
	ObjectID string
}

// Event is one command from a chat.
type Event struct {
	Caller Caller
	Text   string
}

// Groups are the directory groups that grant rights, by object id (names are not unique).
type Groups struct {
	Helpdesk  string
	Approvers string
}

// Router turns events into answers.
type Router struct {
	dir       Directory
	gather    actions.Gatherer
	req       Requests
	notifiers map[string]Notifier
	cards     CardStore
	groups    Groups
	deletes   map[string]bool // method types a re-register deletes
	log       *slog.Logger
	now       func() time.Time
}

// RouterOptions configures a Router.
type RouterOptions struct {
	Directory Directory
	// Gatherer reads the evidence for lookups, diagnose, and a request's method snapshot.
	Gatherer actions.Gatherer
	// Requests files and decides requests; nil disables them. SetRequests sets it later
	// (approvals needs the router's hooks before the router can have the service).
	Requests Requests
	// Notifiers speak first on each platform, keyed by Caller.Platform.
	Notifiers map[string]Notifier
	// Cards remembers posted approval cards (default: in memory).
	Cards  CardStore
	Groups Groups
	Logger *slog.Logger
	Now    func() time.Time
}

// NewRouter checks the options and builds a router. Both groups are required: without
// them nobody could be authorised, and guessing would fail open.
func NewRouter(o RouterOptions) (*Router, error) {
	if o.Directory == nil {
		return nil, errors.New("router: no directory")
	}
	if o.Groups.Helpdesk == "" || o.Groups.Approvers == "" {
		return nil, errors.New("router: the helpdesk and approvers groups must both be configured")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Cards == nil {
		o.Cards = &MemoryCards{}
	}
	if o.Notifiers == nil {
		o.Notifiers = map[string]Notifier{}
	}
	types := actions.DefaultReregisterTypes()
	if t, ok := o.Directory.(interface{ ReregisterTypes() []actions.MethodType }); ok {
		types = t.ReregisterTypes()
	}
	deletes := map[string]bool{}
	for _, t := range types {
		deletes[string(t)] = true
	}
	return &Router{dir: o.Directory, gather: o.Gatherer, req: o.Requests, notifiers: o.Notifiers, cards: o.Cards, groups: o.Groups, deletes: deletes, log: o.Logger, now: o.Now}, nil
}

// SetRequests gives the router its approvals service. Call it once, before serving.
func (r *Router) SetRequests(req Requests) { r.req = req }

// Handle answers one command. It never returns an error: every failure becomes a
// one-line message for the caller.
func (r *Router) Handle(ctx context.Context, ev Event) Message {
	cmd, err := Parse(ev.Text)
	if err != nil {
		var ue *UsageError
		if errors.As(err, &ue) {
			return Refuse(ue.Msg)
		}
		return Refuse("That command could not be read. Try /mfa help.")
	}
	if cmd.Verb == VerbHelp {
		return Help(cmd.Topic)
	}
	roles, err := r.roles(ctx, ev.Caller)
	if err != nil {
		r.log.WarnContext(ctx, "authorise caller", "platform", ev.Caller.Platform, "chat_id", ev.Caller.ChatID, "err", err)
		return Refuse("Your rights could not be checked in the directory, so nothing was done. Try again shortly.")
	}
	if !roles.helpdesk && !roles.approver {
		r.log.InfoContext(ctx, "refused caller without rights", "platform", ev.Caller.Platform, "chat_id", ev.Caller.ChatID, "object_id", ev.Caller.ObjectID, "verb", cmd.Verb)
		return Refuse("You are not in the helpdesk or approvers group, so mfadesk cannot act for you.")
	}
	switch cmd.Verb {
	case VerbUser:
		return r.userLookup(ctx, cmd)
	case VerbMethods, VerbStatus, VerbSignins, VerbAudit, VerbDiagnose:
		return r.lookup(ctx, cmd)
	case VerbReregister, VerbRevoke, VerbTAP:
		return r.requestForm(ctx, ev.Caller, cmd, roles)
	case VerbPending, VerbShow, VerbCancel:
		if r.req == nil {
			return Refuse("Requests are not enabled on this mfadesk.")
		}
		switch cmd.Verb {
		case VerbPending:
			return r.pending(ctx, ev.Caller, roles)
		case VerbShow:
			return r.show(ctx, cmd.ID)
		default:
			return r.cancel(ctx, ev.Caller, cmd.ID)
		}
	default:
		return Refuse(fmt.Sprintf("/mfa %s is not available yet.", cmd.Verb))
	}
}

type callerRoles struct{ helpdesk, approver bool }

// roles checks group membership live, at the time of the command: a stale cache would
// let someone removed from a group keep acting.
func (r *Router) roles(ctx context.Context, c Caller) (callerRoles, error) {
	if c.ObjectID == "" {
		return callerRoles{}, errors.New("caller has no directory identity")
	}
	in, err := r.dir.MemberGroups(ctx, c.ObjectID, []string{r.groups.Helpdesk, r.groups.Approvers})
	if err != nil {
		return callerRoles{}, fmt.Errorf("check groups of %s: %w", c.ObjectID, err)
	}
	var roles callerRoles
	for _, g := range in {
		roles.helpdesk = roles.helpdesk || strings.EqualFold(g, r.groups.Helpdesk)
		roles.approver = roles.approver || strings.EqualFold(g, r.groups.Approvers)
	}
	return roles, nil
}

func (r *Router) userLookup(ctx context.Context, cmd Command) Message {
	u, err := r.dir.User(ctx, cmd.User)
	if err != nil {
		return r.lookupFailed(ctx, cmd, err)
	}
	return RenderUser(u)
}

func (r *Router) lookupFailed(ctx context.Context, cmd Command, err error) Message {
	if k := actions.KindOf(err); k != actions.KindNotFound && k != actions.KindBadRequest {
		r.log.WarnContext(ctx, "lookup failed", "verb", cmd.Verb, "err", err)
	}
	return Refuse(actions.Explain(err))
}
