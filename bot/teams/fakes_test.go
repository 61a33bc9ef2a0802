package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/teams/teamstest"
	"github.com/mfadesk/mfadesk/bot/testvectors"
)

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
	is      *teamstest.Issuer
	fc      *teamstest.Connector
	cred    *teamstest.Cred
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
	e := &env{t: t, is: teamstest.NewIssuer(t), fc: teamstest.NewConnector(t), cred: &teamstest.Cred{}, router: &fakeRouter{}, logs: &logBuffer{},
		now: testNow, appID: testAppID, tenant: testTenant}
	to, _ := url.Parse(e.fc.URL())
	o := Options{
		AppID: e.appID, TenantID: e.tenant, Credential: e.cred,
		ServiceURL:        e.fc.URL() + "/teams/",
		ApprovalsChannel:  testChannel,
		AuditChannel:      auditChannel,
		OpenIDMetadataURL: e.is.BFMetadataURL(),
		EntraMetadataURL:  e.is.EntraMetadataURL(),
		HTTPClient:        &http.Client{Transport: teamstest.RedirectTransport{To: to, Base: http.DefaultTransport}, Timeout: 10 * time.Second},
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
	return e.is.MintBF(e.t, e.claims(serviceURL))
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

// readVector reads a Teams vector as it is; without the vectors the test is skipped.
func readVector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testvectors.Dir(t, "teams"), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
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
