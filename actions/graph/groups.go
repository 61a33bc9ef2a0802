package graph

import (
	"context"
	"fmt"

	"github.com/microsoftgraph/msgraph-sdk-go/groups"
)

// GroupName returns a group's display name; operators' checks use it to confirm the
// configured helpdesk and approvers groups exist.
func (c *Client) GroupName(ctx context.Context, id string) (string, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	g, err := c.sdk.Groups().ByGroupId(id).Get(ctx, &groups.GroupItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.GroupItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}},
	})
	if err != nil {
		return "", classify(fmt.Sprintf("read group %s", id), "/groups", err)
	}
	if g == nil || g.GetDisplayName() == nil {
		return "", fmt.Errorf("read group %s: %w", id, errNoBody)
	}
	return *g.GetDisplayName(), nil
}
