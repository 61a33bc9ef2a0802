package graph

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/microsoftgraph/msgraph-sdk-go/groups"
)

// GroupNames returns the display names of groups by object id, for messages (a
// refusal that names "the protected group Tier0-Admins" rather than a GUID). Several
// groups cost one round trip: a JSON $batch of at most 20 reads. A group that cannot
// be read is left out of the map, so the caller shows its id; only a failure of the
// whole call is an error.
func (c *Client) GroupNames(ctx context.Context, ids []string) (map[string]string, error) {
	if len(ids) > 20 {
		return nil, fmt.Errorf("read group names: at most 20 groups per call, got %d", len(ids))
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	var fs []*fetch
	for _, id := range ids {
		if err := objectID("read group "+id, id); err != nil {
			return nil, err
		}
		ri, err := c.sdk.Groups().ByGroupId(id).ToGetRequestInformation(ctx, &groups.GroupItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.GroupItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}},
		})
		if err != nil {
			return nil, fmt.Errorf("read group %s: build request: %w", id, err)
		}
		fs = append(fs, &fetch{op: "read group " + id, path: "/groups", ri: ri})
	}
	if len(fs) == 0 {
		return map[string]string{}, nil
	}
	if c.cfg.Unbatched {
		c.runEach(ctx, c.adapter, fs)
	} else if err := c.runBatch(ctx, c.adapter, fs); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, f := range fs {
		if f.err != nil {
			c.log.InfoContext(ctx, "group name unavailable", "group", ids[i], "err", f.err)
			continue
		}
		var g struct {
			DisplayName string `json:"displayName"`
		}
		if err := json.Unmarshal(f.body, &g); err != nil || g.DisplayName == "" {
			continue
		}
		out[ids[i]] = g.DisplayName
	}
	return out, nil
}

var _ interface {
	GroupNames(ctx context.Context, ids []string) (map[string]string, error)
} = (*Client)(nil)
