package graph

import (
	"context"
	"fmt"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/mfadesk/mfadesk/actions"
)

// Manager reads the user's manager (GET /users/{id}/manager, User.Read.All), with the
// fields the caller rule needs (identitySelect: enabled, Member). A user without a
// manager is answered 404 Request_ResourceNotFound by Graph, which comes back as
// actions.KindNotFound; a manager that is not a user (an org contact) is treated the
// same, since mfadesk can only ask a directory user.
func (c *Client) Manager(ctx context.Context, userID string) (actions.User, error) {
	op := fmt.Sprintf("read the manager of %s", userID)
	ref, err := actions.ParseUserRef(userID)
	if err != nil || ref.Kind != actions.RefObjectID {
		return actions.User{}, &actions.Error{Kind: actions.KindInvalidInput, Op: op, Message: fmt.Sprintf("%q is not an object id", userID)}
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	obj, err := c.sdk.Users().ByUserId(ref.Value).Manager().Get(ctx, &users.ItemManagerRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemManagerRequestBuilderGetQueryParameters{Select: identitySelect},
	})
	if err != nil {
		cerr := classify(op, "/users/manager", err)
		if actions.KindOf(cerr) == actions.KindNotFound {
			return actions.User{}, &actions.Error{Kind: actions.KindNotFound, Op: op, Message: "The user has no manager in the directory.", Err: err}
		}
		return actions.User{}, cerr
	}
	mu, ok := obj.(models.Userable)
	if !ok || mu.GetId() == nil {
		return actions.User{}, &actions.Error{Kind: actions.KindNotFound, Op: op, Message: "The user's manager is not a directory user."}
	}
	return toUser(mu), nil
}
