package graph

import (
	"context"
	"fmt"

	"github.com/microsoftgraph/msgraph-sdk-go/groups"

	"github.com/mfadesk/mfadesk/actions"
)

// GroupUsers lists the users who are transitive members of a group (members of nested
// groups included, as admins collect the users of a rollback), page by page, and stops
// with an error past max users rather than read a whole tenant.
func (c *Client) GroupUsers(ctx context.Context, groupID string, max int) ([]actions.UserRef, error) {
	op := "list the users of group " + groupID
	if err := objectID(op, groupID); err != nil {
		return nil, err
	}
	top := int32(999)
	b := c.sdk.Groups().ByGroupId(groupID).TransitiveMembers().GraphUser()
	cfg := &groups.ItemTransitiveMembersGraphUserRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.ItemTransitiveMembersGraphUserRequestBuilderGetQueryParameters{Select: []string{"id", "userPrincipalName"}, Top: &top}}
	var out []actions.UserRef
	for page := 0; ; page++ {
		pctx, cancel := c.ctx(ctx)
		res, err := b.Get(pctx, cfg)
		cancel()
		if err != nil {
			return nil, classify(op, "/transitiveMembers", err)
		}
		for _, u := range res.GetValue() {
			if id := deref(u.GetId()); id != "" {
				out = append(out, actions.UserRef{Kind: actions.RefObjectID, Value: id})
			}
		}
		if max > 0 && len(out) > max {
			return nil, &actions.Error{Kind: actions.KindInvalidInput, Op: op, Message: fmt.Sprintf("the group has more than %d users; a bulk request may name at most %d", max, max)}
		}
		next := res.GetOdataNextLink()
		if next == nil || *next == "" {
			return out, nil
		}
		b, cfg = b.WithUrl(*next), nil
	}
}

// GroupByName returns the object id of the one group with this display name. Names
// are not unique in Entra ID: two groups of that name are refused (name it by id),
// none is KindNotFound.
func (c *Client) GroupByName(ctx context.Context, name string) (string, error) {
	op := "find group " + actions.Quote(name)
	filter := "displayName eq " + actions.Quote(name)
	top := int32(2)
	pctx, cancel := c.ctx(ctx)
	defer cancel()
	res, err := c.sdk.Groups().Get(pctx, &groups.GroupsRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.GroupsRequestBuilderGetQueryParameters{Filter: &filter, Select: []string{"id", "displayName"}, Top: &top}})
	if err != nil {
		return "", classify(op, "/groups", err)
	}
	found := res.GetValue()
	switch len(found) {
	case 0:
		return "", &actions.Error{Kind: actions.KindNotFound, Op: op, Message: fmt.Sprintf("No group named %s in the directory.", actions.Quote(name))}
	case 1:
		return deref(found[0].GetId()), nil
	}
	return "", &actions.Error{Kind: actions.KindInvalidInput, Op: op, Message: fmt.Sprintf("More than one group is named %s; name it by object id.", actions.Quote(name))}
}
