package teams

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const otherTenant = "11111111-2222-3333-4444-555555555555"

// Every refused token fails with its own reason, answers 401/403 and changes nothing:
// the router is not called and nothing is sent to the connector.
func TestRefusedTokens(t *testing.T) {
	channelMsg := func(t *testing.T) []byte { return readVector(t, "channel-message-activity.json") }
	svc := "https://smba.trafficmanager.net/amer/50612dbb-0237-4969-b378-8d42590f9c00/"
	ks := testRSAKeys()
	with := func(e *env, mod func(jwt.MapClaims)) jwt.MapClaims {
		c := e.claims(svc)
		mod(c)
		return c
	}
	cases := []struct {
		name   string
		body   func(*testing.T) []byte
		header func(*env) string
		status int
		reason string
	}{
		{"no token", channelMsg, func(e *env) string { return "" }, 401, "no Authorization header"},
		{"not a bearer token", channelMsg, func(e *env) string { return "Basic dXNlcjpwYXNz" }, 401, "not a Bearer token"},
		{"bearer without scheme", channelMsg, func(e *env) string { return e.bfToken(svc) }, 401, "not a Bearer token"},
		{"not a JWT", channelMsg, func(e *env) string { return "Bearer " + strings.Repeat(".", 500) }, 401, "not a JWT"},
		{"wrong issuer", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[0], "bf-1", with(e, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }))
		}, 401, `issuer "https://evil.example" is not accepted`},
		{"wrong audience", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[0], "bf-1", with(e, func(c jwt.MapClaims) { c["aud"] = otherTenant }))
		}, 401, "wrong audience"},
		{"audience array without our app", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[0], "bf-1", with(e, func(c jwt.MapClaims) { c["aud"] = []string{otherTenant, "x"} }))
		}, 401, "wrong audience"},
		{"expired beyond skew", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[0], "bf-1", with(e, func(c jwt.MapClaims) { c["exp"] = e.now.Add(-6 * time.Minute).Unix() }))
		}, 401, "token expired"},
		{"nbf in the future beyond skew", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[0], "bf-1", with(e, func(c jwt.MapClaims) { c["nbf"] = e.now.Add(6 * time.Minute).Unix() }))
		}, 401, "token not valid yet"},
		{"no exp", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[0], "bf-1", with(e, func(c jwt.MapClaims) { delete(c, "exp") }))
		}, 401, "required claim missing"},
		{"unknown key id", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[2], "never-published", e.claims(svc))
		}, 401, "no signing key for the token"},
		{"no key id", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[0], "", e.claims(svc))
		}, 401, "no signing key for the token"},
		{"alg none", channelMsg, func(e *env) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodNone, e.claims(svc))
			tok.Header["kid"] = "bf-1"
			s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			return "Bearer " + s
		}, 401, "signature or algorithm refused"},
		{"HS256 signed with the public key", channelMsg, func(e *env) string {
			der, err := x509.MarshalPKIXPublicKey(&ks[0].PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, e.claims(svc))
			tok.Header["kid"] = "bf-1"
			s, err := tok.SignedString(pemKey)
			if err != nil {
				t.Fatal(err)
			}
			return "Bearer " + s
		}, 401, "signature or algorithm refused"},
		{"signed by another key under a published key id", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[2], "bf-1", e.claims(svc))
		}, 401, "signature or algorithm refused"},
		{"key without the msteams endorsement", channelMsg, func(e *env) string {
			e.is.addBFKey(signingKey{kid: "webchat-only", priv: ks[2], endorsements: []string{"webchat"}})
			return "Bearer " + mint(t, ks[2], "webchat-only", e.claims(svc))
		}, 403, `signing key is not endorsed for channel "msteams"`},
		{"serviceurl mismatch", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[0], "bf-1", e.claims("https://smba.trafficmanager.net/emea/evil/"))
		}, 403, "serviceurl claim does not match"},
		{"no serviceurl claim", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[0], "bf-1", with(e, func(c jwt.MapClaims) { delete(c, "serviceurl") }))
		}, 401, "no serviceurl claim"},
		{"activity of another tenant", func(t *testing.T) []byte {
			return setJSON(t, channelMsg(t), map[string]any{
				"channelData":  map[string]any{"tenant": map[string]any{"id": otherTenant}},
				"conversation": map[string]any{"id": "19:x@thread.tacv2", "tenantId": otherTenant, "conversationType": "channel", "isGroup": true},
			})
		}, func(e *env) string { return "Bearer " + e.bfToken(svc) }, 403, "activity from another tenant"},
		{"activity with no tenant", func(t *testing.T) []byte {
			return setJSON(t, channelMsg(t), map[string]any{"channelData": map[string]any{}, "conversation": map[string]any{"id": "19:x@thread.tacv2"}})
		}, func(e *env) string { return "Bearer " + e.bfToken(svc) }, 403, "activity from another tenant"},
		{"channel other than Teams", func(t *testing.T) []byte {
			return setJSON(t, channelMsg(t), map[string]any{"channelId": "webchat"})
		}, func(e *env) string { return "Bearer " + e.bfToken(svc) }, 403, `channel "webchat" is not Microsoft Teams`},
		{"Entra token of another tenant", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[1], "entra-1", with(e, func(c jwt.MapClaims) {
				c["iss"] = "https://login.microsoftonline.com/" + otherTenant + "/v2.0"
				c["tid"] = otherTenant
			}))
		}, 401, "is not accepted"},
		{"Entra token whose tid is another tenant", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[1], "entra-1", with(e, func(c jwt.MapClaims) {
				c["iss"] = "https://login.microsoftonline.com/" + botServiceTenant + "/v2.0"
				c["tid"] = otherTenant
			}))
		}, 401, "does not match the issuer's tenant"},
		// Any app registered in our tenant can get a token for our app id: accepting
		// them would let it approve as anyone the activity names.
		{"Entra token of our own tenant, any app", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[1], "entra-1", with(e, func(c jwt.MapClaims) {
				c["iss"] = "https://login.microsoftonline.com/" + testTenant + "/v2.0"
				c["tid"] = testTenant
				c["azp"] = "44444444-4444-4444-8444-444444444444"
			}))
		}, 401, "is not accepted"},
		{"Bot Framework issuer signed with an Entra key", channelMsg, func(e *env) string {
			return "Bearer " + mint(t, ks[1], "entra-1", e.claims(svc))
		}, 401, "no signing key for the token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			header := c.header(e)
			rec := e.post(c.body(t), header)
			if rec.Code != c.status {
				t.Errorf("status %d, want %d", rec.Code, c.status)
			}
			logs := strings.ReplaceAll(e.logs.String(), `\"`, `"`)
			if !strings.Contains(logs, c.reason) {
				t.Errorf("log does not give the reason %q:\n%s", c.reason, logs)
			}
			if ev, sub, dec := e.router.counts(); ev+sub+dec != 0 {
				t.Errorf("router was called (%d events, %d submits, %d decisions)", ev, sub, dec)
			}
			if calls := e.fc.Calls(); len(calls) != 0 {
				t.Errorf("connector was called: %+v", calls)
			}
			if tok := strings.TrimPrefix(header, "Bearer "); len(tok) > 20 && strings.Contains(logs, tok) {
				t.Error("the token was logged")
			}
			if strings.Contains(rec.Body.String(), c.reason) {
				t.Error("the reason was sent back to the caller")
			}
		})
	}
}

// Tokens within the rules are accepted, and the caller is who the activity says.
func TestAcceptedTokens(t *testing.T) {
	svc := "https://smba.trafficmanager.net/amer/50612dbb-0237-4969-b378-8d42590f9c00/"
	ks := testRSAKeys()
	cases := []struct {
		name   string
		claims func(e *env) jwt.MapClaims
		key    int
		kid    string
	}{
		{"Bot Framework token", func(e *env) jwt.MapClaims { return e.claims(svc) }, 0, "bf-1"},
		{"expired within the 5 minute skew", func(e *env) jwt.MapClaims {
			c := e.claims(svc)
			c["exp"] = e.now.Add(-4 * time.Minute).Unix()
			return c
		}, 0, "bf-1"},
		{"nbf within the 5 minute skew", func(e *env) jwt.MapClaims {
			c := e.claims(svc)
			c["nbf"] = e.now.Add(4 * time.Minute).Unix()
			return c
		}, 0, "bf-1"},
		{"audience as an array", func(e *env) jwt.MapClaims {
			c := e.claims(svc)
			c["aud"] = []string{"other", e.appID}
			return c
		}, 0, "bf-1"},
		{"Entra v2 token of a Bot Service tenant", func(e *env) jwt.MapClaims {
			c := e.claims(svc)
			c["iss"] = "https://login.microsoftonline.com/" + botServiceTenant + "/v2.0"
			c["tid"] = botServiceTenant
			c["azp"] = e.appID
			return c
		}, 1, "entra-1"},
		{"Entra v1 token of a Bot Service tenant, no serviceurl", func(e *env) jwt.MapClaims {
			c := e.claims(svc)
			c["iss"] = "https://sts.windows.net/" + botServiceTenant + "/"
			c["tid"] = botServiceTenant
			c["appid"] = e.appID
			delete(c, "serviceurl")
			return c
		}, 1, "entra-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			rec := e.post(readVector(t, "channel-message-activity.json"), "Bearer "+mint(t, ks[c.key], c.kid, c.claims(e)))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d; log:\n%s", rec.Code, e.logs.String())
			}
			if len(e.router.events) != 1 {
				t.Fatalf("router saw %d events", len(e.router.events))
			}
			ev := e.router.events[0]
			if ev.Text != "reply to thread" || ev.Caller.Platform != "teams" || ev.Caller.ObjectID != "b15a9416-0ad3-4172-9210-7beb711d3f70" ||
				ev.Caller.ChatID != "29:17bUvCasIPKfQIXHvNzcPjD86fwm6GkWc1PvCGP2-NSkNb7AyGYpjQ7Xw-XgTwaHW5JxZ4KMNDxn1kcL8fwX1Nw" || ev.Caller.Name != "rido" {
				t.Errorf("event %+v", ev)
			}
		})
	}
}

const botServiceTenant = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"

// Our own tenant's Entra tokens are accepted only from the named callers.
func TestEntraCallers(t *testing.T) {
	const caller = "33333333-3333-4333-8333-333333333333"
	svc := "https://smba.trafficmanager.net/amer/50612dbb-0237-4969-b378-8d42590f9c00/"
	ks := testRSAKeys()
	own := func(o *Options) { o.EntraTenants = []string{testTenant}; o.EntraCallers = []string{caller} }
	for _, tc := range []struct {
		name   string
		claim  string
		app    string
		status int
	}{
		{"v1 appid of the accepted caller", "appid", caller, 200},
		{"v2 azp of the accepted caller", "azp", caller, 200},
		{"another app of our tenant", "azp", "44444444-4444-4444-8444-444444444444", 401},
		{"no app claim", "", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, own)
			c := e.claims(svc)
			c["iss"] = "https://login.microsoftonline.com/" + testTenant + "/v2.0"
			c["tid"] = testTenant
			if tc.claim != "" {
				c[tc.claim] = tc.app
			}
			rec := e.post(readVector(t, "channel-message-activity.json"), "Bearer "+mint(t, ks[1], "entra-1", c))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; log:\n%s", rec.Code, tc.status, e.logs.String())
			}
			if tc.status != 200 && len(e.router.events) != 0 {
				t.Fatal("a refused token reached the router")
			}
		})
	}
}

// A key id the cache does not know triggers one refresh of the key set (key
// rollover); more unknown ids soon after do not (rate limit, here a long period so
// the refused request does not wait for the next fetch), and known keys are served
// from the cache.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.UnknownKeyRefresh = 5 * time.Minute })
	body := readVector(t, "channel-message-activity.json")
	svc := "https://smba.trafficmanager.net/amer/50612dbb-0237-4969-b378-8d42590f9c00/"
	ks := testRSAKeys()
	for range 3 {
		if rec := e.post(body); rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	if n := e.is.fetches(); n != 1 {
		t.Fatalf("key set fetched %d times for three requests, want 1 (cached)", n)
	}
	e.is.addBFKey(signingKey{kid: "bf-2", priv: ks[2], endorsements: []string{"msteams"}})
	if rec := e.post(body, "Bearer "+mint(t, ks[2], "bf-2", e.claims(svc))); rec.Code != 200 {
		t.Fatalf("token signed with the new key: status %d; log:\n%s", rec.Code, e.logs.String())
	}
	if n := e.is.fetches(); n != 2 {
		t.Fatalf("key set fetched %d times, want 2 (one refresh for the new kid)", n)
	}
	if rec := e.post(body, "Bearer "+mint(t, ks[1], "bf-3", e.claims(svc))); rec.Code != 401 {
		t.Fatalf("unknown kid: status %d", rec.Code)
	}
	if n := e.is.fetches(); n != 2 {
		t.Fatalf("a second unknown kid right after the first refreshed the keys again (%d fetches)", n)
	}
	if rec := e.post(body, "Bearer "+mint(t, ks[2], "bf-2", e.claims(svc))); rec.Code != 200 {
		t.Fatalf("rotated key no longer accepted: %d", rec.Code)
	}
}

// Unreachable metadata is our problem, not the caller's: 503, and no hammering.
func TestMetadataUnavailable(t *testing.T) {
	var e *env
	e = newEnv(t, func(o *Options) { o.OpenIDMetadataURL = strings.Replace(o.OpenIDMetadataURL, "/bf/", "/missing/", 1) })
	body := readVector(t, "channel-message-activity.json")
	for range 2 {
		if rec := e.post(body); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", rec.Code)
		}
	}
	if n := strings.Count(e.logs.String(), "msg=\"teams: signing keys unavailable\""); n != 2 {
		t.Errorf("logged %d times", n)
	}
	if !strings.Contains(e.logs.String(), "retrying after") {
		t.Error("the second request fetched the metadata again instead of waiting")
	}
}

func TestNewRefusesUnsafeOptions(t *testing.T) {
	ok := Options{AppID: testAppID, TenantID: testTenant, Credential: &fakeCred{}}
	cases := []struct {
		name string
		mod  func(*Options)
	}{
		{"no app id (msbotbuilder-go would disable auth)", func(o *Options) { o.AppID = "" }},
		{"app id not a GUID", func(o *Options) { o.AppID = "mfadesk" }},
		{"no tenant", func(o *Options) { o.TenantID = "" }},
		{"no credential", func(o *Options) { o.Credential = nil }},
		{"metadata over http", func(o *Options) { o.OpenIDMetadataURL = "http://login.example.com/meta" }},
		{"service URL over http", func(o *Options) { o.ServiceURL = "http://smba.trafficmanager.net/teams/" }},
		{"approvals channel not a channel id", func(o *Options) { o.ApprovalsChannel = "approvals" }},
		{"Entra tenant not a GUID", func(o *Options) { o.EntraTenants = []string{"contoso.com"} }},
		{"own tenant's Entra tokens without callers", func(o *Options) { o.EntraTenants = []string{testTenant} }},
		{"Entra caller not a GUID", func(o *Options) { o.EntraTenants = []string{testTenant}; o.EntraCallers = []string{"bot"} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := ok
			c.mod(&o)
			if a, err := New(o); err == nil {
				a.Close()
				t.Fatal("accepted")
			}
		})
	}
	a, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}

func TestLoadKeys(t *testing.T) {
	e := newEnv(t)
	if err := e.ad.LoadKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.is.fetches(); n != 1 {
		t.Fatalf("%d key fetches", n)
	}
	if rec := e.post(readVector(t, "channel-message-activity.json")); rec.Code != 200 || e.is.fetches() != 1 {
		t.Fatalf("HTTP %d, %d key fetches", rec.Code, e.is.fetches())
	}
	bad := newEnv(t, func(o *Options) { o.OpenIDMetadataURL += "-missing" })
	if err := bad.ad.LoadKeys(context.Background()); err == nil {
		t.Error("missing metadata loaded")
	}
}

// A token from the Bot Service's tenants says which app asked for it (appid in v1,
// azp in v2): only our own app id or a named caller may speak, and the refusal comes
// before the activity is read. Before this check, any app that got a token with our
// audience from those tenants could name any user in the activity.
func TestCallingApp(t *testing.T) {
	const named = "33333333-3333-4333-8333-333333333333"
	svc := "https://smba.trafficmanager.net/amer/50612dbb-0237-4969-b378-8d42590f9c00/"
	ks := testRSAKeys()
	for _, tc := range []struct {
		name    string
		iss     string
		claim   string
		app     string
		callers []string
		status  int
	}{
		{"v2 azp is our app", "https://login.microsoftonline.com/" + botServiceTenant + "/v2.0", "azp", testAppID, nil, 200},
		{"v1 appid is our app", "https://sts.windows.net/" + botServiceTenant + "/", "appid", testAppID, nil, 200},
		{"v2 azp is a named caller", "https://login.microsoftonline.com/" + botServiceTenant + "/v2.0", "azp", named, []string{named}, 200},
		{"v2 azp is another app", "https://login.microsoftonline.com/" + botServiceTenant + "/v2.0", "azp", "44444444-4444-4444-8444-444444444444", nil, 401},
		{"v1 appid is another app", "https://sts.windows.net/" + botServiceTenant + "/", "appid", "44444444-4444-4444-8444-444444444444", []string{named}, 401},
		{"no app claim", "https://login.microsoftonline.com/" + botServiceTenant + "/v2.0", "", "", nil, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.EntraCallers = tc.callers })
			c := e.claims(svc)
			c["iss"], c["tid"] = tc.iss, botServiceTenant
			if tc.claim != "" {
				c[tc.claim] = tc.app
			}
			rec := e.post(readVector(t, "channel-message-activity.json"), "Bearer "+mint(t, ks[1], "entra-1", c))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; log:\n%s", rec.Code, tc.status, e.logs.String())
			}
			ev, _, _ := e.router.counts()
			if tc.status != 200 {
				if ev != 0 || len(e.fc.Calls()) != 0 {
					t.Fatal("a refused token reached the router or the connector")
				}
				if !strings.Contains(e.logs.String(), "not an accepted caller") {
					t.Errorf("log does not say why:\n%s", e.logs.String())
				}
			} else if ev != 1 {
				t.Fatalf("router saw %d events", ev)
			}
		})
	}
}

// One forged token naming an unknown key id — anyone can send one — must not stop a
// genuine key rollover: the token signed with the newly published key, right after
// the forged one, is accepted (with the default settings), and a flood of made-up key
// ids costs the key host a bounded number of fetches. Before, the forged token spent
// the only refresh of a 5-minute period and the new key was refused for all of it.
func TestForgedKidDoesNotBlockRollover(t *testing.T) {
	e := newEnv(t)
	body := readVector(t, "channel-message-activity.json")
	svc := "https://smba.trafficmanager.net/amer/50612dbb-0237-4969-b378-8d42590f9c00/"
	ks := testRSAKeys()
	if rec := e.post(body); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	forged := "Bearer " + mint(t, ks[1], "made-up", e.claims(svc))
	if rec := e.post(body, forged); rec.Code != 401 {
		t.Fatalf("forged token: status %d", rec.Code)
	}
	e.is.addBFKey(signingKey{kid: "bf-2", priv: ks[2], endorsements: []string{"msteams"}})
	start := time.Now()
	if rec := e.post(body, "Bearer "+mint(t, ks[2], "bf-2", e.claims(svc))); rec.Code != 200 {
		t.Fatalf("token signed with the new key after a forged one: status %d; log:\n%s", rec.Code, e.logs.String())
	}
	t.Logf("new key accepted after %s", time.Since(start).Round(time.Millisecond))

	// A flood of made-up key ids, all at once: they share fetches.
	before := e.is.fetches()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest(http.MethodPost, "/api/messages", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+mint(t, ks[1], fmt.Sprintf("flood-%d", i), e.claims(svc)))
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Code != 401 {
				t.Errorf("made-up kid: status %d", rec.Code)
			}
		}()
	}
	wg.Wait()
	if n := e.is.fetches() - before; n > 2 {
		t.Errorf("20 made-up key ids caused %d key set fetches, want at most 2", n)
	}
}
