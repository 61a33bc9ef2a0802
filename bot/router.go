package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot/chat"
)

// Directory is what the router needs from the directory.
type Directory interface {
	User(ctx context.Context, ref actions.UserRef) (actions.User, error)
	MemberGroups(ctx context.Context, userID string, groupIDs []string) ([]string, error)
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
	notifiers map[Platform]Notifier
	cards     CardStore
	groups    Groups
	deletes   map[string]bool // method types a re-register deletes
	log       *slog.Logger
	now       func() time.Time

	domainMu sync.Mutex
	domain   string // the tenant's default domain, for help examples

	roleCache roleCache // recent standing answers, for lookups only

	bulk *bulkState // nil: bulk requests are not enabled
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
	Notifiers map[Platform]Notifier
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
		o.Notifiers = map[Platform]Notifier{}
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
	platform := ev.Caller.Platform
	cmd, err := Parse(ev.Text)
	if err != nil {
		var ue *UsageError
		if errors.As(err, &ue) {
			if ue.Bare != "" {
				r.suggestUser(ctx, ev.Caller, ue)
			}
			return Refuse(ue.Text(platform))
		}
		return Refuse("That command could not be read. Try " + Prefix(platform) + "help.")
	}
	cmd.Platform = platform
	if cmd.Verb == VerbHelp {
		return r.Help(ctx, platform, cmd.Topic)
	}
	if cmd.Verb == VerbMe {
		// Anyone the caller rule accepts, not only the helpdesk: their own data.
		return r.me(ctx, ev.Caller)
	}
	roles, err := r.rolesFor(ctx, ev.Caller, cmd.Verb)
	if err != nil {
		if m, ok := r.ineligible(ctx, ev.Caller, roles.user, "/mfa "+string(cmd.Verb), commandTarget(cmd), err); ok {
			return m
		}
		r.log.WarnContext(ctx, "authorise caller", "platform", ev.Caller.Platform, "chat_id", ev.Caller.ChatID, "err", err)
		return Refuse(directoryFailure(ev.Caller, "Your rights could not be checked in the directory, so nothing was done.", err))
	}
	if !roles.helpdesk && !roles.approver {
		r.log.InfoContext(ctx, "refused caller without rights", "platform", ev.Caller.Platform, "chat_id", ev.Caller.ChatID, "object_id", ev.Caller.ObjectID, "verb", cmd.Verb)
		msg := "You are not in the helpdesk or approvers group, so mfadesk cannot act for you."
		r.refused(ctx, namedActor(ev.Caller, roles.user), "/mfa "+string(cmd.Verb), commandTarget(cmd), approvals.ErrNoRights, msg)
		return Refuse(msg)
	}
	switch cmd.Verb {
	case VerbUser:
		return r.userLookup(ctx, cmd)
	case VerbMethods, VerbStatus, VerbSignins, VerbAudit, VerbDiagnose:
		return r.lookup(ctx, cmd)
	case VerbReregister, VerbRevoke, VerbTAP:
		if cmd.Bulk() {
			return r.bulkForm(ctx, ev.Caller, cmd, roles)
		}
		return r.requestForm(ctx, ev.Caller, cmd, roles)
	case VerbVerify:
		return r.verify(ctx, ev.Caller, cmd, roles)
	case VerbAttest:
		return r.attest(ctx, ev.Caller, cmd, roles)
	case VerbUnfreeze:
		return r.unfreeze(ctx, ev.Caller, cmd, roles)
	case VerbPending, VerbShow, VerbCancel:
		if r.req == nil {
			return Refuse("Requests are not enabled on this mfadesk.")
		}
		switch cmd.Verb {
		case VerbPending:
			return r.pending(ctx, ev.Caller, roles)
		case VerbShow:
			return r.show(ctx, cmd.ID, platform)
		default:
			return r.cancel(ctx, ev.Caller, cmd.ID, roles)
		}
	default:
		return Refuse(fmt.Sprintf("%s is not available yet.", cmd.Verb))
	}
}

// callerRoles is what the caller rule said about the caller: their groups and, when
// it could be read, their directory account (to name them as the directory does).
type callerRoles struct {
	helpdesk, approver bool
	user               actions.User
}

// roles applies the caller rule (standing) live, at the time of the command: a stale
// cache would let someone disabled or removed from a group keep acting.
func (r *Router) roles(ctx context.Context, c Caller) (callerRoles, error) {
	if c.ObjectID == "" {
		return callerRoles{}, errUnlinked
	}
	u, in, err := standing(ctx, r.dir, c.ObjectID, []string{r.groups.Helpdesk, r.groups.Approvers})
	roles := callerRoles{user: u}
	if err != nil {
		return roles, fmt.Errorf("authorise %s: %w", c.ObjectID, err)
	}
	roles.helpdesk = hasGroup(in, r.groups.Helpdesk)
	roles.approver = hasGroup(in, r.groups.Approvers)
	return roles, nil
}

// ineligible turns a caller-rule refusal (unlinked, disabled, guest, gone) into the
// caller's one-line answer and audits it; ok is false for other errors (a directory
// that could not be asked), which the caller answers itself.
func (r *Router) ineligible(ctx context.Context, c Caller, u actions.User, attempt string, target approvals.Target, err error) (Message, bool) {
	var ie *approvals.IneligibleError
	var msg string
	switch {
	case errors.Is(err, errUnlinked):
		msg = unlinkedText(c)
	case errors.As(err, &ie):
		msg = "Your directory account " + ie.Why + ", so mfadesk cannot act for you."
	default:
		return Message{}, false
	}
	r.log.InfoContext(ctx, "refused ineligible caller", "platform", c.Platform, "chat_id", c.ChatID, "object_id", c.ObjectID, "err", err)
	r.refused(ctx, namedActor(c, u), attempt, target, approvals.ErrIneligible, msg)
	return Refuse(msg), true
}

// refused audits a refusal made here, before approvals saw the attempt, so probing by
// people without rights is in the audit log like every other refusal.
func (r *Router) refused(ctx context.Context, by approvals.Actor, attempt string, target approvals.Target, code approvals.Code, msg string) {
	if r.req == nil {
		return
	}
	r.req.Refused(ctx, attempt, by, "", target, code, msg)
}

type IdentityAuditor = chat.IdentityAuditor

var _ IdentityAuditor = (*Router)(nil)

// RefusedIdentity audits an adapter's refusal of who the chat user is.
func (r *Router) RefusedIdentity(ctx context.Context, c Caller, msg string) {
	r.refused(ctx, actorOf(c), "use mfadesk from "+string(c.Platform), approvals.Target{}, approvals.ErrIneligible, msg)
}

// commandTarget names the user a command is about, as typed (a refused caller's
// command is not resolved: that would be a directory read on their behalf).
func commandTarget(cmd Command) approvals.Target {
	switch cmd.User.Kind {
	case actions.RefObjectID:
		return approvals.Target{ObjectID: cmd.User.Value}
	case 0:
		return approvals.Target{}
	}
	return approvals.Target{UPN: cmd.User.Value}
}

func (r *Router) userLookup(ctx context.Context, cmd Command) Message {
	u, err := r.dir.User(ctx, cmd.User)
	if err != nil {
		return r.lookupFailed(ctx, cmd, err)
	}
	if pr, ok := r.dir.(privilegedRoles); ok {
		// memberOf shows only active tenant-wide roles; an eligible (PIM) or scoped
		// admin is still an admin, and the refusal of a request will say so.
		more, err := pr.PrivilegedRoles(ctx, u.ID)
		if err != nil {
			r.log.WarnContext(ctx, "read privileged roles", "user", u.ID, "err", err)
			u.GroupsNote = strings.TrimSpace(u.GroupsNote + " Eligible and scoped roles could not be read: " + actions.Explain(err))
		}
		u.Roles = mergeRoles(u.Roles, more)
	}
	return RenderUser(u)
}

// privilegedRoles is the directory's optional view of scoped and PIM-eligible roles.
type privilegedRoles interface {
	PrivilegedRoles(ctx context.Context, userID string) ([]string, error)
}

// mergeRoles appends the roles of more not already in roles.
func mergeRoles(roles, more []string) []string {
	seen := map[string]bool{}
	for _, r := range roles {
		seen[r] = true
	}
	for _, r := range more {
		if !seen[r] {
			seen[r] = true
			roles = append(roles, r)
		}
	}
	return roles
}

func (r *Router) lookupFailed(ctx context.Context, cmd Command, err error) Message {
	if k := actions.KindOf(err); k != actions.KindNotFound && k != actions.KindBadRequest {
		r.log.WarnContext(ctx, "lookup failed", "verb", cmd.Verb, "err", err)
	}
	return Refuse(actions.Explain(err))
}

// Help answers help in the platform's syntax, with examples in the tenant's domain.
// Adapters that answer help themselves (Slack, in the ack) call it too.
func (r *Router) Help(ctx context.Context, platform Platform, topic string) Message {
	return HelpFor(platform, topic, r.exampleDomain(ctx))
}

// exampleDomain is the tenant's default domain, asked of the directory once (help
// examples only; on failure help shows a placeholder and asks again next time).
func (r *Router) exampleDomain(ctx context.Context) string {
	r.domainMu.Lock()
	defer r.domainMu.Unlock()
	if r.domain != "" {
		return r.domain
	}
	d, ok := r.dir.(interface {
		DefaultDomain(ctx context.Context) (string, error)
	})
	if !ok {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	dom, err := d.DefaultDomain(ctx)
	if err != nil {
		r.log.DebugContext(ctx, "read the tenant's default domain for help examples", "err", err)
		return ""
	}
	r.domain = dom
	return dom
}

// suggestUser looks for the one user whose UPN starts with a bare name ("mfatest1"
// → mfatest1@contoso.com) and puts it in ue.Suggest. Only for callers with rights:
// the answer reveals a directory name. Any failure leaves the usage error as it is.
func (r *Router) suggestUser(ctx context.Context, c Caller, ue *UsageError) {
	s, ok := r.dir.(interface {
		UPNsStartingWith(ctx context.Context, prefix string) ([]string, error)
	})
	if !ok {
		return
	}
	roles, err := r.roles(ctx, c)
	if err != nil || !roles.helpdesk && !roles.approver {
		return
	}
	upns, err := s.UPNsStartingWith(ctx, ue.Bare)
	if err != nil {
		r.log.WarnContext(ctx, "suggest a user", "err", err)
		return
	}
	if len(upns) == 1 {
		ue.Suggest = string(ue.Verb) + " " + upns[0]
	}
}
