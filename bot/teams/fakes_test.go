package teams

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"

	"github.com/mfadesk/mfadesk/bot"
)

// RSA keys are slow to generate under -race; the tests share a few.
var testRSAKeys = sync.OnceValue(func() []*rsa.PrivateKey {
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

// signingKey is a key the local issuer publishes.
type signingKey struct {
	kid          string
	priv         *rsa.PrivateKey
	endorsements []string
}

// issuer is a local stand-in for login.botframework.com and login.microsoftonline.com:
// OpenID metadata and JWKS (Bot Framework keys carry endorsements), and token minting.
type issuer struct {
	srv *httptest.Server

	mu          sync.Mutex
	bfKeys      []signingKey
	entraKeys   []signingKey
	bfFetches   int // JWKS fetches
	metaFetches int
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	ks := testRSAKeys()
	is := &issuer{
		bfKeys:    []signingKey{{kid: "bf-1", priv: ks[0], endorsements: []string{"msteams", "webchat"}}},
		entraKeys: []signingKey{{kid: "entra-1", priv: ks[1]}},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bf/.well-known/openidconfiguration", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		is.metaFetches++
		is.mu.Unlock()
		writeTestJSON(w, map[string]any{"issuer": BotFrameworkIssuer, "jwks_uri": is.srv.URL + "/bf/keys", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /bf/keys", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		is.bfFetches++
		keys := append([]signingKey(nil), is.bfKeys...)
		is.mu.Unlock()
		writeTestJSON(w, jwks(keys, true))
	})
	mux.HandleFunc("GET /entra/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeTestJSON(w, map[string]any{"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0", "jwks_uri": is.srv.URL + "/entra/keys", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /entra/keys", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		keys := append([]signingKey(nil), is.entraKeys...)
		is.mu.Unlock()
		writeTestJSON(w, jwks(keys, false))
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) bfMetadataURL() string { return is.srv.URL + "/bf/.well-known/openidconfiguration" }
func (is *issuer) entraMetadataURL() string {
	return is.srv.URL + "/entra/v2.0/.well-known/openid-configuration"
}

func (is *issuer) addBFKey(k signingKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.bfKeys = append(is.bfKeys, k)
}

func (is *issuer) fetches() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.bfFetches
}

func jwks(keys []signingKey, withEndorsements bool) map[string]any {
	var out []map[string]any
	for _, k := range keys {
		m := map[string]any{
			"kty": "RSA", "use": "sig", "kid": k.kid,
			"n": base64.RawURLEncoding.EncodeToString(k.priv.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.priv.E)).Bytes()),
		}
		if withEndorsements {
			m["endorsements"] = k.endorsements
		}
		out = append(out, m)
	}
	return map[string]any{"keys": out}
}

// mint signs claims with key as RS256 and names kid in the header.
func mint(t *testing.T, key *rsa.PrivateKey, kid string, claims jwt.MapClaims) string {
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

func writeTestJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// connCall is one request the fake connector received.
type connCall struct {
	Method string
	Host   string // the host the adapter addressed (before the test transport redirected it)
	Path   string // unescaped path from v3/ on, e.g. "v3/conversations/19:x;messageid=1/activities/1"
	Conv   string // conversation id in the path
	ActID  string // activity id in the path
	Auth   string
	Body   map[string]any
	RespID string // the id the fake answered with (activity id, or conversation id)
}

type fault struct {
	status     int
	retryAfter string
}

// fakeConnector is a Bot Framework connector: v3/conversations POST, activities
// POST/PUT, with 429 + Retry-After (or any status) injection.
type fakeConnector struct {
	srv *httptest.Server

	mu     sync.Mutex
	calls  []connCall
	faults []fault
	next   int
	// notInstalled are member ids (object ids) the app is not installed for.
	notInstalled map[string]bool
}

func newFakeConnector(t *testing.T) *fakeConnector {
	t.Helper()
	fc := &fakeConnector{next: 1000}
	fc.srv = httptest.NewServer(http.HandlerFunc(fc.serve))
	t.Cleanup(fc.srv.Close)
	return fc
}

func (fc *fakeConnector) inject(fs ...fault) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.faults = append(fc.faults, fs...)
}

func (fc *fakeConnector) Calls() []connCall {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return append([]connCall(nil), fc.calls...)
}

func (fc *fakeConnector) serve(w http.ResponseWriter, r *http.Request) {
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
	c := connCall{Method: r.Method, Host: r.Header.Get("X-Test-Original-Host"), Path: strings.Join(segs, "/"), Auth: r.Header.Get("Authorization")}
	if len(segs) > 2 {
		c.Conv = segs[2]
	}
	if len(segs) > 4 {
		c.ActID = segs[4]
	}
	_ = json.Unmarshal(raw, &c.Body)

	fc.mu.Lock()
	var f *fault
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

	if c.Auth != "Bearer "+testConnectorToken {
		http.Error(w, `{"error":{"code":"Unauthorized","message":"Authorization has been denied for this request."}}`, http.StatusUnauthorized)
		return
	}
	if f != nil {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		w.WriteHeader(f.status)
		fmt.Fprintf(w, `{"error":{"code":"Throttled","message":"injected %d"}}`, f.status)
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
			writeTestJSON(w, map[string]string{"id": ch + ";messageid=" + id, "activityId": id})
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
		writeTestJSON(w, map[string]string{"id": "a:personal-" + m})
	case r.Method == http.MethodPost && len(segs) >= 4 && segs[3] == "activities":
		w.WriteHeader(http.StatusCreated)
		writeTestJSON(w, map[string]string{"id": id})
	case r.Method == http.MethodPut && len(segs) == 5 && segs[3] == "activities":
		writeTestJSON(w, map[string]string{"id": segs[4]})
	default:
		http.Error(w, "unsupported", http.StatusMethodNotAllowed)
	}
}

// redirectTransport sends requests for the real connector hosts (the vectors'
// serviceUrls) to the fake connector, so the vectors can be used as they are.
type redirectTransport struct {
	to   *url.URL
	base http.RoundTripper
}

func (rt redirectTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Host, "smba.") {
		r = r.Clone(r.Context())
		r.Header.Set("X-Test-Original-Host", r.URL.Host)
		r.URL.Scheme, r.URL.Host = rt.to.Scheme, rt.to.Host
		r.Host = rt.to.Host
	}
	return rt.base.RoundTrip(r)
}

const testConnectorToken = "connector-token-for-tests"

type fakeCred struct {
	mu     sync.Mutex
	scopes []string
	err    error
}

func (c *fakeCred) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, o.Scopes...)
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	return azcore.AccessToken{Token: testConnectorToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// fakeRouter records what the adapter asks and answers with the test's functions.
type fakeRouter struct {
	mu        sync.Mutex
	events    []bot.Event
	submits   []bot.FormSubmission
	decisions []bot.Decision
	callers   []bot.Caller

	handle func(bot.Event) bot.Message
	submit func(bot.Caller, bot.FormSubmission) bot.Message
	decide func(context.Context, bot.Caller, bot.Decision) bot.Message
}

func (r *fakeRouter) Handle(ctx context.Context, ev bot.Event) bot.Message {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.callers = append(r.callers, ev.Caller)
	r.mu.Unlock()
	if r.handle != nil {
		return r.handle(ev)
	}
	return bot.Message{Text: "ok", Private: true}
}

func (r *fakeRouter) Submit(ctx context.Context, c bot.Caller, f bot.FormSubmission) bot.Message {
	r.mu.Lock()
	r.submits = append(r.submits, f)
	r.callers = append(r.callers, c)
	r.mu.Unlock()
	if r.submit != nil {
		return r.submit(c, f)
	}
	return bot.Message{Text: "Request R-TEST1234 filed.", Private: true, RequestID: "R-TEST1234"}
}

func (r *fakeRouter) Decide(ctx context.Context, c bot.Caller, d bot.Decision) bot.Message {
	r.mu.Lock()
	r.decisions = append(r.decisions, d)
	r.callers = append(r.callers, c)
	r.mu.Unlock()
	if r.decide != nil {
		return r.decide(ctx, c, d)
	}
	return bot.Message{Text: "Approved.", Private: true}
}

func (r *fakeRouter) counts() (events, submits, decisions int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events), len(r.submits), len(r.decisions)
}

// logBuffer collects the adapter's logs, to check reasons and that no token leaks.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is one adapter wired to a local issuer, a fake connector and a fake router.
type env struct {
	t       *testing.T
	is      *issuer
	fc      *fakeConnector
	cred    *fakeCred
	router  *fakeRouter
	ad      *Adapter
	h       http.Handler
	logs    *logBuffer
	now     time.Time
	appID   string
	tenant  string
	sleeps  []time.Duration
	sleepMu sync.Mutex
}

const (
	testAppID    = "0b6fe6d1-fece-44f7-9a48-56465e2d5ab8" // the channel vector's bot
	testTenant   = "50612dbb-0237-4969-b378-8d42590f9c00" // the channel vector's tenant
	testChannel  = "19:approvals0000000000000000000000@thread.tacv2"
	auditChannel = "19:audit00000000000000000000000000@thread.tacv2"
)

var testNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, mod ...func(*Options)) *env {
	t.Helper()
	e := &env{t: t, is: newIssuer(t), fc: newFakeConnector(t), cred: &fakeCred{}, router: &fakeRouter{}, logs: &logBuffer{},
		now: testNow, appID: testAppID, tenant: testTenant}
	to, _ := url.Parse(e.fc.srv.URL)
	o := Options{
		AppID: e.appID, TenantID: e.tenant, Credential: e.cred,
		ServiceURL:        e.fc.srv.URL + "/teams/",
		ApprovalsChannel:  testChannel,
		AuditChannel:      auditChannel,
		OpenIDMetadataURL: e.is.bfMetadataURL(),
		EntraMetadataURL:  e.is.entraMetadataURL(),
		HTTPClient:        &http.Client{Transport: redirectTransport{to: to, base: http.DefaultTransport}, Timeout: 10 * time.Second},
		Logger:            slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:               func() time.Time { return e.now },
	}
	for _, m := range mod {
		m(&o)
	}
	ad, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ad.conn.sleep = func(ctx context.Context, d time.Duration) error {
		e.sleepMu.Lock()
		e.sleeps = append(e.sleeps, d)
		e.sleepMu.Unlock()
		return ctx.Err()
	}
	t.Cleanup(func() { _ = ad.Close() })
	e.ad = ad
	e.h = ad.Handler(e.router)
	return e
}

// claims are valid Bot Framework claims for an activity with serviceURL.
func (e *env) claims(serviceURL string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": BotFrameworkIssuer, "aud": e.appID, "serviceurl": serviceURL,
		"exp": e.now.Add(time.Hour).Unix(), "nbf": e.now.Add(-time.Minute).Unix(), "iat": e.now.Add(-time.Minute).Unix(),
	}
}

func (e *env) bfToken(serviceURL string) string {
	return mint(e.t, e.is.bfKeys[0].priv, e.is.bfKeys[0].kid, e.claims(serviceURL))
}

// post sends an activity with a valid token (unless auth is given) and returns the response.
func (e *env) post(body []byte, auth ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	a, err := DecodeActivity(body)
	h := ""
	if err == nil {
		h = "Bearer " + e.bfToken(a.ServiceURL)
	}
	if len(auth) > 0 {
		h = auth[0]
	}
	req := httptest.NewRequest(http.MethodPost, "/api/messages", bytes.NewReader(body))
	if h != "" {
		req.Header.Set("Authorization", h)
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	e.ad.msgs.Wait() // messages are answered after the acknowledgement
	return rec
}

func readVector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorsDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vectorsDir finds shared/vectors/teams beside the repository (../shared in CI's clone,
// /work/shared on a developer machine).
func vectorsDir(t *testing.T) string {
	t.Helper()
	d, ok := findVectors()
	if !ok {
		t.Skip("shared/vectors/teams not found beside the repository")
	}
	return d
}

func findVectors() (string, bool) {
	for _, d := range []string{"../../../shared/vectors/teams", "/work/shared/vectors/teams"} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d, true
		}
	}
	return "", false
}

// activity builds an activity as JSON from a map, for cases the vectors do not cover.
func activityJSON(t *testing.T, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setJSON returns the vector with top-level fields replaced (the file is not touched).
func setJSON(t *testing.T, b []byte, kv map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range kv {
		m[k] = v
	}
	return activityJSON(t, m)
}

func prettyJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}
