package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/mfadesk/mfadesk/actions"
)

// identitySelect is all that mapping a chat account to a directory user needs: who it
// is, and whether it may act at all (enabled, not a guest).
var identitySelect = []string{"id", "displayName", "userPrincipalName", "mail", "accountEnabled", "userType"}

// Identity maps a chat account's verified email or UPN (or an object id) to the
// directory user, reading only identitySelect: one round trip, where User also reads
// the groups, roles and last sign-in (a batch after the name is resolved). The account
// state is always read live; only the name → object id mapping is cached, and it is
// trusted only while the user still carries that name. A mail address that matches
// several users is refused, as in User.
func (c *Client) Identity(ctx context.Context, ref actions.UserRef) (actions.User, error) {
	if checked, err := actions.ParseUserRef(ref.Value); err != nil || checked.Kind != ref.Kind {
		return actions.User{}, &actions.Error{Kind: actions.KindInvalidInput, Op: "read the directory", Message: fmt.Sprintf("%q is not a UPN, mail address or object id", ref.Value)}
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	if ref.Kind != actions.RefObjectID {
		if cached, ok := c.ids.get(ref.Value); ok {
			mu, err := c.lookupSelect(ctx, actions.UserRef{Kind: actions.RefObjectID, Value: cached.id}, identitySelect)
			if err != nil && actions.KindOf(err) != actions.KindNotFound {
				return actions.User{}, err
			}
			if err == nil {
				u := toUser(mu)
				still := strings.EqualFold(u.UPN, ref.Value)
				if cached.byMail {
					still = strings.EqualFold(u.Mail, ref.Value)
				}
				if still {
					return u, nil
				}
			}
			// Gone, or the name now belongs to someone else: resolve it afresh.
			c.ids.forget(ref.Value)
		}
	}
	mu, err := c.lookupSelect(ctx, ref, identitySelect)
	if err != nil {
		return actions.User{}, err
	}
	if ref.Kind != actions.RefObjectID {
		c.ids.put(ref.Value, deref(mu.GetId()), !strings.EqualFold(deref(mu.GetUserPrincipalName()), ref.Value))
	}
	return toUser(mu), nil
}

// IdentityLookup adapts Identity to a lookup interface with a User method (the chat
// adapters' directory resolvers), so they read the identity fields only.
type IdentityLookup struct{ Client *Client }

// User calls Identity.
func (l IdentityLookup) User(ctx context.Context, ref actions.UserRef) (actions.User, error) {
	return l.Client.Identity(ctx, ref)
}
