package teamstest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"
)

// BotFrameworkIssuer is the issuer of Bot Framework tokens, as the metadata names it.
const BotFrameworkIssuer = "https://api.botframework.com"

// RSA keys are slow to generate under -race; the tests share a few.
var RSAKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	var ks []*rsa.PrivateKey
	for range 3 {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		ks = append(ks, k)
	}
	return ks
})

// SigningKey is a key the local issuer publishes.
type SigningKey struct {
	KID          string
	Priv         *rsa.PrivateKey
	Endorsements []string
}

// Issuer is a local stand-in for login.botframework.com and login.microsoftonline.com:
// OpenID metadata and JWKS (Bot Framework keys carry endorsements), and token minting.
type Issuer struct {
	srv *httptest.Server

	mu          sync.Mutex
	bfKeys      []SigningKey
	entraKeys   []SigningKey
	bfFetches   int // JWKS fetches
	metaFetches int
}

func NewIssuer(t *testing.T) *Issuer {
	t.Helper()
	ks := RSAKeys()
	is := &Issuer{
		bfKeys:    []SigningKey{{KID: "bf-1", Priv: ks[0], Endorsements: []string{"msteams", "webchat"}}},
		entraKeys: []SigningKey{{KID: "entra-1", Priv: ks[1]}},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bf/.well-known/openidconfiguration", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		is.metaFetches++
		is.mu.Unlock()
		WriteJSON(w, map[string]any{"issuer": BotFrameworkIssuer, "jwks_uri": is.srv.URL + "/bf/keys", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /bf/keys", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		is.bfFetches++
		keys := append([]SigningKey(nil), is.bfKeys...)
		is.mu.Unlock()
		WriteJSON(w, JWKS(keys, true))
	})
	mux.HandleFunc("GET /entra/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, map[string]any{"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0", "jwks_uri": is.srv.URL + "/entra/keys", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /entra/keys", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		keys := append([]SigningKey(nil), is.entraKeys...)
		is.mu.Unlock()
		WriteJSON(w, JWKS(keys, false))
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *Issuer) BFMetadataURL() string { return is.srv.URL + "/bf/.well-known/openidconfiguration" }
func (is *Issuer) EntraMetadataURL() string {
	return is.srv.URL + "/entra/v2.0/.well-known/openid-configuration"
}

func (is *Issuer) AddBFKey(k SigningKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.bfKeys = append(is.bfKeys, k)
}

func (is *Issuer) Fetches() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.bfFetches
}

func JWKS(keys []SigningKey, withEndorsements bool) map[string]any {
	var out []map[string]any
	for _, k := range keys {
		m := map[string]any{
			"kty": "RSA", "use": "sig", "kid": k.KID,
			"n": base64.RawURLEncoding.EncodeToString(k.Priv.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.Priv.E)).Bytes()),
		}
		if withEndorsements {
			m["endorsements"] = k.Endorsements
		}
		out = append(out, m)
	}
	return map[string]any{"keys": out}
}

// Mint signs claims with key as RS256 and names kid in the header.
func Mint(t *testing.T, key *rsa.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func WriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// ConnCall is one request the fake connector received.
type ConnCall struct {
	Method string
	Host   string // the host the adapter addressed (before the test transport redirected it)
	Path   string // unescaped path from v3/ on, e.g. "v3/conversations/19:x;messageid=1/activities/1"
	Conv   string // conversation id in the path
	ActID  string // activity id in the path
	Auth   string
	Body   map[string]any
	RespID string // the id the fake answered with (activity id, or conversation id)
}

type Fault struct {
	Status     int
	RetryAfter string
}

// Connector is a Bot Framework connector: v3/conversations POST, activities
// POST/PUT, with 429 + Retry-After (or any status) injection.
type Connector struct {
	srv *httptest.Server

	mu     sync.Mutex
	calls  []ConnCall
	faults []Fault
	next   int
	// notInstalled are member ids (object ids) the app is not installed for.
	notInstalled map[string]bool
}

// NotInstalled makes a proactive 1:1 with these members fail as the connector
// answers when the app is not installed in the user's personal scope.
func (fc *Connector) NotInstalled(memberIDs ...string) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.notInstalled == nil {
		fc.notInstalled = map[string]bool{}
	}
	for _, m := range memberIDs {
		fc.notInstalled[m] = true
	}
}

func NewConnector(t *testing.T) *Connector {
	t.Helper()
	fc := &Connector{next: 1000}
	fc.srv = httptest.NewServer(http.HandlerFunc(fc.serve))
	t.Cleanup(fc.srv.Close)
	return fc
}

func (fc *Connector) Inject(fs ...Fault) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.faults = append(fc.faults, fs...)
}

func (fc *Connector) Calls() []ConnCall {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return append([]ConnCall(nil), fc.calls...)
}

func (fc *Connector) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	// The service URL may carry a path (…/amer/<tenant>/); the API starts at v3/.
	p := r.URL.EscapedPath()
	i := strings.Index(p, "/v3/conversations")
	if i < 0 {
		http.Error(w, "not a connector path", http.StatusNotFound)
		return
	}
	segs := strings.Split(strings.Trim(p[i+1:], "/"), "/")
	for j := range segs {
		if u, err := url.PathUnescape(segs[j]); err == nil {
			segs[j] = u
		}
	}
	c := ConnCall{Method: r.Method, Host: r.Header.Get("X-Test-Original-Host"), Path: strings.Join(segs, "/"), Auth: r.Header.Get("Authorization")}
	if len(segs) > 2 {
		c.Conv = segs[2]
	}
	if len(segs) > 4 {
		c.ActID = segs[4]
	}
	_ = json.Unmarshal(raw, &c.Body)

	fc.mu.Lock()
	var f *Fault
	if len(fc.faults) > 0 {
		f = &fc.faults[0]
		fc.faults = fc.faults[1:]
	}
	fc.next++
	id := fmt.Sprint(fc.next)
	if f == nil {
		c.RespID = id
	}
	fc.calls = append(fc.calls, c)
	fc.mu.Unlock()

	if c.Auth != "Bearer "+ConnectorToken {
		http.Error(w, `{"error":{"code":"Unauthorized","message":"Authorization has been denied for this request."}}`, http.StatusUnauthorized)
		return
	}
	if f != nil {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		w.WriteHeader(f.Status)
		fmt.Fprintf(w, `{"error":{"code":"Throttled","message":"injected %d"}}`, f.Status)
		return
	}
	switch {
	case r.Method == http.MethodPost && len(segs) == 2: // create conversation
		if c.Body["activity"] == nil && c.Body["isGroup"] == true {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"code":"BadSyntax","message":"Incorrect conversation creation parameters"}}`)
			return
		}
		if c.Body["isGroup"] == true {
			ch, _ := c.Body["channelData"].(map[string]any)["channel"].(map[string]any)["id"].(string)
			w.WriteHeader(http.StatusCreated)
			WriteJSON(w, map[string]string{"id": ch + ";messageid=" + id, "activityId": id})
			return
		}
		members, _ := c.Body["members"].([]any)
		if len(members) != 1 {
			http.Error(w, `{"error":{"code":"BadArgument","message":"exactly one member"}}`, http.StatusBadRequest)
			return
		}
		m, _ := members[0].(map[string]any)["id"].(string)
		fc.mu.Lock()
		missing := fc.notInstalled[m]
		fc.mu.Unlock()
		if missing {
			// A proactive 1:1 with a user who does not have the app: the connector refuses.
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"error":{"code":"Forbidden","message":"The bot is not installed in the user's personal scope"}}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		WriteJSON(w, map[string]string{"id": "a:personal-" + m})
	case r.Method == http.MethodPost && len(segs) >= 4 && segs[3] == "activities":
		w.WriteHeader(http.StatusCreated)
		WriteJSON(w, map[string]string{"id": id})
	case r.Method == http.MethodPut && len(segs) == 5 && segs[3] == "activities":
		WriteJSON(w, map[string]string{"id": segs[4]})
	default:
		http.Error(w, "unsupported", http.StatusMethodNotAllowed)
	}
}

// RedirectTransport sends requests for the real connector hosts (the vectors'
// serviceUrls) to the fake connector, so the vectors can be used as they are.
type RedirectTransport struct {
	To   *url.URL
	Base http.RoundTripper
}

func (rt RedirectTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Host, "smba.") {
		r = r.Clone(r.Context())
		r.Header.Set("X-Test-Original-Host", r.URL.Host)
		r.URL.Scheme, r.URL.Host = rt.To.Scheme, rt.To.Host
		r.Host = rt.To.Host
	}
	return rt.Base.RoundTrip(r)
}

const ConnectorToken = "connector-token-for-tests"

type Cred struct {
	mu     sync.Mutex
	Scopes []string
	Err    error
}

func (c *Cred) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Scopes = append(c.Scopes, o.Scopes...)
	if c.Err != nil {
		return azcore.AccessToken{}, c.Err
	}
	return azcore.AccessToken{Token: ConnectorToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// MintBF signs claims with the issuer's first Bot Framework key, as Bot Framework
// signs the tokens it sends with activities.
func (is *Issuer) MintBF(t *testing.T, claims jwt.MapClaims) string {
	is.mu.Lock()
	k := is.bfKeys[0]
	is.mu.Unlock()
	return Mint(t, k.Priv, k.KID, claims)
}

// URL is the connector's base URL.
func (fc *Connector) URL() string { return fc.srv.URL }
