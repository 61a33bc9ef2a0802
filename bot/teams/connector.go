package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/infracloudio/msbotbuilder-go/schema"
)

// ConnectorScope is the scope of the tokens the Bot Connector accepts.
const ConnectorScope = "https://api.botframework.com/.default"

// DefaultServiceURL is the global Teams connector endpoint, for proactive messages when
// no activity has told us a regional one.
const DefaultServiceURL = "https://smba.trafficmanager.net/teams/"

// DefaultServiceHosts are the Teams connector hosts (public cloud, GCC, GCC High) that
// proactive messages may go to.
var DefaultServiceHosts = []string{"smba.trafficmanager.net", "smba.infra.gcc.teams.microsoft.com", "smba.infra.gov.teams.microsoft.us"}

const maxResponseBytes = 1 << 20

// ConnectorError is a refused connector call.
type ConnectorError struct {
	Op      string // what was being done
	Status  int
	Code    string // the connector's error code, e.g. BadSyntax, MessageWritesBlocked
	Message string
}

func (e *ConnectorError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d", e.Op, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// outActivity is what the bot sends. It is our own type rather than schema.Activity,
// whose non-pointer time and struct fields serialise as zero values (an "expiration"
// in year 1, empty "relatesTo" objects) that the connector has to tolerate.
type outActivity struct {
	Type        string          `json:"type"`
	ID          string          `json:"id,omitempty"`
	Text        string          `json:"text,omitempty"`
	TextFormat  string          `json:"textFormat,omitempty"`
	Summary     string          `json:"summary,omitempty"`
	ReplyToID   string          `json:"replyToId,omitempty"`
	Attachments []outAttachment `json:"attachments,omitempty"`
}

type outAttachment struct {
	ContentType string `json:"contentType"`
	Content     any    `json:"content"`
}

type outAccount struct {
	ID          string `json:"id"`
	AadObjectID string `json:"aadObjectId,omitempty"`
}

type idRef struct {
	ID string `json:"id"`
}

type outChannelData struct {
	Channel *idRef `json:"channel,omitempty"`
	Tenant  *idRef `json:"tenant,omitempty"`
}

// conversationParams is the body of POST v3/conversations.
type conversationParams struct {
	IsGroup     bool            `json:"isGroup"`
	Bot         *outAccount     `json:"bot,omitempty"`
	Members     []outAccount    `json:"members,omitempty"`
	ChannelData *outChannelData `json:"channelData,omitempty"`
	Activity    *outActivity    `json:"activity,omitempty"`
	TenantID    string          `json:"tenantId,omitempty"`
}

// connector is a Bot Connector REST client. msbotbuilder-go's client cannot be used: it
// takes tokens only from the deprecated botframework.com tenant, caches failed token
// responses, races, has no timeouts or retries and discards the posted activity's id.
type connector struct {
	hc           *http.Client
	cred         azcore.TokenCredential
	scope        string
	callTimeout  time.Duration
	maxRetries   int
	maxRetryWait time.Duration
	sleep        func(context.Context, time.Duration) error
	now          func() time.Time
	urls         *serviceURLs
	log          *slog.Logger
}

// createConversation starts a conversation: a new thread in a channel, or a 1:1 chat.
func (c *connector) createConversation(ctx context.Context, serviceURL string, p conversationParams) (schema.ConversationResourceResponse, error) {
	var out schema.ConversationResourceResponse
	err := c.call(ctx, "create conversation", http.MethodPost, serviceURL, []string{"v3", "conversations"}, p, &out)
	if err == nil && out.ID == "" {
		err = errors.New("create conversation: the connector returned no conversation id")
	}
	return out, err
}

// sendActivity posts an activity to a conversation and returns its id. With a
// replyToID it uses the reply endpoint, which threads the answer.
func (c *connector) sendActivity(ctx context.Context, serviceURL, conversationID string, a *outActivity) (string, error) {
	path := []string{"v3", "conversations", conversationID, "activities"}
	if a.ReplyToID != "" {
		path = append(path, a.ReplyToID)
	}
	var out schema.ResourceResponse
	if err := c.call(ctx, "send activity", http.MethodPost, serviceURL, path, a, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// updateActivity replaces a posted activity (the card "Approved by …").
func (c *connector) updateActivity(ctx context.Context, serviceURL, conversationID, activityID string, a *outActivity) error {
	a.ID = activityID
	var out schema.ResourceResponse
	return c.call(ctx, "update activity", http.MethodPut, serviceURL, []string{"v3", "conversations", conversationID, "activities", activityID}, a, &out)
}

// call sends one request, retrying 429, 412, 502 and 504 (the statuses Teams documents
// as transient) up to maxRetries times. It honours Retry-After but never waits longer
// than maxRetryWait: a connector asking for more gets an error instead of a hung user.
func (c *connector) call(ctx context.Context, op, method, serviceURL string, path []string, body, out any) error {
	u, err := c.urls.endpoint(serviceURL, path)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", op, err)
	}
	for attempt := 0; ; attempt++ {
		status, hdr, respBody, err := c.once(ctx, method, u, payload)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if status >= 200 && status < 300 {
			if out != nil && len(bytes.TrimSpace(respBody)) > 0 {
				if err := json.Unmarshal(respBody, out); err != nil {
					return fmt.Errorf("%s: decode response: %w", op, err)
				}
			}
			return nil
		}
		cerr := connectorError(op, status, respBody)
		if !retryable(status) || attempt >= c.maxRetries {
			return cerr
		}
		wait, fromHeader := retryAfter(hdr.Get("Retry-After"), c.now())
		if !fromHeader {
			wait = backoff(attempt)
		}
		if wait > c.maxRetryWait {
			return fmt.Errorf("%w (asked to wait %s, more than %s)", cerr, wait.Round(time.Second), c.maxRetryWait)
		}
		c.log.InfoContext(ctx, "teams: connector asked to retry", "op", op, "status", status, "wait", wait, "attempt", attempt+1)
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: waiting to retry: %w", op, err)
		}
	}
}

func (c *connector) once(ctx context.Context, method, u string, payload []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.callTimeout)
	defer cancel()
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.scope}})
	if err != nil {
		return 0, nil, nil, fmt.Errorf("get connector token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read response: %w", err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusPreconditionFailed, http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// backoff is exponential with full jitter, as Microsoft's rate-limit guidance asks.
func backoff(attempt int) time.Duration {
	base := 500 * time.Millisecond << min(attempt, 6)
	return base/2 + rand.N(base/2+1)
}

func connectorError(op string, status int, body []byte) error {
	e := &ConnectorError{Op: op, Status: status}
	var r struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &r) == nil {
		e.Code, e.Message = clip(r.Error.Code, 64), clip(r.Error.Message, 300)
	}
	return e
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// serviceURLs is the allow-list of connector endpoints: the configured hosts and the
// configured service URL. The bot sends its bearer token only there, and an activity
// whose serviceUrl is elsewhere is refused before it is read: a signed serviceurl
// claim says where the activity came from, not that the bot should trust that place,
// and a stored or forged conversation reference pointing elsewhere cannot make the bot
// hand its token to another host.
type serviceURLs struct {
	hosts map[string]bool
	exact map[string]bool
}

func newServiceURLs(hosts []string, urls ...string) (*serviceURLs, error) {
	s := &serviceURLs{hosts: map[string]bool{}, exact: map[string]bool{}}
	for _, h := range hosts {
		s.hosts[strings.ToLower(h)] = true
	}
	for _, u := range urls {
		n, err := normalizeServiceURL(u)
		if err != nil {
			return nil, err
		}
		s.exact[n] = true
	}
	return s, nil
}

// check returns the normalised service URL when it is on the allow-list: a configured
// URL, or an https URL on a configured host.
func (s *serviceURLs) check(serviceURL string) (string, error) {
	n, err := normalizeServiceURL(serviceURL)
	if err != nil {
		return "", err
	}
	u, _ := url.Parse(n)
	if !s.exact[n] && (u.Scheme != "https" || !s.hosts[strings.ToLower(u.Hostname())]) {
		return "", fmt.Errorf("service URL %q is not allowed", clip(serviceURL, 100))
	}
	return n, nil
}

// endpoint builds {serviceURL}/{path…}, escaping each segment (conversation ids hold
// ':', ';' and '@'), after checking the service URL against the allow-list.
func (s *serviceURLs) endpoint(serviceURL string, path []string) (string, error) {
	n, err := s.check(serviceURL)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(n)
	for i, p := range path {
		if p == "" {
			return "", errors.New("empty path segment")
		}
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(url.PathEscape(p))
	}
	return b.String(), nil
}

// normalizeServiceURL returns scheme://host/path/ with a trailing slash, or an error
// for anything that is not a plain https URL (http only on loopback).
func normalizeServiceURL(raw string) (string, error) {
	if err := checkURL(raw); err != nil {
		return "", fmt.Errorf("service URL: %w", err)
	}
	u, _ := url.Parse(raw)
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("service URL %q has a query or fragment", clip(raw, 100))
	}
	p := u.EscapedPath()
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return u.Scheme + "://" + strings.ToLower(u.Host) + p, nil
}
