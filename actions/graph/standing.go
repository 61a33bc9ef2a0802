package graph

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/mfadesk/mfadesk/actions"
)

// Standing reads what the caller rule needs about a person in one round trip: their
// account (identitySelect: exists, enabled, member or guest) and which of groupIDs
// they are a transitive member of (checkMemberGroups), as two items of one JSON
// $batch. Both are read live, every time. userErr is the account's error (a
// KindNotFound when the person is gone); memErr the membership check's, which the
// caller weighs only once the account passed.
func (c *Client) Standing(ctx context.Context, id string, groupIDs []string) (u actions.User, in []string, userErr, memErr error) {
	op := "read the standing of " + id
	if err := objectID(op, id); err != nil {
		return actions.User{}, nil, err, err
	}
	if len(groupIDs) > 20 {
		err := fmt.Errorf("%s: at most 20 groups per call, got %d", op, len(groupIDs))
		return actions.User{}, nil, err, err
	}
	if c.cfg.Unbatched {
		u, userErr = c.Identity(ctx, actions.UserRef{Kind: actions.RefObjectID, Value: id})
		in, memErr = c.MemberGroups(ctx, id, groupIDs)
		return u, in, userErr, memErr
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	uri, err := c.sdk.Users().ByUserId(id).ToGetRequestInformation(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: identitySelect},
	})
	if err != nil {
		return actions.User{}, nil, fmt.Errorf("%s: build request: %w", op, err), nil
	}
	fs := []*fetch{{op: "look up " + id, path: "/users", ri: uri}}
	if len(groupIDs) > 0 {
		body := users.NewItemCheckMemberGroupsPostRequestBody()
		body.SetGroupIds(groupIDs)
		mri, err := c.sdk.Users().ByUserId(id).CheckMemberGroups().ToPostRequestInformation(ctx, body, nil)
		if err != nil {
			return actions.User{}, nil, nil, fmt.Errorf("check groups of %s: build request: %w", id, err)
		}
		fs = append(fs, &fetch{op: "check groups of " + id, path: "/checkMemberGroups", ri: mri})
	}
	if err := c.runBatch(ctx, c.adapter, fs); err != nil {
		return actions.User{}, nil, fmt.Errorf("%s: %w", op, err), nil
	}
	if userErr = fs[0].err; userErr == nil {
		mu, err := parseAs[models.Userable](fs[0].body, models.CreateUserFromDiscriminatorValue)
		switch {
		case err != nil:
			userErr = fmt.Errorf("look up %s: decode: %w", id, err)
		case mu == nil || mu.GetId() == nil:
			userErr = &actions.Error{Kind: actions.KindUnavailable, Op: "look up " + id, Message: "Microsoft Graph returned an empty user", Err: errNoBody}
		default:
			u = toUser(mu)
		}
	} else if actions.KindOf(userErr) == actions.KindNotFound {
		userErr = &actions.Error{Kind: actions.KindNotFound, Op: "look up " + id, Message: fmt.Sprintf("No user %s in the directory.", id), Err: userErr}
	}
	if len(fs) > 1 {
		if memErr = fs[1].err; memErr == nil {
			var res struct {
				Value []string `json:"value"`
			}
			if err := json.Unmarshal(fs[1].body, &res); err != nil {
				memErr = fmt.Errorf("check groups of %s: decode: %w", id, err)
			} else {
				in = res.Value
			}
		}
	}
	return u, in, userErr, memErr
}
