package slack

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/bot"
)

func TestNewRefusesIncompleteOptions(t *testing.T) {
	base := func() Options {
		return Options{
			Mode: ModeHTTP, BotToken: "xoxb-1", SigningSecret: "s", AppToken: "xapp-1", TeamID: "T01",
			ApprovalsChannel: "C1A", AuditChannel: "C1B", Handler: &fakeHandler{}, Resolver: &directory{},
		}
	}
	tests := []struct {
		name string
		mod  func(o *Options)
		want string
	}{
		{"http without signing secret", func(o *Options) { o.SigningSecret = "" }, "signing secret"},
		{"socket without app token", func(o *Options) { o.Mode = ModeSocket; o.AppToken = "" }, "app-level token"},
		{"socket with a bot token as app token", func(o *Options) { o.Mode = ModeSocket; o.AppToken = "xoxb-2" }, "xapp-"},
		{"unknown mode", func(o *Options) { o.Mode = "carrier-pigeon" }, "neither"},
		{"no bot token", func(o *Options) { o.BotToken = "" }, "bot token"},
		{"user token as bot token", func(o *Options) { o.BotToken = "xoxp-1" }, "xoxb-"},
		{"no team", func(o *Options) { o.TeamID = "" }, "team id"},
		{"bad team", func(o *Options) { o.TeamID = "contoso" }, "team id"},
		{"approvals channel by name", func(o *Options) { o.ApprovalsChannel = "#approvals" }, "approvals channel"},
		{"no audit channel", func(o *Options) { o.AuditChannel = "" }, "audit channel"},
		{"no handler", func(o *Options) { o.Handler = nil }, "handler"},
		{"no resolver", func(o *Options) { o.Resolver = nil }, "resolver"},
		{"bad command", func(o *Options) { o.Command = "mfa" }, "command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.mod(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
			for _, secret := range []string{"xoxb-1", "xapp-1", "xoxb-2"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q shows a token", err)
				}
			}
		})
	}
	if _, err := New(base()); err != nil {
		t.Fatalf("complete options: %v", err)
	}
}

// Every refused request is refused before the handler sees anything.
func TestHTTPRefusals(t *testing.T) {
	h := newHarness(t, ModeHTTP, func(o *Options) { o.MaxBodyBytes = 4096 })
	form, _ := h.slashForm(userHana, "user alice@contoso.com")
	body := []byte(form.Encode())

	replayed := h.signed("/slack/commands", body)
	first := h.serve(h.signed("/slack/commands", body))
	_ = first

	tests := []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"forged signature", func() *http.Request {
			r := h.signed("/slack/commands", body)
			r.Header.Set(headerSignature, "v0="+strings.Repeat("ab", 32))
			return r
		}, http.StatusUnauthorized},
		{"tampered body", func() *http.Request {
			r := h.signed("/slack/commands", body)
			tampered := strings.Replace(string(body), "user+alice", "revoke+alice", 1)
			return withBody(r, tampered)
		}, http.StatusUnauthorized},
		{"unsigned", func() *http.Request {
			r := h.signed("/slack/commands", body)
			r.Header.Del(headerSignature)
			return r
		}, http.StatusUnauthorized},
		{"stale", func() *http.Request {
			ts, sig := SignRequest(testSecret, h.clock.Now().Add(-6*time.Minute), body)
			r := h.signed("/slack/commands", body)
			r.Header.Set(headerTimestamp, ts)
			r.Header.Set(headerSignature, sig)
			return r
		}, http.StatusUnauthorized},
		{"from the future", func() *http.Request {
			ts, sig := SignRequest(testSecret, h.clock.Now().Add(6*time.Minute), body)
			r := h.signed("/slack/commands", body)
			r.Header.Set(headerTimestamp, ts)
			r.Header.Set(headerSignature, sig)
			return r
		}, http.StatusUnauthorized},
		{"replayed inside the window", func() *http.Request { return replayed }, http.StatusConflict},
		{"wrong content type", func() *http.Request {
			r := h.signed("/slack/commands", body)
			r.Header.Set("Content-Type", "application/json")
			return r
		}, http.StatusUnsupportedMediaType},
		{"too large", func() *http.Request {
			big := []byte(form.Encode() + "&pad=" + strings.Repeat("x", 5000))
			return h.signed("/slack/commands", big)
		}, http.StatusRequestEntityTooLarge},
		{"GET", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/slack/commands", nil) }, http.StatusMethodNotAllowed},
		{"unknown path", func() *http.Request { return h.signed("/slack/events", body) }, http.StatusNotFound},
		{"signed but malformed form", func() *http.Request { return h.signed("/slack/commands", []byte("text=%zz&command=/mfa")) }, http.StatusBadRequest},
		{"signed but no command", func() *http.Request { return h.signed("/slack/commands", []byte("user_id=U0HANA&team_id=T0MFADESK")) }, http.StatusBadRequest},
		{"signed interaction without payload", func() *http.Request { return h.signed("/slack/interactions", []byte("x=1")) }, http.StatusBadRequest},
		{"signed interaction with a bad payload", func() *http.Request {
			return h.signed("/slack/interactions", []byte(url.Values{"payload": {"{not json"}}.Encode()))
		}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.serve(tt.req())
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tt.status, rec.Body.String())
			}
		})
	}
	// Only the first, genuine request reached the router.
	h.fake.waitFor("the genuine lookup", func() bool { return h.fake.calls["response_url"] >= 1 })
	if ev, _, _ := h.h.counts(); ev != 1 {
		t.Fatalf("handler saw %d events, want 1", ev)
	}
}

func withBody(r *http.Request, body string) *http.Request {
	r2 := httptest.NewRequest(r.Method, r.URL.Path, strings.NewReader(body))
	r2.Header = r.Header.Clone()
	return r2
}

// Socket Mode has no request URLs: the handler answers 404 even to signed requests.
func TestHTTPHandlerOffInSocketMode(t *testing.T) {
	h := newHarness(t, ModeSocket, nil)
	v, _ := h.slashForm(userHana, "help")
	if rec := h.serve(h.signed("/slack/commands", []byte(v.Encode()))); rec.Code != http.StatusNotFound {
		t.Fatalf("status = %d, want 404", rec.Code)
	}
}

// The documented signing example, end to end: its exact bytes and signature, with
// our clock at its timestamp, pass the HTTP endpoint; its command (/webhook-collect)
// is not ours and is refused in the ack.
func TestHTTPDocumentedSigningExample(t *testing.T) {
	v, body := loadSigningVector(t)
	h := newHarness(t, ModeHTTP, func(o *Options) {
		o.SigningSecret = v.SigningSecret
		o.TeamID = "T1DC2JH3J"
	})
	ts, _ := parseTimestamp(v.Timestamp)
	h.clock.Set(time.Unix(ts, 0).Add(2 * time.Second))
	r := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set(headerTimestamp, v.Timestamp)
	r.Header.Set(headerSignature, v.ExpectedSignature)
	ack := ackJSON(t, h.serve(r))
	if ack["response_type"] != "ephemeral" || !strings.Contains(ack["text"].(string), "answers only /mfa") {
		t.Fatalf("ack = %v", ack)
	}
	// The same bytes again are a replay.
	r2 := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(string(body)))
	r2.Header = r.Header.Clone()
	if rec := h.serve(r2); rec.Code != http.StatusConflict {
		t.Fatalf("replay status = %d", rec.Code)
	}
}

// The documented /weather slash-command body, as it is: with the adapter configured
// for that command and workspace, it parses, and "94070" is an unknown verb answered
// inline with the usage.
func TestHTTPDocumentedSlashCommand(t *testing.T) {
	body := mustRead(t, "slash-command-docs-weather.form")
	h := newHarness(t, ModeHTTP, func(o *Options) {
		o.Command = "/weather"
		o.TeamID = ""
		o.EnterpriseID = "E0001"
	})
	ack := ackJSON(t, h.serve(h.signed("/slack/commands", body)))
	text, _ := ack["text"].(string)
	if ack["response_type"] != "ephemeral" || !strings.Contains(text, "Unknown verb") || !strings.Contains(text, "help") {
		t.Fatalf("ack = %v", ack)
	}
	if ev, _, _ := h.h.counts(); ev != 0 {
		t.Fatalf("a usage error reached the router")
	}
}

func TestSlashInlineAnswers(t *testing.T) {
	h := newHarness(t, ModeHTTP, nil)
	tests := []struct {
		name, user, text string
		mod              func(v url.Values)
		want             []string
	}{
		{name: "help", text: "help", want: []string{"mfadesk verbs", "reregister"}},
		{name: "empty is help", text: "", want: []string{"mfadesk verbs"}},
		{name: "help on a verb", text: "help signins", want: []string{"signins"}},
		{name: "unknown verb", text: "frobnicate alice@contoso.com", want: []string{"Unknown verb", "/mfa help"}},
		{name: "bad usage", text: "signins alice@contoso.com --last 500", want: []string{"--last", "Usage: /mfa signins"}},
		{name: "unclosed quote", text: `user "alice`, want: []string{"unclosed quote"}},
		{name: "other workspace", text: "user alice@contoso.com", mod: func(v url.Values) { v.Set("team_id", "T0EVIL") }, want: []string{"own Slack workspace"}},
		{name: "other command", text: "help", mod: func(v url.Values) { v.Set("command", "/other") }, want: []string{"answers only /mfa"}},
		{name: "foreign response_url", text: "user alice@contoso.com", mod: func(v url.Values) { v.Set("response_url", "https://evil.example/steal") }, want: []string{"cannot answer"}},
		{name: "mention injection is escaped", text: "<!channel> help", want: []string{"&lt;!channel&gt;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := h.slashForm(orDefault(tt.user, userHana), tt.text)
			if tt.mod != nil {
				tt.mod(v)
			}
			ack := ackJSON(t, h.serve(h.signed("/slack/commands", []byte(v.Encode()))))
			all := ack["text"].(string) + "\n" + texts(ack["blocks"])
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("ack lacks %q:\n%s", w, all)
				}
			}
			if strings.Contains(all, "<!channel>") {
				t.Errorf("ack carries a raw broadcast mention")
			}
		})
	}
	if ev, _, _ := h.h.counts(); ev != 0 {
		t.Fatalf("inline answers reached the router %d times", ev)
	}
}

// A lookup is acked at once and answered privately through response_url by the
// router, as the caller resolved from Slack to the directory.
func TestLookupAnsweredThroughResponseURL(t *testing.T) {
	h := newHarness(t, ModeHTTP, nil)
	h.h.handle = func(ev bot.Event) bot.Message {
		return bot.Message{Private: true, Title: "User Alice <script>", Text: "Alice <@U123> & co: enabled.",
			Sections: []bot.Section{{Facts: []bot.Fact{{Label: "UPN", Value: "alice@contoso.com"}, {Label: "Phone", Value: "+1 ••• ••• 12"}}}}}
	}
	rec, ru := h.slash(userHana, "user alice@contoso.com")
	ack := ackJSON(t, rec)
	if ack["response_type"] != "ephemeral" || !strings.Contains(ack["text"].(string), "Looking that up") {
		t.Fatalf("ack = %v", ack)
	}
	posts := h.fake.waitResponses(ru, 1)
	p := posts[0]
	if p["response_type"] != "ephemeral" {
		t.Fatalf("answer is not ephemeral: %v", p["response_type"])
	}
	if p["text"] != "Alice &lt;@U123&gt; &amp; co: enabled." {
		t.Fatalf("top-level text = %q", p["text"])
	}
	if all := texts(p["blocks"]); !strings.Contains(all, "*UPN*\nalice@contoso.com") || !strings.Contains(all, "User Alice <script>") {
		t.Fatalf("blocks:\n%s", all)
	}
	h.h.mu.Lock()
	ev := h.h.events[0]
	h.h.mu.Unlock()
	want := bot.Caller{Platform: "slack", ChatID: userHana, Name: "Real " + userHana, ObjectID: oidHana}
	if ev.Caller != want || ev.Text != "user alice@contoso.com" {
		t.Fatalf("event = %+v", ev)
	}
}

// Accounts that must not act are refused with one line that says why, and the
// router never sees them.
func TestIdentityRefusals(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(u map[string]any)
		oid    string // directory answer ("" = none)
		failUI string // users.info error code
		want   string
	}{
		{name: "guest", mod: func(u map[string]any) { u["is_restricted"] = true }, want: "Guest accounts"},
		{name: "single-channel guest", mod: func(u map[string]any) { u["is_ultra_restricted"] = true }, want: "Guest accounts"},
		{name: "deactivated", mod: func(u map[string]any) { u["deleted"] = true }, want: "deactivated"},
		{name: "bot", mod: func(u map[string]any) { u["is_bot"] = true }, want: "Bots"},
		{name: "workflow bot", mod: func(u map[string]any) { u["is_workflow_bot"] = true }, want: "Bots"},
		{name: "other workspace", mod: func(u map[string]any) { u["team_id"] = "T0OTHER" }, want: "own Slack workspace"},
		{name: "slack connect stranger", mod: func(u map[string]any) { u["is_stranger"] = true }, want: "other organisations"},
		{name: "no email", mod: func(u map[string]any) { u["profile"].(map[string]any)["email"] = "" }, want: "no email"},
		{name: "unconfirmed email", mod: func(u map[string]any) { u["is_email_confirmed"] = false }, want: "not confirmed"},
		{name: "not in the directory", oid: "-", want: "does not match exactly one directory user"},
		{name: "directory answers an empty id", oid: "", want: "does not match a directory user"},
		{name: "users.info fails", failUI: "missing_scope", want: "could not be read"},
		{name: "app lacks a scope: not retryable", failUI: "missing_scope", want: "A Slack admin must reinstall the app"},
		{name: "slack fails: retryable", failUI: "internal_error", want: "Try again shortly"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, ModeHTTP, nil)
			h.fake.addUser("U0EVE", "eve@contoso.com", tt.mod)
			switch tt.oid {
			case "-":
			default:
				h.dir.oids["eve@contoso.com"] = tt.oid
			}
			if tt.failUI != "" {
				h.fake.mu.Lock()
				h.fake.failNext["users.info"] = tt.failUI
				h.fake.mu.Unlock()
			}
			_, ru := h.slash("U0EVE", "user alice@contoso.com")
			p := h.fake.waitResponses(ru, 1)[0]
			text := p["text"].(string)
			if !strings.Contains(text, tt.want) || strings.Contains(text, "\n") {
				t.Fatalf("refusal = %q, want one line with %q", text, tt.want)
			}
			if p["response_type"] != "ephemeral" {
				t.Fatalf("refusal not ephemeral")
			}
			if ev, _, _ := h.h.counts(); ev != 0 {
				t.Fatalf("the router saw a refused caller")
			}
		})
	}
}

func TestIdentityCache(t *testing.T) {
	h := newHarness(t, ModeHTTP, func(o *Options) { o.IdentityTTL = time.Minute; o.IdentityCacheSize = 2 })
	ask := func(user string) {
		t.Helper()
		_, ru := h.slash(user, "user alice@contoso.com")
		h.fake.waitResponses(ru, 1)
	}
	ask(userHana)
	ask(userHana)
	if n := h.fake.count("users.info"); n != 1 {
		t.Fatalf("users.info called %d times within the TTL, want 1", n)
	}
	h.clock.Advance(2 * time.Minute)
	ask(userHana)
	if n := h.fake.count("users.info"); n != 2 {
		t.Fatalf("users.info called %d times after the TTL, want 2", n)
	}
	// The cache stays within its size.
	h.fake.addUser("U0CARL", "carl@contoso.com", nil)
	h.dir.oids["carl@contoso.com"] = "33333333-3333-3333-3333-333333333333"
	ask(userAlex)
	ask("U0CARL")
	h.a.ids.mu.Lock()
	n := len(h.a.ids.cache)
	h.a.ids.mu.Unlock()
	if n > 2 {
		t.Fatalf("cache holds %d entries, limit 2", n)
	}
	// A user who became a guest loses access when the entry expires.
	h.fake.addUser(userHana, "hana@contoso.com", func(u map[string]any) { u["is_restricted"] = true })
	h.clock.Advance(2 * time.Minute)
	_, ru := h.slash(userHana, "user alice@contoso.com")
	if p := h.fake.waitResponses(ru, 1)[0]; !strings.Contains(p["text"].(string), "Guest") {
		t.Fatalf("answer after becoming a guest: %v", p["text"])
	}
}
