package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/bot/chat"
)

// Resolver maps a Slack user's verified profile email to the directory user's object
// id. It must return an error unless exactly one directory user matches (the Graph
// directory looks the email up as mail, UPN and proxy address). serve wires the core's
// bot.Router (ObjectIDByEmail), which reads the account and the caller's standing in
// one Graph round trip.
type Resolver interface {
	ObjectIDByEmail(ctx context.Context, email string) (string, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(ctx context.Context, email string) (string, error)

// ObjectIDByEmail calls f.
func (f ResolverFunc) ObjectIDByEmail(ctx context.Context, email string) (string, error) {
	return f(ctx, email)
}

// UserLookup is the directory lookup DirectoryResolver needs; the Graph client's
// User method is one. It must refuse a mail address that matches several users.
type UserLookup interface {
	User(ctx context.Context, ref actions.UserRef) (actions.User, error)
}

// DirectoryResolver resolves a Slack email through the directory's user lookup (UPN,
// then mail). It only maps: whether the account may act (enabled, a member, in
// which groups) is the core's caller rule, applied to every platform alike.
func DirectoryResolver(d UserLookup) Resolver {
	return ResolverFunc(func(ctx context.Context, email string) (string, error) {
		ref, err := actions.ParseUserRef(email)
		if err != nil {
			return "", fmt.Errorf("slack email is not a directory name: %w", err)
		}
		u, err := d.User(ctx, ref)
		if err != nil {
			return "", fmt.Errorf("look up the directory user of a slack email: %w", err)
		}
		return u.ID, nil
	})
}

// refusal is a refused identity: Msg is the one line the Slack user sees, Err the
// cause for the log.
type refusal struct {
	Msg string
	Err error
	// Audited: the user was refused for who they are (a guest, an email that matches
	// no directory user), not because something failed; such refusals are audited.
	Audited bool
}

func (r *refusal) Error() string {
	if r.Err != nil {
		return r.Msg + ": " + r.Err.Error()
	}
	return r.Msg
}

func (r *refusal) Unwrap() error { return r.Err }

// userInfo is the one Web API call identity needs, so tests can count calls.
type userInfo interface {
	GetUserInfoContext(ctx context.Context, user string, options ...goslack.GetUserInfoOption) (*goslack.User, error)
}

// identities maps Slack user ids to callers, caching successes briefly. Refusals are
// not cached: the cause may be transient, and a fixed profile should work at once.
// The cache is short because a Slack account that is deactivated or becomes a guest
// must lose access quickly; group rights are checked live by the router anyway.
type identities struct {
	refused      func(reason string) // counts a refused identity (Options.OnRefused)
	api          userInfo
	resolver     Resolver
	teamID       string
	enterpriseID string
	ttl          time.Duration
	max          int
	now          func() time.Time
	callTimeout  time.Duration
	// audit, if set, records a refusal of who the user is in the audit log.
	audit func(ctx context.Context, c chat.Caller, msg string)

	mu    sync.Mutex
	cache map[string]cachedCaller
}

type cachedCaller struct {
	caller  chat.Caller
	expires time.Time
}

// caller returns the directory identity of a Slack user, or a *refusal that says in
// one line why there is none. It never returns a caller with an empty ObjectID.
func (ids *identities) caller(ctx context.Context, userID string) (_ chat.Caller, err error) {
	defer func() {
		if err != nil && ids.refused != nil {
			ids.refused("identity")
		}
	}()
	if !validID(userID, "UW") {
		return chat.Caller{}, &refusal{Msg: "Your Slack user id could not be read, so nothing was done."}
	}
	now := ids.now()
	ids.mu.Lock()
	if c, ok := ids.cache[userID]; ok && now.Before(c.expires) {
		ids.mu.Unlock()
		return c.caller, nil
	}
	ids.mu.Unlock()

	c, err := ids.lookup(ctx, userID)
	if err != nil {
		var r *refusal
		if ids.audit != nil && errors.As(err, &r) && r.Audited {
			ids.audit(ctx, chat.Caller{Platform: chat.PlatformSlack, ChatID: userID}, r.Msg)
		}
		return chat.Caller{}, err
	}
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if len(ids.cache) >= ids.max {
		ids.evict(now)
	}
	ids.cache[userID] = cachedCaller{caller: c, expires: now.Add(ids.ttl)}
	return c, nil
}

// evict drops expired entries and, if that frees nothing, the entry closest to
// expiry. Callers hold mu.
func (ids *identities) evict(now time.Time) {
	var oldestID string
	var oldest time.Time
	for id, c := range ids.cache {
		if !now.Before(c.expires) {
			delete(ids.cache, id)
			continue
		}
		if oldestID == "" || c.expires.Before(oldest) {
			oldestID, oldest = id, c.expires
		}
	}
	if len(ids.cache) >= ids.max && oldestID != "" {
		delete(ids.cache, oldestID)
	}
}

// appCannotRead are users.info errors about the app itself (token, scopes), which a
// retry does not fix.
var appCannotRead = map[string]bool{"missing_scope": true, "not_authed": true, "invalid_auth": true, "account_inactive": true, "token_revoked": true, "token_expired": true, "no_permission": true, "not_allowed_token_type": true}

func (ids *identities) lookup(ctx context.Context, userID string) (chat.Caller, error) {
	cctx, cancel := context.WithTimeout(ctx, ids.callTimeout)
	u, err := ids.api.GetUserInfoContext(cctx, userID)
	cancel()
	if err != nil {
		msg := "Your Slack profile could not be read, so nothing was done. Try again shortly."
		var se goslack.SlackErrorResponse
		if errors.As(err, &se) && appCannotRead[se.Err] {
			// The app's token or scopes are wrong: only a Slack admin can fix that.
			msg = "Your Slack profile could not be read, so nothing was done: mfadesk's Slack app is not allowed to (Slack says " + se.Err +
				"). A Slack admin must reinstall the app with the users:read and users:read.email scopes; trying again will not help."
		}
		return chat.Caller{}, &refusal{Msg: msg, Err: fmt.Errorf("users.info %s: %w", userID, err)}
	}
	if u == nil || u.ID != userID {
		return chat.Caller{}, &refusal{Msg: "Slack returned a different user than asked for, so nothing was done.", Err: errors.New("users.info returned another user")}
	}
	if err := ids.eligible(u); err != nil {
		err.Audited = true
		return chat.Caller{}, err
	}
	email := strings.TrimSpace(u.Profile.Email)
	rctx, cancel := context.WithTimeout(ctx, ids.callTimeout)
	oid, err := ids.resolver.ObjectIDByEmail(rctx, email)
	cancel()
	if err != nil {
		err = fmt.Errorf("resolve directory user of %s: %w", userID, err)
		if directoryFailed(err) {
			return chat.Caller{}, &refusal{Msg: "Your directory identity could not be checked, so nothing was done: " + actions.Explain(err), Err: err}
		}
		return chat.Caller{}, &refusal{Msg: "Your Slack email address does not match exactly one directory user, so mfadesk cannot act for you.", Err: err, Audited: true}
	}
	if strings.TrimSpace(oid) == "" {
		return chat.Caller{}, &refusal{Msg: "Your Slack email address does not match a directory user, so mfadesk cannot act for you.", Err: errors.New("resolver returned an empty object id")}
	}
	name := strings.TrimSpace(u.RealName)
	if name == "" {
		name = strings.TrimSpace(u.Profile.DisplayName)
	}
	return chat.Caller{Platform: chat.PlatformSlack, ChatID: u.ID, Name: name, ObjectID: oid}, nil
}

// directoryFailed tells a directory that could not answer (refused us, throttled us
// beyond the retry budget, failed) from one that answered "no such user" or "several
// users": only the latter means the email does not match.
func directoryFailed(err error) bool {
	var ae *actions.Error
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Kind {
	case actions.KindNotFound, actions.KindBadRequest, actions.KindInvalidInput:
		return false
	}
	return true
}

// eligible refuses every kind of account that must not act on the directory. Each
// reason is one line for the user.
func (ids *identities) eligible(u *goslack.User) *refusal {
	switch {
	case u.Deleted:
		return &refusal{Msg: "Your Slack account is deactivated, so mfadesk cannot act for you."}
	case u.IsBot || u.IsWorkflowBot || u.IsConnectorBot || u.Profile.BotID != "":
		return &refusal{Msg: "Bots and apps cannot use mfadesk."}
	case u.IsRestricted || u.IsUltraRestricted:
		return &refusal{Msg: "Guest accounts cannot use mfadesk."}
	case u.IsStranger:
		return &refusal{Msg: "People from other organisations (Slack Connect) cannot use mfadesk."}
	case !ids.sameOrg(u):
		return &refusal{Msg: "mfadesk serves only members of its own Slack workspace."}
	case strings.TrimSpace(u.Profile.Email) == "":
		return &refusal{Msg: "Your Slack profile shows no email address, so you cannot be matched to a directory user."}
	case !u.IsEmailConfirmed:
		return &refusal{Msg: "Your Slack email address is not confirmed, so it cannot be matched to a directory user."}
	}
	return nil
}

// sameOrg: with an Enterprise Grid org configured, membership of the org counts (user
// ids are org-wide there); otherwise the user's workspace must be ours.
func (ids *identities) sameOrg(u *goslack.User) bool {
	if ids.enterpriseID != "" {
		return u.Enterprise.EnterpriseID == ids.enterpriseID
	}
	return u.TeamID == ids.teamID
}

// refusalText is the one line a user sees for an identity error.
func refusalText(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		return r.Msg
	}
	return "Your identity could not be checked, so nothing was done."
}
