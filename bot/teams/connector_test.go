package teams

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestConnectorRetries(t *testing.T) {
	cases := []struct {
		name      string
		faults    []fault
		wantErr   string
		wantCalls int
		wantWaits []time.Duration // exact waits; nil means "as many as retries, any length"
	}{
		{"success", nil, "", 1, []time.Duration{}},
		{"429 honours Retry-After seconds", []fault{{429, "2"}}, "", 2, []time.Duration{2 * time.Second}},
		{"429 with Retry-After 0", []fault{{429, "0"}}, "", 2, []time.Duration{0}},
		{"412, 502 and 504 are retried with backoff", []fault{{412, ""}, {502, ""}, {504, ""}}, "", 4, nil},
		{"500 is not retried", []fault{{500, ""}}, "HTTP 500", 1, []time.Duration{}},
		{"403 is not retried", []fault{{403, ""}}, "HTTP 403", 1, []time.Duration{}},
		{"Retry-After beyond the bound fails at once", []fault{{429, "3600"}}, "asked to wait 1h0m0s", 1, []time.Duration{}},
		{"retries are bounded", []fault{{429, "1"}, {429, "1"}, {429, "1"}, {429, "1"}}, "HTTP 429", 4, []time.Duration{time.Second, time.Second, time.Second}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.fc.inject(c.faults...)
			id, err := e.ad.conn.sendActivity(context.Background(), e.ad.opts.ServiceURL, "a:1", &outActivity{Type: "message", Text: "hi"})
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want %q", err, c.wantErr)
			case c.wantErr == "" && id == "":
				t.Fatal("no activity id returned")
			}
			if n := len(e.fc.Calls()); n != c.wantCalls {
				t.Errorf("%d calls, want %d", n, c.wantCalls)
			}
			if c.wantWaits != nil && !equalDurations(e.sleeps, c.wantWaits) {
				t.Errorf("waited %v, want %v", e.sleeps, c.wantWaits)
			}
			if c.wantWaits == nil && len(e.sleeps) != c.wantCalls-1 {
				t.Errorf("waited %v", e.sleeps)
			}
			for _, d := range e.sleeps {
				if d > e.ad.opts.MaxRetryWait {
					t.Errorf("waited %s, more than the bound", d)
				}
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"5", 5 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, true},
		{now.Add(-10 * time.Second).Format(http.TimeFormat), 0, true},
	}
	for _, c := range cases {
		got, ok := retryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// The bearer token only goes to configured connector hosts and URLs, and to the
// serviceUrls of validated activities.
func TestServiceURLAllowList(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	send := func(u string) error {
		_, err := e.ad.conn.sendActivity(ctx, u, "a:1", &outActivity{Type: "message", Text: "x"})
		return err
	}
	refused := []string{
		"https://attacker.example/",
		"http://smba.trafficmanager.net/teams/", // not TLS
		"https://smba.trafficmanager.net.evil.example/",
		"https://user:pw@smba.trafficmanager.net/teams/",
		"https://smba.trafficmanager.net/teams/?x=1",
		"http://127.0.0.1:1/other/", // loopback, but neither configured nor validated
		"not a url",
	}
	for _, u := range refused {
		if err := send(u); err == nil || !strings.Contains(err.Error(), "service URL") {
			t.Errorf("%s: error %v", u, err)
		}
	}
	if n := len(e.fc.Calls()); n != 0 {
		t.Fatalf("%d requests left the bot", n)
	}
	// Configured service URL, and a host from the default list.
	for _, u := range []string{e.ad.opts.ServiceURL, "https://smba.trafficmanager.net/emea/" + testTenant + "/"} {
		if err := send(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	// A validated activity does not add its serviceUrl to the list: it is refused
	// (see TestActivityServiceURLOffAllowList), and the URL stays refused.
	learned := e.fc.srv.URL + "/learned/"
	body := setJSON(t, readVector(t, "channel-message-activity.json"), map[string]any{"serviceUrl": learned})
	if rec := e.post(body); rec.Code != http.StatusForbidden {
		t.Fatalf("status %d", rec.Code)
	}
	if err := send(learned); err == nil {
		t.Error("an activity's serviceUrl off the allow-list became trusted")
	}
}

// An activity whose serviceUrl is off the allow-list is refused before it is read,
// even with a valid token whose serviceurl claim names that URL, and nothing is posted
// there: the bearer token and the answer would otherwise go to that host.
func TestActivityServiceURLOffAllowList(t *testing.T) {
	var hits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"1"}`))
	}))
	defer evil.Close()
	for _, u := range []string{evil.URL + "/teams/", "https://attacker.example/amer/" + testTenant + "/"} {
		t.Run(u, func(t *testing.T) {
			e := newEnv(t)
			body := setJSON(t, readVector(t, "channel-message-activity.json"), map[string]any{"serviceUrl": u})
			rec := e.post(body) // token with serviceurl = u, validly signed
			if rec.Code != http.StatusForbidden {
				t.Fatalf("status %d, want 403", rec.Code)
			}
			if !strings.Contains(e.logs.String(), "serviceUrl is not on the allow-list") {
				t.Errorf("log does not say why:\n%s", e.logs.String())
			}
			if ev, sub, dec := e.router.counts(); ev+sub+dec != 0 {
				t.Error("the activity reached the router")
			}
			if hits.Load() != 0 || len(e.fc.Calls()) != 0 {
				t.Error("something was posted")
			}
		})
	}
}

// Conversation ids hold ':', ';' and '@': each path segment is escaped, and the
// connector sees the id unchanged.
func TestConnectorEscapesAndAuthenticates(t *testing.T) {
	e := newEnv(t)
	conv := "19:abc@thread.tacv2;messageid=1759881511856"
	if err := e.ad.conn.updateActivity(context.Background(), e.ad.opts.ServiceURL, conv, "1759881511856", &outActivity{Type: "message", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	calls := e.fc.Calls()
	if len(calls) != 1 || calls[0].Method != http.MethodPut || calls[0].Conv != conv || calls[0].ActID != "1759881511856" {
		t.Fatalf("calls %+v", calls)
	}
	if calls[0].Auth != "Bearer "+testConnectorToken || calls[0].Body["id"] != "1759881511856" {
		t.Errorf("auth %q body %v", calls[0].Auth, calls[0].Body)
	}
	if len(e.cred.scopes) == 0 || e.cred.scopes[0] != "https://api.botframework.com/.default" {
		t.Errorf("token scopes %v", e.cred.scopes)
	}
	for _, k := range []string{"timestamp", "localTimestamp", "expiration", "relatesTo", "suggestedActions"} {
		if _, ok := calls[0].Body[k]; ok {
			t.Errorf("outbound activity carries zero-value %q", k)
		}
	}
}

func TestConnectorErrors(t *testing.T) {
	t.Run("token failure", func(t *testing.T) {
		e := newEnv(t)
		e.cred.err = errors.New("AADSTS700016: application not found")
		_, err := e.ad.conn.sendActivity(context.Background(), e.ad.opts.ServiceURL, "a:1", &outActivity{Type: "message"})
		if err == nil || !strings.Contains(err.Error(), "get connector token") || len(e.fc.Calls()) != 0 {
			t.Fatalf("err %v, %d calls", err, len(e.fc.Calls()))
		}
	})
	t.Run("connector error code is kept", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.ad.conn.createConversation(context.Background(), e.ad.opts.ServiceURL, conversationParams{IsGroup: true, ChannelData: &outChannelData{Channel: &idRef{ID: testChannel}}})
		var ce *ConnectorError
		if !errors.As(err, &ce) || ce.Status != 400 || ce.Code != "BadSyntax" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("every call has a timeout", func(t *testing.T) {
		release := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer slow.Close()
		defer close(release)
		e := newEnv(t, func(o *Options) { o.ServiceURL = slow.URL + "/"; o.CallTimeout = 50 * time.Millisecond })
		_, err := e.ad.conn.sendActivity(context.Background(), slow.URL+"/", "a:1", &outActivity{Type: "message"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want a deadline", err)
		}
	})
}
