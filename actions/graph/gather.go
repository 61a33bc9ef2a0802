package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/auditlogs"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/mfadesk/mfadesk/actions"
)

// betaSources are the sources Graph serves only on /beta. A $batch addresses one version
// (its item URLs are relative to it), so asking for any of these sends the whole batch
// to /beta/$batch; the v1.0 models read the beta answers (beta adds properties, which
// land in AdditionalData). Without them the batch goes to /v1.0.
const betaSources = actions.SourcePerUserMFA | actions.SourcePreferences | actions.SourceSignIns

// Limits of what one lookup reads: pages beyond the first only for --failed, and a
// bounded number of them.
const (
	groupsPage   = 999
	auditsPage   = 100
	signInsPage  = 100
	maxMorePages = 4
	batchRetries = 2
)

// fetch is one source's request inside a batch and, after sending, its answer.
type fetch struct {
	src    actions.Source
	op     string // what is being done, for error messages
	path   string // the endpoint, to name a missing permission
	ri     *abs.RequestInformation
	itemID string
	body   []byte // the answer's JSON body
	err    error
}

// Gather reads the sources q asks for about one user in one round trip: a JSON $batch
// of at most 20 requests (one per source), each answer handled on its own, so a 403 on
// sign-ins degrades that section and the rest still comes. A user named by UPN or mail
// is resolved first (sign-ins, audit events and the registration report are keyed by
// object id), which costs one more round trip.
func (c *Client) Gather(ctx context.Context, ref actions.UserRef, q actions.Query) (ev actions.Evidence, err error) {
	q = q.Normalized()
	ev = actions.Evidence{Query: q, Taken: c.cfg.Clock.Now(), Missing: map[actions.Source]error{}}
	// A UserRef can be built by hand: check it again before it reaches a URL or $filter.
	if checked, perr := actions.ParseUserRef(ref.Value); perr != nil || checked.Kind != ref.Kind {
		return ev, &actions.Error{Kind: actions.KindInvalidInput, Op: "read the directory", Message: fmt.Sprintf("%q is not a UPN, mail address or object id", ref.Value)}
	}
	// A lookup may wait for the report budget before its Graph work: the deadline
	// covers both.
	timeout := c.cfg.Timeout
	if c.quota != nil {
		timeout += c.cfg.MaxQueueWait
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx, trips := withRoundTrips(ctx)
	defer func() { ev.RoundTrips = int(trips.Load()) }()

	var known models.Userable
	id := ref.Value
	if ref.Kind != actions.RefObjectID {
		if cached, ok := c.ids.get(ref.Value); ok {
			id = cached.id
			ev, err = c.gatherByID(ctx, ref, id, q, ev)
			// Trust the entry only if the user still carries the name the way it was
			// found: by UPN (which wins over any mail, as /users/{upn} does) or by mail.
			still := strings.EqualFold(ev.User.UPN, ref.Value)
			if cached.byMail {
				still = strings.EqualFold(ev.User.Mail, ref.Value)
			}
			if err == nil && still {
				return ev, nil
			}
			// The name now belongs to someone else, or the user is gone: resolve afresh.
			c.ids.forget(ref.Value)
			ev = actions.Evidence{Query: q, Taken: c.cfg.Clock.Now(), Missing: map[actions.Source]error{}}
		}
		known, err = c.resolve(ctx, ref)
		if err != nil {
			return ev, err
		}
		id = deref(known.GetId())
	}
	return c.gatherWith(ctx, ref, id, known, q, ev)
}

// gatherByID is Gather for an object id taken from the name cache.
func (c *Client) gatherByID(ctx context.Context, ref actions.UserRef, id string, q actions.Query, ev actions.Evidence) (actions.Evidence, error) {
	return c.gatherWith(ctx, actions.UserRef{Kind: actions.RefObjectID, Value: id}, id, nil, q, ev)
}

// gatherWith runs the batch for a resolved id; known is the user when resolving
// already fetched it (then the batch need not fetch it again). Identical lookups
// running at once (the same user, query and write generation) share one gathering:
// two agents diagnosing the same user spend the report budget once.
func (c *Client) gatherWith(ctx context.Context, ref actions.UserRef, id string, known models.Userable, q actions.Query, ev actions.Evidence) (actions.Evidence, error) {
	if c.flight == nil {
		return c.gatherNow(ctx, ref, id, known, q, ev)
	}
	var gen uint64
	if c.cache != nil {
		gen = c.cache.generation(id)
	}
	key := fmt.Sprintf("%s|%d|%+v", strings.ToLower(id), gen, q)
	// The shared work fills its own copy: a caller that stops waiting returns ev while
	// the work may still be writing.
	start := cloneEvidence(ev)
	ch := c.flight.DoChan(key, func() (any, error) {
		// The shared work must not end because the caller that started it gave up: it
		// keeps that caller's deadline (and values) but not its cancellation; each
		// caller still stops waiting at its own.
		shared := context.WithoutCancel(ctx)
		var cancel context.CancelFunc
		if dl, ok := ctx.Deadline(); ok {
			shared, cancel = context.WithDeadline(shared, dl)
		} else {
			shared, cancel = context.WithTimeout(shared, c.cfg.Timeout+c.cfg.MaxQueueWait)
		}
		defer cancel()
		return c.gatherNow(shared, ref, id, known, q, start)
	})
	if c.joined != nil {
		c.joined()
	}
	select {
	case <-ctx.Done():
		return ev, &actions.Error{Kind: actions.KindUnavailable, Op: "read the directory", Message: "Microsoft Graph did not answer in time", Err: ctx.Err()}
	case r := <-ch:
		out, _ := r.Val.(actions.Evidence)
		if r.Shared {
			out = cloneEvidence(out)
		}
		return out, r.Err
	}
}

// cloneEvidence copies what a caller might change, so lookups that shared one
// gathering do not share its slices and map.
func cloneEvidence(ev actions.Evidence) actions.Evidence {
	ev.Missing = maps.Clone(ev.Missing)
	ev.Methods = slices.Clone(ev.Methods)
	ev.SignIns = slices.Clone(ev.SignIns)
	ev.Audits = slices.Clone(ev.Audits)
	ev.User.MFAGroups = slices.Clone(ev.User.MFAGroups)
	ev.User.Roles = slices.Clone(ev.User.Roles)
	if ev.Registration != nil {
		r := *ev.Registration
		ev.Registration = &r
	}
	if ev.Preferences != nil {
		p := *ev.Preferences
		ev.Preferences = &p
	}
	return ev
}

// gatherNow gathers for a resolved id: report answers from the cache where fresh,
// the rest in one $batch, report requests scheduled inside the tenant's budget (a
// lookup whose report slots are not all due yet sends the rest in later batches, as
// their slots come).
func (c *Client) gatherNow(ctx context.Context, ref actions.UserRef, id string, known models.Userable, q actions.Query, ev actions.Evidence) (actions.Evidence, error) {
	fs, err := c.plan(ctx, id, q, known == nil)
	if err != nil {
		return ev, err
	}
	adapter := c.adapter
	if q.Sources&betaSources != 0 {
		adapter = c.beta
	}
	if err := c.send(ctx, adapter, id, q, fs, &ev); err != nil {
		return ev, err
	}
	return ev, c.interpret(ctx, ref, id, known, q, fs, &ev)
}

// interpret fills ev from the answered fetches of plan (which may have ridden in a
// larger $batch). Only the user's own read is required; any other source that failed
// is noted as missing.
func (c *Client) interpret(ctx context.Context, ref actions.UserRef, id string, known models.Userable, q actions.Query, fs []*fetch, ev *actions.Evidence) error {
	get := func(s actions.Source) *fetch {
		for _, f := range fs {
			if f.src == s {
				return f
			}
		}
		return nil
	}

	if known == nil {
		f := get(actions.SourceUser)
		if f.err != nil {
			if actions.KindOf(f.err) == actions.KindNotFound {
				return &actions.Error{Kind: actions.KindNotFound, Op: f.op, Message: fmt.Sprintf("No user %s in the directory.", ref), Err: f.err}
			}
			return f.err
		}
		mu, err := parseAs[models.Userable](f.body, models.CreateUserFromDiscriminatorValue)
		if err != nil || mu == nil || mu.GetId() == nil {
			return &actions.Error{Kind: actions.KindUnavailable, Op: f.op, Message: "Microsoft Graph returned an empty user", Err: errors.Join(errNoBody, err)}
		}
		known = mu
	}
	ev.User = toUser(known)

	for _, f := range fs {
		if f.src == actions.SourceUser {
			continue
		}
		if f.err == nil {
			f.err = c.read(ctx, f, ev, q)
		}
		if f.err != nil {
			ev.Missing[f.src] = f.err
			// A refusal is how the tenant is set up (permission, licence): not a warning.
			level := slog.LevelWarn
			if actions.KindOf(f.err) == actions.KindForbidden {
				level = slog.LevelInfo
			}
			c.log.Log(ctx, level, "graph source unavailable", "source", f.src.String(), "user", id, "err", f.err)
		}
	}
	ev.User.GroupsNote = ev.Note(actions.SourceGroups)
	ev.User.SignInNote = ev.Note(actions.SourceLastSignIn)
	return nil
}

// send answers fs: report sources from the cache where it has them, then the rest
// through Graph, report requests only as the tenant's budget allows.
func (c *Client) send(ctx context.Context, adapter abs.RequestAdapter, id string, q actions.Query, fs []*fetch, ev *actions.Evidence) error {
	var gen uint64
	if c.cache != nil {
		gen = c.cache.generation(id)
	}
	var now, reports []*fetch
	for _, f := range fs {
		if f.src&reportSources == 0 {
			now = append(now, f)
			continue
		}
		if c.cacheable(f, q) {
			if e, ok := c.cache.get(id, cacheKey(f.src, q)); ok {
				f.body = e.body
				if ev.ReportsAsOf.IsZero() || e.fetched.Before(ev.ReportsAsOf) {
					ev.ReportsAsOf = e.fetched
				}
				continue
			}
		}
		reports = append(reports, f)
	}
	var slots []*slot
	if c.quota != nil && len(reports) > 0 {
		var wait time.Duration
		slots, wait = c.quota.reserve(len(reports), c.cfg.MaxQueueWait)
		if slots == nil {
			for _, f := range reports {
				f.err = &actions.Error{Kind: actions.KindThrottled, Op: f.op, RetryAfter: wait,
					Message: "Microsoft Graph's report budget for the tenant is in use"}
			}
			reports = nil
		}
		defer c.quota.answered(slots...)
	}
	start := c.cfg.Clock.Now()
	pending := reports
	for i := 0; len(now)+len(pending) > 0; {
		// Take the report requests whose slots are due (all of them without a budget).
		var ready []*slot
		for i < len(pending) && (slots == nil || c.quota.ready(slots[i])) {
			if slots != nil {
				ready = append(ready, slots[i])
			}
			now = append(now, pending[i])
			i++
		}
		if len(now) == 0 {
			if err := c.quota.wait(ctx, slots[i]); err != nil {
				for _, f := range pending[i:] {
					f.err = &actions.Error{Kind: actions.KindUnavailable, Op: f.op, Message: "Microsoft Graph did not answer in time", Err: err}
				}
				break
			}
			ev.Queued = c.cfg.Clock.Now().Sub(start)
			continue
		}
		var err error
		if c.cfg.Unbatched {
			c.runEach(ctx, adapter, now)
		} else {
			err = c.runBatch(ctx, adapter, now)
		}
		if c.quota != nil {
			c.quota.answered(ready...)
		}
		if err != nil {
			return err
		}
		now = nil
		if i == len(pending) {
			break
		}
	}
	if c.cache != nil {
		fetched := c.cfg.Clock.Now()
		for _, f := range reports {
			if f.err == nil && f.body != nil && c.cacheable(f, q) {
				c.cache.put(id, gen, cacheKey(f.src, q), cached{body: f.body, fetched: fetched})
			}
		}
	}
	return nil
}

// cacheable reports whether f's answer may come from, and go to, the report cache:
// --failed reads later pages, which the cache does not keep.
func (c *Client) cacheable(f *fetch, q actions.Query) bool {
	return c.cache != nil && !(f.src == actions.SourceSignIns && q.SignInFailedOnly)
}

// plan builds one request per source. Requests come from the v1.0 builders where they
// exist (the batch rewrites their base URL); the beta-only ones are built by hand.
func (c *Client) plan(ctx context.Context, id string, q actions.Query, needUser bool) ([]*fetch, error) {
	var fs []*fetch
	var firstErr error
	add := func(src actions.Source, op, path string, ri *abs.RequestInformation, err error) {
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: build request: %w", op, err)
		}
		if ri != nil {
			fs = append(fs, &fetch{src: src, op: op, path: path, ri: ri})
		}
	}
	user := c.sdk.Users().ByUserId(id)
	if needUser {
		ri, err := user.ToGetRequestInformation(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: userSelect}})
		add(actions.SourceUser, "look up "+id, "/users", ri, err)
	}
	s := q.Sources
	if s&actions.SourceLastSignIn != 0 {
		ri, err := user.ToGetRequestInformation(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id", "signInActivity"}}})
		add(actions.SourceLastSignIn, "read the last sign-in of "+id, "/users?$select=signInActivity", ri, err)
	}
	if s&actions.SourceGroups != 0 {
		top := int32(groupsPage)
		ri, err := user.TransitiveMemberOf().ToGetRequestInformation(ctx, &users.ItemTransitiveMemberOfRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.ItemTransitiveMemberOfRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}, Top: &top}})
		add(actions.SourceGroups, "list the groups of "+id, "/transitiveMemberOf", ri, err)
	}
	if s&actions.SourceMethods != 0 {
		ri, err := user.Authentication().Methods().ToGetRequestInformation(ctx, nil)
		add(actions.SourceMethods, "list the methods of "+id, "/authentication/methods", ri, err)
	}
	if s&actions.SourceRegistration != 0 {
		ri, err := c.sdk.Reports().AuthenticationMethods().UserRegistrationDetails().ByUserRegistrationDetailsId(id).ToGetRequestInformation(ctx, nil)
		add(actions.SourceRegistration, "read the registration report of "+id, "/reports/authenticationMethods", ri, err)
	}
	if s&actions.SourcePerUserMFA != 0 {
		add(actions.SourcePerUserMFA, "read the per-user MFA state of "+id, "/authentication/requirements", rawGet("/users/{user%2Did}/authentication/requirements", id), nil)
	}
	if s&actions.SourcePreferences != 0 {
		add(actions.SourcePreferences, "read the sign-in preferences of "+id, "/authentication/signInPreferences", rawGet("/users/{user%2Did}/authentication/signInPreferences", id), nil)
	}
	if s&actions.SourceSignIns != 0 {
		since := time.Now().Add(-time.Duration(q.SignInDays) * 24 * time.Hour)
		filter := "userId eq " + actions.Quote(id) + " and createdDateTime ge " + odataTime(since)
		top := int32(q.SignInLast)
		if q.SignInFailedOnly {
			top = signInsPage
		}
		ri, err := c.sdk.AuditLogs().SignIns().ToGetRequestInformation(ctx, &auditlogs.SignInsRequestBuilderGetRequestConfiguration{
			QueryParameters: &auditlogs.SignInsRequestBuilderGetQueryParameters{Filter: &filter, Top: &top}})
		add(actions.SourceSignIns, "read the sign-ins of "+id, "/auditLogs/signIns", ri, err)
	}
	if s&actions.SourceAudits != 0 {
		since := time.Now().Add(-time.Duration(q.AuditDays) * 24 * time.Hour)
		filter := "targetResources/any(t: t/id eq " + actions.Quote(id) + ") and activityDateTime ge " + odataTime(since)
		top := int32(auditsPage)
		ri, err := c.sdk.AuditLogs().DirectoryAudits().ToGetRequestInformation(ctx, &auditlogs.DirectoryAuditsRequestBuilderGetRequestConfiguration{
			QueryParameters: &auditlogs.DirectoryAuditsRequestBuilderGetQueryParameters{Filter: &filter, Top: &top}})
		add(actions.SourceAudits, "read the audit log of "+id, "/auditLogs/directoryAudits", ri, err)
	}
	if len(fs) > 20 { // Graph's limit per $batch
		return nil, fmt.Errorf("read the directory: %d requests do not fit one batch", len(fs))
	}
	return fs, firstErr
}

// rawGet builds a GET for an endpoint the v1.0 SDK has no builder for.
func rawGet(template, userID string) *abs.RequestInformation {
	ri := abs.NewRequestInformation()
	ri.Method = abs.GET
	ri.UrlTemplate = "{+baseurl}" + template
	ri.PathParameters["user%2Did"] = userID
	ri.Headers.TryAdd("Accept", "application/json")
	return ri
}

func odataTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// runBatch sends fs as one $batch through adapter and records each item's answer. Items
// answered 429, 503 or 504 are sent again, alone in a smaller batch, after the longest
// Retry-After among them — the SDK retries whole requests, never batch items — as long
// as the total wait stays within MaxRetryWait and the deadline. What still fails keeps
// its error; only a failure of the batch request itself is returned.
func (c *Client) runBatch(ctx context.Context, adapter abs.RequestAdapter, fs []*fetch) error {
	pending := fs
	var waited time.Duration
	// held are report-budget slots of a retry; a slot left unanswered would hold up
	// every later report request, so every way out answers them.
	var held []*slot
	defer func() {
		if c.quota != nil {
			c.quota.answered(held...)
		}
	}()
	for attempt := 0; ; attempt++ {
		br := core.NewBatchRequest(adapter)
		for _, f := range pending {
			f.ri.PathParameters["baseurl"] = adapter.GetBaseUrl()
			item, err := br.AddBatchRequestStep(*f.ri)
			if err != nil {
				return fmt.Errorf("read the directory: add %s to the batch: %w", f.src, err)
			}
			f.itemID = deref(item.GetId())
		}
		answers, err := sendBatch(ctx, adapter, br)
		if c.quota != nil {
			c.quota.answered(held...)
			held = nil
		}
		if err != nil {
			return err
		}
		var retry []*fetch
		var wait time.Duration
		for _, f := range pending {
			f.body, f.err = nil, nil
			it, ok := answers[f.itemID]
			if !ok || it.Status == 0 {
				f.err = &actions.Error{Kind: actions.KindUnavailable, Op: f.op, Message: "Microsoft Graph left this part of the batch unanswered"}
				continue
			}
			status := it.Status
			if status < 400 {
				f.body = it.Body
				continue
			}
			f.err = classifyItem(f.op, f.path, status, it.Headers, itemError(it.Body, status))
			var ae *actions.Error
			if errors.As(f.err, &ae) && ae.Kind == actions.KindThrottled {
				actions.ObserveThrottle(ctx, ae.RetryAfter) // inside a $batch: the transport saw 200
				retry = append(retry, f)
				wait = max(wait, ae.RetryAfter)
			}
		}
		if len(retry) == 0 || attempt >= batchRetries || ownRetries(ctx) {
			return nil
		}
		if waited+wait > c.cfg.MaxRetryWait {
			return nil
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil
		}
		c.log.InfoContext(ctx, "graph throttled batch items, retrying", "items", len(retry), "retry_after", wait)
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		waited += wait
		// A retried report request spends the report budget again: it waits for a slot
		// like any other, or keeps its 429 if none comes within the retry budget.
		if held, err = c.retrySlots(ctx, retry, c.cfg.MaxRetryWait-waited); err != nil {
			return nil
		}
		pending = retry
	}
}

// retrySlots reserves and waits for report-budget slots for the report requests in
// fs about to be sent again, and returns them for the caller to mark answered once
// the retry is answered.
func (c *Client) retrySlots(ctx context.Context, fs []*fetch, maxWait time.Duration) ([]*slot, error) {
	if c.quota == nil {
		return nil, nil
	}
	n := 0
	for _, f := range fs {
		if f.src&reportSources != 0 {
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	slots, wait := c.quota.reserve(n, max(maxWait, 0))
	if slots == nil {
		return nil, fmt.Errorf("report budget busy for %v", wait)
	}
	for _, s := range slots {
		if err := c.quota.wait(ctx, s); err != nil {
			c.quota.answered(slots...)
			return nil, err
		}
	}
	return slots, nil
}

// batchAnswer is one item of a $batch answer, its body kept as raw JSON.
type batchAnswer struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// sendBatch sends br through adapter's pipeline (auth, compression, retry) as the
// SDK's BatchRequest.Send does, but reads the answer with encoding/json into raw item
// bodies: the SDK parses the whole answer into a generic tree (a quarter of serve's
// CPU per diagnose), which the models then had to have re-encoded to JSON.
func sendBatch(ctx context.Context, adapter abs.RequestAdapter, br core.BatchRequest) (map[string]batchAnswer, error) {
	ri := abs.NewRequestInformation()
	ri.Method = abs.POST
	ri.UrlTemplate = "{+baseurl}/$batch"
	if err := ri.SetContentFromParsable(ctx, adapter, "application/json", br); err != nil {
		return nil, fmt.Errorf("read the directory: serialise the batch: %w", err)
	}
	ri.Headers.Add("Content-Type", "application/json")
	ri.Headers.Add("Accept", "application/json")
	raw, err := adapter.SendPrimitive(ctx, ri, "[]byte", errorMap)
	if err != nil {
		return nil, classify("read the directory", "/$batch", err)
	}
	b, _ := raw.([]byte)
	var resp struct {
		Responses []batchAnswer `json:"responses"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, &actions.Error{Kind: actions.KindUnavailable, Op: "read the directory", Message: "Microsoft Graph's answer could not be read", Err: err}
	}
	out := make(map[string]batchAnswer, len(resp.Responses))
	for _, a := range resp.Responses {
		// Graph sends a body that is not JSON as a base64 string.
		if len(a.Body) > 0 && a.Body[0] == '"' {
			var enc string
			if json.Unmarshal(a.Body, &enc) == nil {
				if dec, err := base64.StdEncoding.DecodeString(enc); err == nil {
					a.Body = dec
				}
			}
		}
		out[a.ID] = a
	}
	return out, nil
}

// itemError reads a batch item's error body as Graph's OData error, as the SDK's
// error mappings would.
func itemError(body []byte, status int) error {
	if len(body) > 0 {
		if e, err := parseAs[odataerrors.ODataErrorable](body, odataerrors.CreateODataErrorFromDiscriminatorValue); err == nil {
			if oe, ok := e.(*odataerrors.ODataError); ok {
				oe.ResponseStatusCode = status
				return oe
			}
		}
	}
	return fmt.Errorf("graph answered %d", status)
}

// runEach sends the requests one at a time instead of in a batch (Config.Unbatched):
// for comparison in benchmarks, and for networks whose proxies refuse $batch.
func (c *Client) runEach(ctx context.Context, adapter abs.RequestAdapter, fs []*fetch) {
	for _, f := range fs {
		b, err := adapter.SendPrimitive(ctx, f.ri, "[]byte", errorMap)
		if err != nil {
			f.err = classify(f.op, f.path, err)
			continue
		}
		f.body, _ = b.([]byte)
	}
}

// parseAs reads a JSON body into an SDK model through the SDK's own JSON parser (so
// @odata.type picks the derived type).
func parseAs[T any](body []byte, factory absser.ParsableFactory) (T, error) {
	var zero T
	node, err := absser.DefaultParseNodeFactoryInstance.GetRootParseNode("application/json", body)
	if err != nil {
		return zero, err
	}
	v, err := node.GetObjectValue(factory)
	if err != nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("unexpected answer type %T", v)
	}
	return t, nil
}

// read turns one answered source into evidence.
func (c *Client) read(ctx context.Context, f *fetch, ev *actions.Evidence, q actions.Query) error {
	bad := func(err error) error {
		return &actions.Error{Kind: actions.KindUnavailable, Op: f.op, Message: "Microsoft Graph's answer could not be read", Err: err}
	}
	switch f.src {
	case actions.SourceLastSignIn:
		mu, err := parseAs[models.Userable](f.body, models.CreateUserFromDiscriminatorValue)
		if err != nil {
			return bad(err)
		}
		if a := mu.GetSignInActivity(); a != nil && a.GetLastSignInDateTime() != nil {
			ev.User.LastSignIn = *a.GetLastSignInDateTime()
		}
	case actions.SourceGroups:
		page, err := parseAs[models.DirectoryObjectCollectionResponseable](f.body, models.CreateDirectoryObjectCollectionResponseFromDiscriminatorValue)
		if err != nil {
			return bad(err)
		}
		return c.memberships(ctx, page, &ev.User)
	case actions.SourceMethods:
		page, err := parseAs[models.AuthenticationMethodCollectionResponseable](f.body, models.CreateAuthenticationMethodCollectionResponseFromDiscriminatorValue)
		if err != nil {
			return bad(err)
		}
		for _, m := range page.GetValue() {
			ev.Methods = append(ev.Methods, toMethod(m))
		}
	case actions.SourceRegistration:
		r, err := parseAs[models.UserRegistrationDetailsable](f.body, models.CreateUserRegistrationDetailsFromDiscriminatorValue)
		if err != nil {
			return bad(err)
		}
		reg := toRegistration(r)
		ev.Registration = &reg
	case actions.SourcePerUserMFA:
		var v struct {
			State string `json:"perUserMfaState"`
		}
		if err := json.Unmarshal(f.body, &v); err != nil {
			return bad(err)
		}
		ev.PerUserMFA = v.State
	case actions.SourcePreferences:
		var v struct {
			System    *bool   `json:"isSystemPreferredAuthenticationMethodEnabled"`
			Preferred *string `json:"userPreferredMethodForSecondaryAuthentication"`
		}
		if err := json.Unmarshal(f.body, &v); err != nil {
			return bad(err)
		}
		ev.Preferences = &actions.SignInPreferences{SystemPreferredEnabled: deref(v.System), UserPreferred: deref(v.Preferred)}
	case actions.SourceSignIns:
		var page signInPage
		if err := json.Unmarshal(f.body, &page); err != nil {
			return bad(err)
		}
		return c.signIns(ctx, page, ev, q)
	case actions.SourceAudits:
		page, err := parseAs[models.DirectoryAuditCollectionResponseable](f.body, models.CreateDirectoryAuditCollectionResponseFromDiscriminatorValue)
		if err != nil {
			return bad(err)
		}
		for _, a := range page.GetValue() {
			ev.Audits = append(ev.Audits, toAudit(a))
		}
		ev.AuditsMore = page.GetOdataNextLink() != nil
	}
	return nil
}

// memberships fills the MFA-relevant groups and directory roles from the first page
// and, when the user is in more groups than fit one page, the following pages: a
// configured MFA group on page two still makes MFA required.
func (c *Client) memberships(ctx context.Context, page models.DirectoryObjectCollectionResponseable, u *actions.User) error {
	want := map[string]bool{}
	for _, g := range c.cfg.MFAGroups {
		want[strings.ToLower(g)] = true
	}
	visit := func(o models.DirectoryObjectable) bool {
		switch v := o.(type) {
		case models.DirectoryRoleable:
			u.Roles = append(u.Roles, deref(v.GetDisplayName()))
		case models.Groupable:
			if name := deref(v.GetDisplayName()); want[strings.ToLower(name)] {
				u.MFAGroups = append(u.MFAGroups, name)
			}
		}
		return true
	}
	if page.GetOdataNextLink() == nil {
		for _, o := range page.GetValue() {
			visit(o)
		}
		return nil
	}
	it, err := core.NewPageIterator[models.DirectoryObjectable](page, c.adapter, models.CreateDirectoryObjectCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	if err := it.Iterate(ctx, visit); err != nil {
		return classify("list the groups of "+u.ID, "/transitiveMemberOf", err)
	}
	return nil
}

// signInPage is a page of beta sign-ins.
type signInPage struct {
	Value    []rawSignIn `json:"value"`
	NextLink string      `json:"@odata.nextLink"`
}

// signIns keeps the newest N sign-ins, or the newest N failures; for failures it reads
// later pages (a bounded number) until it has N.
func (c *Client) signIns(ctx context.Context, page signInPage, ev *actions.Evidence, q actions.Query) error {
	for pages := 0; ; pages++ {
		for _, r := range page.Value {
			s := r.toSignIn()
			if q.SignInFailedOnly && !s.Failed() {
				continue
			}
			if len(ev.SignIns) == q.SignInLast {
				ev.SignInsMore = true
				return nil
			}
			ev.SignIns = append(ev.SignIns, s)
		}
		if page.NextLink == "" {
			return nil
		}
		if !q.SignInFailedOnly || pages >= maxMorePages {
			ev.SignInsMore = true
			return nil
		}
		next, err := c.nextPage(ctx, page.NextLink, "/auditLogs/signIns")
		if err != nil {
			return err
		}
		page = signInPage{}
		if err := json.Unmarshal(next, &page); err != nil {
			return &actions.Error{Kind: actions.KindUnavailable, Op: "read sign-ins", Message: "Microsoft Graph's answer could not be read", Err: err}
		}
	}
}

// nextPage follows an @odata.nextLink verbatim, as Graph requires, through the same
// pipeline (retry, compression, auth) and returns the raw page.
func (c *Client) nextPage(ctx context.Context, link, path string) ([]byte, error) {
	ri := abs.NewRequestInformation()
	ri.Method = abs.GET
	ri.Headers.TryAdd("Accept", "application/json")
	u, err := parseURL(link)
	if err != nil {
		return nil, fmt.Errorf("follow next page: %w", err)
	}
	ri.SetUri(*u)
	// Later pages of a report spend the report budget too.
	if c.quota != nil {
		slots, wait := c.quota.reserve(1, c.cfg.MaxQueueWait)
		if slots == nil {
			return nil, &actions.Error{Kind: actions.KindThrottled, Op: "read the next page", RetryAfter: wait, Message: "Microsoft Graph's report budget for the tenant is in use"}
		}
		defer c.quota.answered(slots...)
		if err := c.quota.wait(ctx, slots[0]); err != nil {
			return nil, &actions.Error{Kind: actions.KindUnavailable, Op: "read the next page", Message: "Microsoft Graph did not answer in time", Err: err}
		}
	}
	b, err := c.beta.SendPrimitive(ctx, ri, "[]byte", errorMap)
	if err != nil {
		return nil, classify("read the next page", path, err)
	}
	raw, _ := b.([]byte)
	return raw, nil
}

var errorMap = abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}
