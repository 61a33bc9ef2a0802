package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/domains"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/mfadesk/mfadesk/actions"
)

// UPNsStartingWith returns at most two user principal names that start with prefix,
// for a "did you mean …?" on a bare name such as "mfatest1". Two are enough to know
// the prefix is ambiguous; the caller suggests only a single match.
func (c *Client) UPNsStartingWith(ctx context.Context, prefix string) ([]string, error) {
	filter := "startswith(userPrincipalName," + actions.Quote(prefix) + ")"
	top := int32(2)
	res, err := c.sdk.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: &filter, Select: []string{"userPrincipalName"}, Top: &top},
	})
	if err != nil {
		return nil, classify(fmt.Sprintf("find users whose UPN starts with %q", prefix), "/users", err)
	}
	var out []string
	for _, u := range res.GetValue() {
		if upn := deref(u.GetUserPrincipalName()); upn != "" {
			out = append(out, upn)
		}
	}
	return out, nil
}

// DefaultDomain returns the tenant's default verified domain (GET /domains), so help
// shows examples in the tenant's own domain.
func (c *Client) DefaultDomain(ctx context.Context) (string, error) {
	res, err := c.sdk.Domains().Get(ctx, &domains.DomainsRequestBuilderGetRequestConfiguration{
		QueryParameters: &domains.DomainsRequestBuilderGetQueryParameters{Select: []string{"id", "isDefault", "isVerified"}},
	})
	if err != nil {
		return "", classify("read the tenant's domains", "/domains", err)
	}
	for _, d := range res.GetValue() {
		if deref(d.GetIsDefault()) && deref(d.GetIsVerified()) {
			return strings.ToLower(deref(d.GetId())), nil
		}
	}
	return "", &actions.Error{Kind: actions.KindNotFound, Op: "read the tenant's domains", Message: "The tenant has no default verified domain."}
}
