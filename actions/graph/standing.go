package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

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
	fs, err := c.standingFetches(ctx, id, groupIDs)
	if err != nil {
		return actions.User{}, nil, err, err
	}
	if err := c.runBatch(ctx, c.adapter, fs); err != nil {
		return actions.User{}, nil, fmt.Errorf("%s: %w", op, err), nil
	}
	u, in, userErr, memErr = parseStanding(id, fs)
	return u, in, userErr, memErr
}

// standingFetches are Standing's reads of id: the account, and checkMemberGroups when
// groupIDs is not empty.
func (c *Client) standingFetches(ctx context.Context, id string, groupIDs []string) ([]*fetch, error) {
	op := "read the standing of " + id
	uri, err := c.sdk.Users().ByUserId(id).ToGetRequestInformation(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: identitySelect},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: build request: %w", op, err)
	}
	fs := []*fetch{{op: "look up " + id, path: "/users", ri: uri}}
	if len(groupIDs) > 0 {
		mf, err := c.memberGroupsFetch(ctx, id, groupIDs)
		if err != nil {
			return nil, err
		}
		fs = append(fs, mf)
	}
	return fs, nil
}

// memberGroupsFetch is MemberGroups' request, to run in a $batch.
func (c *Client) memberGroupsFetch(ctx context.Context, id string, groupIDs []string) (*fetch, error) {
	body := users.NewItemCheckMemberGroupsPostRequestBody()
	body.SetGroupIds(groupIDs)
	mri, err := c.sdk.Users().ByUserId(id).CheckMemberGroups().ToPostRequestInformation(ctx, body, nil)
	if err != nil {
		return nil, fmt.Errorf("check groups of %s: build request: %w", id, err)
	}
	return &fetch{op: "check groups of " + id, path: "/checkMemberGroups", ri: mri}, nil
}

// parseMemberGroups reads an answered checkMemberGroups.
func parseMemberGroups(id string, f *fetch) ([]string, error) {
	if f.err != nil {
		return nil, f.err
	}
	var res struct {
		Value []string `json:"value"`
	}
	if err := json.Unmarshal(f.body, &res); err != nil {
		return nil, fmt.Errorf("check groups of %s: decode: %w", id, err)
	}
	return res.Value, nil
}

// parseStanding reads the answered standingFetches of id.
func parseStanding(id string, fs []*fetch) (u actions.User, in []string, userErr, memErr error) {
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
		in, memErr = parseMemberGroups(id, fs[1])
	}
	return u, in, userErr, memErr
}

// StandingByName is Standing for a person named by UPN or mail (a chat platform's
// verified email): the account (identitySelect) and checkMemberGroups, both keyed by
// the name, in one JSON $batch, where Identity and then Standing took two round trips.
// Graph keys /users/{name} by UPN; a name that is no UPN (a mail address) is looked up
// as Identity does (refusing a mail address that matches several users) and then read
// by object id.
func (c *Client) StandingByName(ctx context.Context, ref actions.UserRef, groupIDs []string) (u actions.User, in []string, userErr, memErr error) {
	if checked, err := actions.ParseUserRef(ref.Value); err != nil || checked.Kind != ref.Kind {
		err := &actions.Error{Kind: actions.KindInvalidInput, Op: "read the directory", Message: fmt.Sprintf("%q is not a UPN, mail address or object id", ref.Value)}
		return actions.User{}, nil, err, err
	}
	if ref.Kind == actions.RefObjectID {
		return c.Standing(ctx, ref.Value, groupIDs)
	}
	if len(groupIDs) > 20 {
		err := fmt.Errorf("read the standing of %s: at most 20 groups per call, got %d", ref, len(groupIDs))
		return actions.User{}, nil, err, err
	}
	byID := func() (actions.User, []string, error, error) {
		u, err := c.Identity(ctx, ref)
		if err != nil {
			return actions.User{}, nil, err, nil
		}
		return c.Standing(ctx, u.ID, groupIDs)
	}
	if c.cfg.Unbatched {
		return byID()
	}
	bctx, cancel := c.ctx(ctx)
	defer cancel()
	fs, err := c.standingFetches(bctx, ref.Value, groupIDs)
	if err != nil {
		return actions.User{}, nil, err, err
	}
	if err := c.runBatch(bctx, c.adapter, fs); err != nil {
		err = fmt.Errorf("read the standing of %s: %w", ref, err)
		return actions.User{}, nil, err, nil
	}
	u, in, userErr, memErr = parseStanding(ref.Value, fs)
	if actions.KindOf(userErr) == actions.KindNotFound {
		// Not a UPN; perhaps a mail address.
		return byID()
	}
	if userErr == nil {
		c.ids.put(ref.Value, u.ID, !strings.EqualFold(u.UPN, ref.Value))
	}
	return u, in, userErr, memErr
}
