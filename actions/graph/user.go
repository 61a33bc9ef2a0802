package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/mfadesk/mfadesk/actions"
)

var userSelect = []string{
	"id", "displayName", "userPrincipalName", "mail", "accountEnabled", "userType",
	"onPremisesSyncEnabled", "createdDateTime", "lastPasswordChangeDateTime",
	"signInSessionsValidFromDateTime",
}

// User resolves ref (object id, UPN or mail) and returns the user with their
// MFA-relevant groups, directory roles and last sign-in, in one batch. A mail address
// that matches more than one user is refused as ambiguous rather than guessed.
func (c *Client) User(ctx context.Context, ref actions.UserRef) (actions.User, error) {
	ev, err := c.Gather(ctx, ref, actions.Query{Sources: actions.ForUser})
	if err != nil {
		return actions.User{}, err
	}
	return ev.User, nil
}

// resolve finds the user. /users/{key} accepts an object id or a UPN; a mail address
// that is not also a UPN needs a $filter.
func (c *Client) resolve(ctx context.Context, ref actions.UserRef) (models.Userable, error) {
	mu, err := c.lookup(ctx, ref)
	if err == nil && ref.Kind == actions.RefUPN {
		c.ids.put(ref.Value, deref(mu.GetId()), !strings.EqualFold(deref(mu.GetUserPrincipalName()), ref.Value))
	}
	return mu, err
}

func (c *Client) lookup(ctx context.Context, ref actions.UserRef) (models.Userable, error) {
	return c.lookupSelect(ctx, ref, userSelect)
}

// lookupSelect is lookup reading the properties in sel.
func (c *Client) lookupSelect(ctx context.Context, ref actions.UserRef, sel []string) (models.Userable, error) {
	op := fmt.Sprintf("look up %s", ref)
	mu, err := c.sdk.Users().ByUserId(ref.Value).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: sel},
	})
	if err == nil {
		if mu == nil || mu.GetId() == nil {
			return nil, &actions.Error{Kind: actions.KindUnavailable, Op: op, Message: "Microsoft Graph returned an empty user", Err: errNoBody}
		}
		return mu, nil
	}
	cerr := classify(op, "/users", err)
	if actions.KindOf(cerr) != actions.KindNotFound || ref.Kind != actions.RefUPN {
		if actions.KindOf(cerr) == actions.KindNotFound {
			return nil, &actions.Error{Kind: actions.KindNotFound, Op: op, Message: fmt.Sprintf("No user %s in the directory.", ref), Err: err}
		}
		return nil, cerr
	}
	filter := "mail eq " + actions.Quote(ref.Value) + " or userPrincipalName eq " + actions.Quote(ref.Value)
	top := int32(2)
	res, err := c.sdk.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: &filter, Select: sel, Top: &top},
	})
	if err != nil {
		return nil, classify(op, "/users", err)
	}
	found := res.GetValue()
	switch len(found) {
	case 0:
		return nil, &actions.Error{Kind: actions.KindNotFound, Op: op, Message: fmt.Sprintf("No user %s in the directory.", ref)}
	case 1:
		return found[0], nil
	default:
		return nil, &actions.Error{Kind: actions.KindBadRequest, Op: op, Message: fmt.Sprintf("%s matches more than one user; name them by UPN or object id.", ref)}
	}
}

func toUser(m models.Userable) actions.User {
	u := actions.User{
		ID:          deref(m.GetId()),
		DisplayName: deref(m.GetDisplayName()),
		UPN:         deref(m.GetUserPrincipalName()),
		Mail:        deref(m.GetMail()),
		UserType:    deref(m.GetUserType()),
	}
	if b := m.GetAccountEnabled(); b != nil {
		u.Enabled = *b
	}
	if b := m.GetOnPremisesSyncEnabled(); b != nil {
		u.OnPremisesSynced = *b
	}
	if t := m.GetCreatedDateTime(); t != nil {
		u.Created = *t
	}
	if t := m.GetLastPasswordChangeDateTime(); t != nil {
		u.LastPasswordChange = *t
	}
	if t := m.GetSignInSessionsValidFromDateTime(); t != nil {
		u.SessionsValidFrom = *t
	}
	return u
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
