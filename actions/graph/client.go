package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	abs "github.com/microsoft/kiota-abstractions-go"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	kauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"golang.org/x/sync/singleflight"

	"github.com/mfadesk/mfadesk/actions"
)

// Config says where Graph is and how to authenticate to it.
type Config struct {
	// BaseURL is the v1.0 root, e.g. https://graph.microsoft.com/v1.0,
	// https://graph.microsoft.us/v1.0, or a local fake's http://127.0.0.1:PORT/v1.0.
	BaseURL string
	// Credential acquires app-only tokens. Nil means no Authorization header, which
	// New accepts only for a loopback BaseURL (a local fake).
	Credential azcore.TokenCredential
	// MFAGroups are the group display names that make MFA required (e.g. mfaoptin).
	MFAGroups []string
	// Timeout bounds each lookup (default 20 s): a chat user is waiting.
	Timeout time.Duration
	// HTTPClient replaces the transport under the SDK's middleware (tests).
	HTTPClient *http.Client
	// MaxRetryWait bounds the total time spent waiting on Retry-After for one call or one
	// batch (default 8 s): past it the bot answers "throttled, try again in N s" instead
	// of keeping a chat user waiting.
	MaxRetryWait time.Duration
	// ReregisterTypes are the method types Reregister deletes (default: phone, Microsoft
	// Authenticator, software OATH — what the portal's "Require re-register MFA" removes).
	ReregisterTypes []actions.MethodType
	// Unbatched sends a lookup's requests one at a time instead of in one $batch: for
	// benchmarks, and for networks whose proxies refuse $batch.
	Unbatched bool
	// NameCacheTTL is how long a UPN or mail → object id resolution is reused, so a
	// lookup after the first is one round trip; default 10 minutes, negative disables.
	NameCacheTTL time.Duration
	// WriteRetryBudget bounds the time one write action (re-register, revoke) spends
	// retrying transient Graph errors — 429 (after its Retry-After), 503, 504, timeouts —
	// across all its steps (default 60 s). An approved request outlives a throttling
	// spell; what still fails is reported as throttled or unavailable, so it can be
	// retried later.
	WriteRetryBudget time.Duration
	// ReportLimit and ReportWindow are the tenant's budget for the report endpoints
	// (sign-ins, directory audits, the registration report): Graph allows 5 requests
	// per 10 s per app per tenant, the default. Lookups are scheduled inside it and wait
	// (the answer says for how long) rather than collect 429s. Zero takes the default,
	// except with a loopback BaseURL (a local fake), where zero means no budget;
	// negative means none. At least 3: one diagnose needs three report requests.
	ReportLimit  int
	ReportWindow time.Duration
	// MaxQueueWait bounds a lookup's wait for the report budget (default 90 s); past
	// it the report sections say "try again in N s" and the rest is answered.
	MaxQueueWait time.Duration
	// ReportCacheTTL is how long report answers are reused (default 30 s; with a
	// loopback BaseURL zero means no cache; negative disables). Writes through the
	// client drop the written user's entries.
	ReportCacheTTL time.Duration
	// Clock drives the report scheduler and cache and the write path's waits between
	// retries (tests); nil is the wall clock.
	Clock Clock
	// Logger receives Graph failures and write actions; nil means slog.Default(). Nothing
	// secret is logged: a temporary access pass redacts itself.
	Logger *slog.Logger
}

// Client is the Graph implementation of actions.Directory, actions.Gatherer and
// actions.Writer.
type Client struct {
	sdk     *msgraph.GraphServiceClient
	adapter *msgraph.GraphRequestAdapter
	// beta sends the few beta-only calls, and batches that include one (a $batch cannot
	// mix versions), through the same pipeline and credential.
	beta *msgraph.GraphRequestAdapter
	cfg  Config
	log  *slog.Logger
	ids  *idCache
	// clock is cfg.Clock: the report scheduler and the write path's retries wait on it.
	clock Clock
	// quota schedules report requests inside the tenant's budget, cache reuses their
	// answers briefly and flight coalesces identical concurrent lookups; nil when off.
	quota  *reportQuota
	cache  *reportCache
	flight *singleflight.Group
	// joined, if set (tests), runs once a lookup has started or joined a gathering.
	joined func()
}

// New builds a Graph client. It refuses a missing credential unless the base URL is
// on loopback, so a misconfigured production bot cannot silently send anonymous calls.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://graph.microsoft.com/v1.0"
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("graph base URL %q is not an absolute URL", cfg.BaseURL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = 8 * time.Second
	}
	if len(cfg.ReregisterTypes) == 0 {
		cfg.ReregisterTypes = actions.DefaultReregisterTypes()
	}
	if cfg.WriteRetryBudget <= 0 {
		cfg.WriteRetryBudget = 60 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = wallClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxQueueWait <= 0 {
		cfg.MaxQueueWait = DefaultMaxQueueWait
	}
	if cfg.ReportWindow <= 0 {
		cfg.ReportWindow = DefaultReportWindow
	}
	// A local fake has no report budget unless a test asks for one.
	if cfg.ReportLimit == 0 && !IsLoopback(u) {
		cfg.ReportLimit = DefaultReportLimit
	}
	if cfg.ReportCacheTTL == 0 && !IsLoopback(u) {
		cfg.ReportCacheTTL = DefaultReportCacheTTL
	}
	if cfg.ReportLimit > 0 && cfg.ReportLimit < 3 {
		return nil, fmt.Errorf("graph report limit %d is below the 3 report requests of one diagnose", cfg.ReportLimit)
	}
	if !strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/v1.0") {
		return nil, fmt.Errorf("graph base URL %q must end in /v1.0", cfg.BaseURL)
	}
	if err := registerErrorMappings(); err != nil {
		return nil, err
	}
	var auth absauth.AuthenticationProvider
	if cfg.Credential == nil {
		if !IsLoopback(u) {
			return nil, fmt.Errorf("graph credential %q is only allowed with a loopback base URL, not %s", "none", u.Host)
		}
		auth = &absauth.AnonymousAuthenticationProvider{}
	} else {
		if u.Scheme != "https" && !IsLoopback(u) {
			return nil, fmt.Errorf("graph base URL must use https: %s", cfg.BaseURL)
		}
		// The token's audience is the cloud's Graph host; the allowed host must be the
		// base URL's host, or the provider silently sends no token at all.
		scope := u.Scheme + "://" + u.Host + "/.default"
		if IsLoopback(u) {
			scope = "https://graph.microsoft.com/.default"
		}
		auth, err = kauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cfg.Credential, []string{scope}, []string{u.Hostname()})
		if err != nil {
			return nil, fmt.Errorf("create graph authentication provider: %w", err)
		}
	}
	hc := cfg.HTTPClient
	transport := http.RoundTripper(SharedTransport())
	if hc != nil && hc.Transport != nil {
		transport = hc.Transport
	}
	c := &Client{cfg: cfg, log: cfg.Logger, clock: cfg.Clock, ids: newIDCache(cfg.NameCacheTTL, 4096)}
	if cfg.ReportLimit > 0 {
		c.quota = newReportQuota(cfg.ReportLimit, cfg.ReportWindow, cfg.Clock)
	}
	if cfg.ReportCacheTTL > 0 {
		c.cache = newReportCache(cfg.ReportCacheTTL, cfg.Clock)
	}
	if c.quota != nil || c.cache != nil {
		c.flight = new(singleflight.Group)
	}
	client := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(countingTransport{writeWatch{ownBody{transport}, c.Invalidate}}, middlewares(cfg.MaxRetryWait)...),
		Timeout:   100 * time.Second,
		// Graph never needs a redirect followed by net/http: kiota's handler does it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	adapter, err := msgraph.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, client)
	if err != nil {
		return nil, fmt.Errorf("create graph request adapter: %w", err)
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	adapter.SetBaseUrl(base)
	beta, err := msgraph.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, client)
	if err != nil {
		return nil, fmt.Errorf("create graph beta request adapter: %w", err)
	}
	beta.SetBaseUrl(strings.TrimSuffix(base, "/v1.0") + "/beta")
	c.sdk, c.adapter, c.beta = msgraph.NewGraphServiceClient(adapter), adapter, beta
	return c, nil
}

var (
	registerOnce sync.Once
	registerErr  error
)

// registerErrorMappings teaches msgraph-sdk-go-core to turn error answers inside a
// $batch and on later pages into ODataError (otherwise they are bare ApiErrors without
// Graph's code and message). The registry is process-wide and RegisterError fails on a
// second registration, so it runs once; "already registered" (by another package, or a
// test binary that built clients before) is fine.
func registerErrorMappings() error {
	registerOnce.Do(func() {
		m := abs.ErrorMappings{"4XX": odataerrors.CreateODataErrorFromDiscriminatorValue, "5XX": odataerrors.CreateODataErrorFromDiscriminatorValue, "XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}
		for _, key := range []string{core.BatchRequestErrorRegistryKey, core.PageIteratorErrorRegistryKey} {
			if err := core.RegisterError(key, m); err != nil && !strings.Contains(err.Error(), "already register") {
				registerErr = fmt.Errorf("register graph error mappings: %w", err)
			}
		}
	})
	return registerErr
}

// countingTransport counts the HTTP requests of one operation (a context carrying a
// counter): the round trips the benchmark and Evidence.RoundTrips report.
type countingTransport struct{ next http.RoundTripper }

type roundTripKey struct{}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if n, ok := r.Context().Value(roundTripKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
	if a := retryAttempt(r.Context()); a > 0 && r.Header.Get("Retry-Attempt") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Retry-Attempt", strconv.Itoa(a))
	}
	gate := actions.CallGateOf(r.Context())
	if gate != nil {
		if err := gate.Wait(r.Context()); err != nil {
			return nil, err
		}
	}
	resp, err := t.next.RoundTrip(r)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	if status == http.StatusTooManyRequests {
		// Below the SDK's retry handler: every 429 is seen, even one retried at once.
		actions.ObserveThrottle(r.Context(), retryAfterHeader(resp.Header.Get("Retry-After")))
	}
	if gate != nil {
		gate.Done(status)
	}
	return resp, err
}

// ownBody hands the transport its own copy of the request body. kiota's retry handler
// rewinds and resends the body reader it gave the transport as soon as RoundTrip
// returns, but net/http may still be writing that reader from its connection goroutine
// (RoundTrip may close the body "even after RoundTrip returns"): a data race the race
// detector catches on a throttled POST. Request bodies to Graph are small.
type ownBody struct{ next http.RoundTripper }

func (t ownBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return t.next.RoundTrip(r)
	}
	b, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read request body for %s: %w", r.URL.Path, err)
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(b))
	r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r2.ContentLength = int64(len(b))
	return t.next.RoundTrip(r2)
}

// withRoundTrips returns a context that counts the requests made with it.
func withRoundTrips(ctx context.Context) (context.Context, *atomic.Int64) {
	if n, ok := ctx.Value(roundTripKey{}).(*atomic.Int64); ok {
		return ctx, n
	}
	n := new(atomic.Int64)
	return context.WithValue(ctx, roundTripKey{}, n), n
}

// middlewares is the SDK's default pipeline in a fixed order, with kiota's compression
// handler replaced by compressionHandler (the same behaviour with pooled writers). kiota builds its default
// list by ranging over a map, so the order changes between clients; with retry outside
// compression a retried POST is resent as gzip-labelled plain text. Index 0 is outermost:
// compression runs before retry, so a retry resends the already-compressed body.
//
// The retry handler honours Retry-After on 429, 503 and 504, but gives up (and the 429
// reaches the caller as "throttled, try again in N s") once the waits would add up to
// more than maxWait, or run past the request's deadline.
func middlewares(maxWait time.Duration) []khttp.Middleware {
	opts := core.GraphClientOptions{GraphServiceVersion: "v1.0", GraphServiceLibraryVersion: "1.89.0"}
	shouldRetry := func(waited time.Duration, _ int, req *http.Request, resp *http.Response) bool {
		if ownRetries(req.Context()) {
			return false // the write path retries, on its own budget and clock
		}
		next := retryAfterHeader(resp.Header.Get("Retry-After"))
		if waited+next > maxWait {
			return false
		}
		if dl, ok := req.Context().Deadline(); ok && time.Until(dl) < next {
			return false
		}
		return true
	}
	return []khttp.Middleware{
		core.NewGraphTelemetryHandler(&opts),
		khttp.NewRedirectHandler(),
		compressionHandler{},
		khttp.NewRetryHandlerWithOptions(khttp.RetryHandlerOptions{MaxRetries: 3, DelaySeconds: 1, ShouldRetry: shouldRetry}),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		khttp.NewHeadersInspectionHandler(),
	}
}

// ReregisterTypes are the method types Reregister deletes; approval cards show them.
func (c *Client) ReregisterTypes() []actions.MethodType {
	return append([]actions.MethodType(nil), c.cfg.ReregisterTypes...)
}

// IsLoopback reports whether u points at this machine.
func IsLoopback(u *url.URL) bool {
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (c *Client) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.Timeout)
}

var (
	_ actions.Directory = (*Client)(nil)
	_ actions.Gatherer  = (*Client)(nil)
	_ actions.Writer    = (*Client)(nil)
)

var errNoBody = errors.New("graph returned no body")
