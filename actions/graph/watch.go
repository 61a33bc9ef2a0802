package graph

import (
	"context"
	"encoding/json"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/auditlogs"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/mfadesk/mfadesk/actions"
)

// The watch after a reset reads the tenant's security-info audit events and, when one
// of them is a registration, the user's sign-ins. Both are report endpoints: every
// page goes through the report budget's background share (reserveIdle), so the watch
// only ever spends what lookups leave.

// Page sizes of the watch's reads. Graph's sign-in list pages at up to 1,000; the
// directory-audit list documents no maximum, so the watch asks for a size the
// sign-in list allows and follows @odata.nextLink for the rest.
const (
	watchAuditsPage  = 500
	watchSignInsPage = 500
	// watchMaxPages bounds one read; a tenant that logs more security-info events
	// between two polls than this is read over the following polls.
	watchMaxPages = 20
)

// backgroundKeep is how many report slots of each window the watch leaves free:
// those of one diagnose (the registration report, sign-ins, audits), so an agent's
// lookup never waits because the watch polled.
func (c *Client) backgroundKeep() int { return min(3, c.quota.limit-1) }

// backgroundSlot waits until the report budget's background share has a slot free.
// The caller marks it answered. With no budget (a local fake) it returns nil.
func (c *Client) backgroundSlot(ctx context.Context) (*slot, error) {
	if c.quota == nil {
		return nil, nil
	}
	for {
		s, retry := c.quota.reserveIdle(c.backgroundKeep())
		if s != nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.clock.At(retry):
		}
	}
}

// backgroundGet sends one report request (ri, or the next-page link when ri is nil)
// inside the background share and returns the raw answer.
func (c *Client) backgroundGet(ctx context.Context, op, path string, ri *abs.RequestInformation, link string) ([]byte, error) {
	if ri == nil {
		ri = abs.NewRequestInformation()
		ri.Method = abs.GET
		ri.Headers.TryAdd("Accept", "application/json")
		u, err := parseURL(link)
		if err != nil {
			return nil, &actions.Error{Kind: actions.KindUnavailable, Op: op, Message: "Microsoft Graph sent a next-page link that is not a URL", Err: err}
		}
		ri.SetUri(*u)
	}
	s, err := c.backgroundSlot(ctx)
	if err != nil {
		return nil, &actions.Error{Kind: actions.KindUnavailable, Op: op, Message: "the report budget had no room before the deadline", Err: err}
	}
	if s != nil {
		defer c.quota.answered(s)
	}
	b, err := c.adapter.SendPrimitive(ctx, ri, "[]byte", errorMap)
	if err != nil {
		return nil, classify(op, path, err)
	}
	raw, _ := b.([]byte)
	return raw, nil
}

// SecurityInfoSince returns the tenant's security-info audit events (logged by the
// Authentication Methods service) at or after since, newest first: one query for all
// watched users, matched to them by the caller, paged with @odata.nextLink. more is
// true when it stopped at watchMaxPages with pages left.
func (c *Client) SecurityInfoSince(ctx context.Context, since time.Time) (events []actions.AuditEvent, more bool, err error) {
	const op, path = "read the security-info audit events", "/auditLogs/directoryAudits"
	filter := "loggedByService eq " + actions.Quote(actions.ServiceAuthMethods) + " and activityDateTime ge " + odataTime(since)
	top := int32(watchAuditsPage)
	ri, err := c.sdk.AuditLogs().DirectoryAudits().ToGetRequestInformation(ctx, &auditlogs.DirectoryAuditsRequestBuilderGetRequestConfiguration{
		QueryParameters: &auditlogs.DirectoryAuditsRequestBuilderGetQueryParameters{Filter: &filter, Top: &top}})
	if err != nil {
		return nil, false, &actions.Error{Kind: actions.KindUnavailable, Op: op, Message: "the request could not be built", Err: err}
	}
	link := ""
	for pages := 0; ; pages++ {
		if pages == watchMaxPages {
			return events, true, nil
		}
		body, err := c.backgroundGet(ctx, op, path, ri, link)
		if err != nil {
			return events, false, err
		}
		page, err := parseAs[models.DirectoryAuditCollectionResponseable](body, models.CreateDirectoryAuditCollectionResponseFromDiscriminatorValue)
		if err != nil {
			return events, false, &actions.Error{Kind: actions.KindUnavailable, Op: op, Message: "Microsoft Graph's answer could not be read", Err: err}
		}
		for _, a := range page.GetValue() {
			events = append(events, toAudit(a))
		}
		if page.GetOdataNextLink() == nil || *page.GetOdataNextLink() == "" {
			return events, false, nil
		}
		ri, link = nil, *page.GetOdataNextLink()
	}
}

// SignInsSince returns the user's sign-ins at or after since, newest first, reading
// at most maxPages pages.
func (c *Client) SignInsSince(ctx context.Context, userID string, since time.Time, maxPages int) ([]actions.SignIn, error) {
	op, path := "read the sign-ins of "+userID, "/auditLogs/signIns"
	filter := "userId eq " + actions.Quote(userID) + " and createdDateTime ge " + odataTime(since)
	top := int32(watchSignInsPage)
	ri, err := c.sdk.AuditLogs().SignIns().ToGetRequestInformation(ctx, &auditlogs.SignInsRequestBuilderGetRequestConfiguration{
		QueryParameters: &auditlogs.SignInsRequestBuilderGetQueryParameters{Filter: &filter, Top: &top}})
	if err != nil {
		return nil, &actions.Error{Kind: actions.KindUnavailable, Op: op, Message: "the request could not be built", Err: err}
	}
	var out []actions.SignIn
	link := ""
	for pages := 0; pages < max(maxPages, 1); pages++ {
		body, err := c.backgroundGet(ctx, op, path, ri, link)
		if err != nil {
			return out, err
		}
		var page signInPage
		if err := json.Unmarshal(body, &page); err != nil {
			return out, &actions.Error{Kind: actions.KindUnavailable, Op: op, Message: "Microsoft Graph's answer could not be read", Err: err}
		}
		for _, r := range page.Value {
			out = append(out, r.toSignIn())
		}
		if page.NextLink == "" {
			break
		}
		ri, link = nil, page.NextLink
	}
	return out, nil
}
