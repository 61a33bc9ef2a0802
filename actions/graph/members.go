package graph

import (
	"context"
	"fmt"

	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// MemberGroups asks Graph which of groupIDs userID is a transitive member of, in one
// call (checkMemberGroups takes up to 20 ids).
func (c *Client) MemberGroups(ctx context.Context, userID string, groupIDs []string) ([]string, error) {
	if len(groupIDs) == 0 {
		return nil, nil
	}
	if len(groupIDs) > 20 {
		return nil, fmt.Errorf("check groups of %s: at most 20 groups per call, got %d", userID, len(groupIDs))
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	body := users.NewItemCheckMemberGroupsPostRequestBody()
	body.SetGroupIds(groupIDs)
	res, err := c.sdk.Users().ByUserId(userID).CheckMemberGroups().PostAsCheckMemberGroupsPostResponse(ctx, body, nil)
	if err != nil {
		return nil, classify(fmt.Sprintf("check groups of %s", userID), "/checkMemberGroups", err)
	}
	if res == nil {
		return nil, fmt.Errorf("check groups of %s: %w", userID, errNoBody)
	}
	return res.GetValue(), nil
}
