package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/slack/slacktest"
	"github.com/mfadesk/mfadesk/bot/testvectors"
)

const (
	testTeam      = "T0MFADESK"
	testSecret    = "8f742231b10e8888abcd99yyyzzz85a5-test"
	testApprovals = "C0APPROVALS"
	testAudit     = "C0AUDIT"
)

// mustRead reads a Slack vector, as it is.
func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	return testvectors.Read(t, "slack", name)
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock { return &testClock{t: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *testClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// fakeHandler stands in for bot.Router: it records what it was asked and answers
// with the functions a test sets.
type fakeHandler struct {
	mu        sync.Mutex
	events    []bot.Event
	submits   []submitCall
	decisions []decideCall
	handle    func(bot.Event) bot.Message
	submit    func(bot.Caller, bot.FormSubmission) bot.Message
	decide    func(bot.Caller, bot.Decision) bot.Message
	gate      chan struct{} // when set, Submit and Decide wait for it
}

type submitCall struct {
	Caller bot.Caller
	Form   bot.FormSubmission
}

type decideCall struct {
	Caller   bot.Caller
	Decision bot.Decision
}

func (h *fakeHandler) Handle(_ context.Context, ev bot.Event) bot.Message {
	h.mu.Lock()
	h.events = append(h.events, ev)
	fn := h.handle
	h.mu.Unlock()
	if fn != nil {
		return fn(ev)
	}
	return bot.Message{Private: true, Title: "User Alice", Text: "Alice (alice@contoso.com): enabled.", Sections: []bot.Section{{Facts: []bot.Fact{{Label: "UPN", Value: "alice@contoso.com"}}}}}
}

func (h *fakeHandler) wait(ctx context.Context) {
	h.mu.Lock()
	g := h.gate
	h.mu.Unlock()
	if g != nil {
		select {
		case <-g:
		case <-ctx.Done():
		}
	}
}

func (h *fakeHandler) Submit(ctx context.Context, c bot.Caller, f bot.FormSubmission) bot.Message {
	h.wait(ctx)
	h.mu.Lock()
	h.submits = append(h.submits, submitCall{c, f})
	fn := h.submit
	h.mu.Unlock()
	if fn != nil {
		return fn(c, f)
	}
	return bot.Message{Private: true, Text: "Request R-TEST0001 filed; an approver has been asked.", RequestID: "R-TEST0001"}
}

func (h *fakeHandler) Decide(ctx context.Context, c bot.Caller, d bot.Decision) bot.Message {
	h.wait(ctx)
	h.mu.Lock()
	h.decisions = append(h.decisions, decideCall{c, d})
	fn := h.decide
	h.mu.Unlock()
	if fn != nil {
		return fn(c, d)
	}
	return bot.Message{Private: true, Text: "Recorded."}
}

func (h *fakeHandler) counts() (events, submits, decisions int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.events), len(h.submits), len(h.decisions)
}

// directory maps emails to object ids, as the Graph directory would.
type directory struct {
	mu    sync.Mutex
	oids  map[string]string
	calls int
}

func (d *directory) ObjectIDByEmail(_ context.Context, email string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if oid, ok := d.oids[strings.ToLower(email)]; ok {
		return oid, nil
	}
	return "", errors.New("no directory user with that email")
}

type harness struct {
	t     testing.TB
	fake  *slacktest.Fake
	a     *Adapter
	h     *fakeHandler
	dir   *directory
	clock *testClock
}

// People of the tests: two helpdesk agents / approvers in the workspace.
const (
	userHana = "U0HANA"
	userAlex = "U0ALEX"
	oidHana  = "11111111-1111-1111-1111-111111111111"
	oidAlex  = "22222222-2222-2222-2222-222222222222"
)

func newHarness(t testing.TB, mode Mode, mod func(o *Options)) *harness {
	t.Helper()
	fake := slacktest.New(t)
	fake.AddUser(userHana, "hana@contoso.com", nil)
	fake.AddUser(userAlex, "alex@contoso.com", nil)
	clock := newClock()
	h := &harness{
		t: t, fake: fake, h: &fakeHandler{}, clock: clock,
		dir: &directory{oids: map[string]string{"hana@contoso.com": oidHana, "alex@contoso.com": oidAlex}},
	}
	o := Options{
		Mode: mode, BotToken: fake.BotToken, AppToken: fake.AppToken, SigningSecret: testSecret,
		APIURL: fake.APIURL(), TeamID: testTeam, ApprovalsChannel: testApprovals, AuditChannel: testAudit,
		Handler: h.h, Resolver: h.dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: clock.Now, ResponseURLHosts: []string{"127.0.0.1"},
	}
	if testing.Verbose() {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mod != nil {
		mod(&o)
	}
	a, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.a = a
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	})
	return h
}

// slashForm is a slash command as Slack posts it.
func (h *harness) slashForm(user, text string) (url.Values, string) {
	ru := h.fake.NewResponseURL()
	return url.Values{
		"token": {"legacy-verification-token"}, "team_id": {testTeam}, "team_domain": {"contoso"},
		"channel_id": {"C0HELPDESK"}, "channel_name": {"helpdesk"}, "user_id": {user}, "user_name": {strings.ToLower(user)},
		"command": {"/mfa"}, "text": {text}, "response_url": {ru}, "trigger_id": {h.fake.NewTrigger()},
		"api_app_id": {"A0MFADESK"},
	}, ru
}

// signed builds a request signed with the test secret at the harness clock's time.
func (h *harness) signed(path string, body []byte) *http.Request {
	ts, sig := SignRequest(testSecret, h.clock.Now(), body)
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set(headerTimestamp, ts)
	r.Header.Set(headerSignature, sig)
	return r
}

func (h *harness) serve(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.a.HTTPHandler().ServeHTTP(rec, r)
	return rec
}

// slash posts a signed slash command over HTTP and returns the ack and the
// response_url the answer goes to.
func (h *harness) slash(user, text string) (*httptest.ResponseRecorder, string) {
	h.t.Helper()
	v, ru := h.slashForm(user, text)
	return h.serve(h.signed("/slack/commands", []byte(v.Encode()))), ru
}

// interact posts a signed interaction payload over HTTP.
func (h *harness) interact(payload any) *httptest.ResponseRecorder {
	h.t.Helper()
	var raw []byte
	switch p := payload.(type) {
	case []byte:
		raw = p
	default:
		var err error
		raw, err = json.Marshal(p)
		if err != nil {
			h.t.Fatal(err)
		}
	}
	body := url.Values{"payload": {string(raw)}}.Encode()
	return h.serve(h.signed("/slack/interactions", []byte(body)))
}

// ackJSON decodes an ack body.
func ackJSON(t testing.TB, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	if rec.Body.Len() == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("ack is not JSON: %v: %s", err, rec.Body.String())
	}
	return m
}

// submitView builds the view_submission Slack would send for the view the fake
// holds, with the given input values.
func (h *harness) submitView(user string, v *slacktest.View, values map[string]string) goslack.InteractionCallback {
	h.t.Helper()
	raw, _ := json.Marshal(v.View)
	var view goslack.View
	if err := json.Unmarshal(raw, &view); err != nil {
		h.t.Fatalf("decode view: %v", err)
	}
	state := &goslack.ViewState{Values: map[string]map[string]goslack.BlockAction{}}
	for block, val := range values {
		ba := goslack.BlockAction{Type: "plain_text_input", Value: val}
		if block == fieldVerification {
			ba = goslack.BlockAction{Type: "static_select", SelectedOption: goslack.OptionBlockObject{Value: val}}
		}
		state.Values[block] = map[string]goslack.BlockAction{inputAction: ba}
	}
	view.ID, view.Hash, view.State, view.TeamID = v.ID, v.Hash, state, testTeam
	return goslack.InteractionCallback{
		Type: goslack.InteractionTypeViewSubmission, Team: goslack.Team{ID: testTeam},
		User: goslack.User{ID: user, TeamID: testTeam}, View: view, TriggerID: h.fake.NewTrigger(),
	}
}

// click builds the block_actions payload of a click on an approval card button.
func (h *harness) click(user, actionID, requestID, channel, ts string) (goslack.InteractionCallback, string) {
	ru := h.fake.NewResponseURL()
	return goslack.InteractionCallback{
		Type: goslack.InteractionTypeBlockActions, Team: goslack.Team{ID: testTeam},
		User: goslack.User{ID: user, TeamID: testTeam}, TriggerID: h.fake.NewTrigger(), ResponseURL: ru,
		Container: goslack.Container{Type: "message", ChannelID: channel, MessageTs: ts},
		Channel:   goslack.Channel{GroupConversation: goslack.GroupConversation{Conversation: goslack.Conversation{ID: channel}}},
		ActionCallback: goslack.ActionCallbacks{BlockActions: []*goslack.BlockAction{
			{ActionID: actionID, BlockID: "mfa_decide_x", Value: requestID, Type: "button"},
		}},
	}, ru
}

// texts flattens the text of blocks, for assertions.
func texts(blocks any) string {
	raw, _ := json.Marshal(blocks)
	var sb strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				sb.WriteString(s + "\n")
			}
			for _, k := range []string{"text", "fields", "elements", "label", "element", "options", "placeholder", "blocks", "view"} {
				if c, ok := x[k]; ok {
					walk(c)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	var v any
	_ = json.Unmarshal(raw, &v)
	walk(v)
	return sb.String()
}
