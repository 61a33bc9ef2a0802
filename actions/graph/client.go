package graph

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	kauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"

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
}

// Client is the Graph implementation of actions.Directory.
type Client struct {
	sdk     *msgraph.GraphServiceClient
	adapter *msgraph.GraphRequestAdapter
	cfg     Config
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
	transport := http.RoundTripper(nil)
	if hc != nil {
		transport = hc.Transport
	}
	client := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(transport, middlewares()...),
		Timeout:   100 * time.Second,
		// Graph never needs a redirect followed by net/http: kiota's handler does it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	adapter, err := msgraph.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, client)
	if err != nil {
		return nil, fmt.Errorf("create graph request adapter: %w", err)
	}
	adapter.SetBaseUrl(strings.TrimRight(cfg.BaseURL, "/"))
	return &Client{sdk: msgraph.NewGraphServiceClient(adapter), adapter: adapter, cfg: cfg}, nil
}

// middlewares is the SDK's default pipeline in a fixed order. kiota builds its default
// list by ranging over a map, so the order changes between clients; with retry outside
// compression a retried POST is resent as gzip-labelled plain text. Index 0 is outermost:
// compression runs before retry, so a retry resends the already-compressed body.
func middlewares() []khttp.Middleware {
	opts := core.GraphClientOptions{GraphServiceVersion: "v1.0", GraphServiceLibraryVersion: "1.89.0"}
	return []khttp.Middleware{
		core.NewGraphTelemetryHandler(&opts),
		khttp.NewRedirectHandler(),
		khttp.NewCompressionHandler(),
		khttp.NewRetryHandlerWithOptions(khttp.RetryHandlerOptions{MaxRetries: 3, DelaySeconds: 2, ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return true }}),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		khttp.NewHeadersInspectionHandler(),
	}
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

var _ actions.Directory = (*Client)(nil)

var errNoBody = errors.New("graph returned no body")
