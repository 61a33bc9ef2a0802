package slack

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	goslack "github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// fakeSlack is slacktest's server extended with what mfadesk uses and slacktest
// lacks (chat.update, views.open/update, per-user users.info, conversations.open,
// response_url, a Socket Mode WebSocket), enforcing the Slack limits the adapter
// must respect: trigger ids expire after 3 s and work once, blocks are checked
// against Block Kit's limits (invalid_blocks), tokens must match.
type fakeSlack struct {
	t        testing.TB
	srv      *slacktest.Server
	botToken string
	appToken string

	mu       sync.Mutex
	changed  chan struct{}
	now      func() time.Time
	users    map[string]map[string]any
	triggers map[string]*trigger
	views    map[string]*fakeView
	messages []*fakeMessage
	byTS     map[string]*fakeMessage
	resp     map[string]*responseSink
	calls    map[string]int
	seq      int
	failNext map[string]string // method → error code for its next call

	// Socket Mode
	connOpen   []string // scripted apps.connections.open errors, consumed in order
	envelopes  chan string
	acks       map[string]json.RawMessage
	ackOrder   []string
	conns      int
	disconnect chan struct{}
}

type trigger struct {
	issued time.Time
	used   bool
}

type fakeView struct {
	ID, Hash string
	View     map[string]any
	History  []map[string]any
}

type fakeMessage struct {
	Method  string // chat.postMessage, chat.update
	Channel string
	TS      string
	Text    string
	Blocks  []map[string]any
	Updates []*fakeMessage
}

type responseSink struct {
	uses  int
	posts []map[string]any
}

const (
	testBotToken = "xoxb-test-bot-token"
	testAppToken = "xapp-test-app-token"
)

func newFakeSlack(t testing.TB) *fakeSlack {
	f := &fakeSlack{
		t: t, botToken: testBotToken, appToken: testAppToken,
		changed: make(chan struct{}), now: time.Now,
		users: map[string]map[string]any{}, triggers: map[string]*trigger{}, views: map[string]*fakeView{},
		byTS: map[string]*fakeMessage{}, resp: map[string]*responseSink{}, calls: map[string]int{},
		failNext:  map[string]string{},
		envelopes: make(chan string, 64), acks: map[string]json.RawMessage{}, disconnect: make(chan struct{}, 4),
	}
	f.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		// Binders run before slacktest's own routes and win, so these replace its
		// canned users.info and its chat.postMessage (which parks a goroutine per post).
		c.Handle("/users.info", f.form("users.info", f.usersInfo))
		c.Handle("/users.lookupByEmail", f.form("users.lookupByEmail", f.usersLookupByEmail))
		c.Handle("/chat.postMessage", f.form("chat.postMessage", f.postMessage))
		c.Handle("/apps.connections.open", f.connectionsOpen)
	})
	f.srv.Handle("/chat.update", f.form("chat.update", f.chatUpdate))
	f.srv.Handle("/conversations.open", f.form("conversations.open", f.conversationsOpen))
	f.srv.Handle("/views.open", f.jsonAPI("views.open", f.viewsOpen))
	f.srv.Handle("/views.update", f.jsonAPI("views.update", f.viewsUpdate))
	f.srv.Handle("/response/", f.responseURL)
	f.srv.Handle("/socket", slacktest.Websocket(f.socket))
	f.srv.Start()
	t.Cleanup(f.srv.Stop)
	return f
}

func (f *fakeSlack) apiURL() string { return f.srv.GetAPIURL() }

// notify wakes everyone waiting in waitFor. Callers hold mu.
func (f *fakeSlack) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// waitFor polls cond (under the lock) each time the fake records something, until
// it holds or the deadline passes: no sleeps.
func (f *fakeSlack) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		ok := cond()
		ch := f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			f.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (f *fakeSlack) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func slackErr(w http.ResponseWriter, code string) {
	writeJSON(w, map[string]any{"ok": false, "error": code})
}

// form wraps a form-encoded Web API method: token check, call counting, scripted
// failures.
func (f *fakeSlack) form(method string, h func(w http.ResponseWriter, v url.Values)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v, err := url.ParseQuery(string(body))
		if err != nil {
			slackErr(w, "invalid_form_data")
			return
		}
		token := v.Get("token")
		if token == "" {
			token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		defer f.notify()
		if f.refused(w, method, token == f.botToken) {
			return
		}
		h(w, v)
	}
}

// refused counts a call and answers what Slack answers before any method runs: a bad
// token, or an error a test queued for this method. The caller holds f.mu.
func (f *fakeSlack) refused(w http.ResponseWriter, method string, authed bool) bool {
	f.calls[method]++
	if !authed {
		slackErr(w, "invalid_auth")
		return true
	}
	if code, ok := f.failNext[method]; ok {
		delete(f.failNext, method)
		slackErr(w, code)
		return true
	}
	return false
}

func (f *fakeSlack) jsonAPI(method string, h func(w http.ResponseWriter, body map[string]any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			slackErr(w, "invalid_json")
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		defer f.notify()
		if f.refused(w, method, r.Header.Get("Authorization") == "Bearer "+f.botToken) {
			return
		}
		h(w, body)
	}
}

// addUser registers a user for users.info. mod may change the defaults: a confirmed
// member of team T0MFADESK with an email.
func (f *fakeSlack) addUser(id, email string, mod func(u map[string]any)) {
	u := map[string]any{
		"id": id, "team_id": "T0MFADESK", "name": strings.Split(email, "@")[0], "real_name": "Real " + id,
		"deleted": false, "is_bot": false, "is_restricted": false, "is_ultra_restricted": false,
		"is_email_confirmed": true,
		"profile":            map[string]any{"email": email, "display_name": id, "real_name": "Real " + id},
	}
	if mod != nil {
		mod(u)
	}
	f.mu.Lock()
	f.users[id] = u
	f.mu.Unlock()
}

func (f *fakeSlack) usersInfo(w http.ResponseWriter, v url.Values) {
	u, ok := f.users[v.Get("user")]
	if !ok {
		slackErr(w, "user_not_found")
		return
	}
	writeJSON(w, map[string]any{"ok": true, "user": u})
}

// usersLookupByEmail answers as Slack documents it: the user whose profile email
// matches (case-insensitively), users_not_found otherwise, invalid_arguments
// without an email.
func (f *fakeSlack) usersLookupByEmail(w http.ResponseWriter, v url.Values) {
	email := v.Get("email")
	if email == "" {
		slackErr(w, "invalid_arguments")
		return
	}
	for _, u := range f.users {
		p, _ := u["profile"].(map[string]any)
		if e, _ := p["email"].(string); strings.EqualFold(e, email) {
			writeJSON(w, map[string]any{"ok": true, "user": u})
			return
		}
	}
	slackErr(w, "users_not_found")
}

// checkBlocks applies Block Kit's limits as Slack does: on any violation the call
// fails with invalid_blocks (the real API names the block; the code is what matters).
func checkBlocks(raw string, max int) ([]map[string]any, string) {
	if raw == "" {
		return nil, ""
	}
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return nil, "invalid_blocks_format"
	}
	if err := blockProblem(blocks, max); err != "" {
		return nil, "invalid_blocks"
	}
	return blocks, ""
}

func textOf(v any) (string, string) {
	m, _ := v.(map[string]any)
	s, _ := m["text"].(string)
	typ, _ := m["type"].(string)
	return s, typ
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// blockProblem returns why blocks break a Block Kit limit, or "".
func blockProblem(blocks []map[string]any, max int) string {
	if len(blocks) > max {
		return fmt.Sprintf("%d blocks, more than %d", len(blocks), max)
	}
	ids := map[string]bool{}
	for i, b := range blocks {
		if id, _ := b["block_id"].(string); id != "" {
			if ids[id] || runes(id) > 255 {
				return fmt.Sprintf("block %d: duplicate or long block_id", i)
			}
			ids[id] = true
		}
		switch b["type"] {
		case "section":
			t, _ := textOf(b["text"])
			fields, _ := b["fields"].([]any)
			if b["text"] == nil && len(fields) == 0 {
				return fmt.Sprintf("block %d: section without text or fields", i)
			}
			if b["text"] != nil && (runes(t) < 1 || runes(t) > 3000) {
				return fmt.Sprintf("block %d: section text of %d chars", i, runes(t))
			}
			if len(fields) > 10 {
				return fmt.Sprintf("block %d: %d fields", i, len(fields))
			}
			for _, fl := range fields {
				if ft, _ := textOf(fl); runes(ft) < 1 || runes(ft) > 2000 {
					return fmt.Sprintf("block %d: field of %d chars", i, runes(ft))
				}
			}
		case "header":
			t, typ := textOf(b["text"])
			if typ != "plain_text" || runes(t) < 1 || runes(t) > 150 {
				return fmt.Sprintf("block %d: bad header", i)
			}
		case "context":
			els, _ := b["elements"].([]any)
			if len(els) < 1 || len(els) > 10 {
				return fmt.Sprintf("block %d: context with %d elements", i, len(els))
			}
			for _, e := range els {
				if t, _ := textOf(e); runes(t) < 1 || runes(t) > 3000 {
					return fmt.Sprintf("block %d: context text of %d chars", i, runes(t))
				}
			}
		case "actions":
			els, _ := b["elements"].([]any)
			if len(els) < 1 || len(els) > 25 {
				return fmt.Sprintf("block %d: actions with %d elements", i, len(els))
			}
			for _, e := range els {
				m, _ := e.(map[string]any)
				t, _ := textOf(m["text"])
				aid, _ := m["action_id"].(string)
				val, _ := m["value"].(string)
				if runes(t) < 1 || runes(t) > 75 || runes(aid) > 255 || runes(val) > 2000 {
					return fmt.Sprintf("block %d: bad button", i)
				}
				if c, ok := m["confirm"].(map[string]any); ok {
					ti, _ := textOf(c["title"])
					tx, _ := textOf(c["text"])
					if runes(ti) > 100 || runes(tx) > 300 {
						return fmt.Sprintf("block %d: confirm too long", i)
					}
				}
			}
		case "input":
			if id, _ := b["block_id"].(string); id == "" {
				return fmt.Sprintf("block %d: input without block_id", i)
			}
			if t, _ := textOf(b["label"]); runes(t) < 1 || runes(t) > 2000 {
				return fmt.Sprintf("block %d: bad label", i)
			}
		case "divider":
		default:
			return fmt.Sprintf("block %d: unexpected type %v", i, b["type"])
		}
	}
	return ""
}

func (f *fakeSlack) nextTS() string {
	f.seq++
	return fmt.Sprintf("1700000000.%06d", f.seq)
}

func (f *fakeSlack) postMessage(w http.ResponseWriter, v url.Values) {
	ch := v.Get("channel")
	if ch == "" {
		slackErr(w, "channel_not_found")
		return
	}
	if runes(v.Get("text")) > 40000 {
		slackErr(w, "msg_too_long")
		return
	}
	if v.Get("text") == "" {
		slackErr(w, "no_text")
		return
	}
	blocks, code := checkBlocks(v.Get("blocks"), 50)
	if code != "" {
		slackErr(w, code)
		return
	}
	m := &fakeMessage{Method: "chat.postMessage", Channel: ch, TS: f.nextTS(), Text: v.Get("text"), Blocks: blocks}
	f.messages = append(f.messages, m)
	f.byTS[ch+"/"+m.TS] = m
	writeJSON(w, map[string]any{"ok": true, "channel": ch, "ts": m.TS})
}

func (f *fakeSlack) chatUpdate(w http.ResponseWriter, v url.Values) {
	orig, ok := f.byTS[v.Get("channel")+"/"+v.Get("ts")]
	if !ok {
		slackErr(w, "message_not_found")
		return
	}
	blocks, code := checkBlocks(v.Get("blocks"), 50)
	if code != "" {
		slackErr(w, code)
		return
	}
	u := &fakeMessage{Method: "chat.update", Channel: orig.Channel, TS: orig.TS, Text: v.Get("text"), Blocks: blocks}
	orig.Updates = append(orig.Updates, u)
	writeJSON(w, map[string]any{"ok": true, "channel": orig.Channel, "ts": orig.TS, "text": u.Text})
}

func (f *fakeSlack) conversationsOpen(w http.ResponseWriter, v url.Values) {
	users := v.Get("users")
	if users == "" || strings.Contains(users, ",") {
		slackErr(w, "not_enough_users")
		return
	}
	if _, ok := f.users[users]; !ok {
		slackErr(w, "user_not_found")
		return
	}
	writeJSON(w, map[string]any{"ok": true, "channel": map[string]any{"id": "D" + users[1:]}})
}

// newTrigger issues a trigger id, valid for 3 s (on the fake's clock) and once.
func (f *fakeSlack) newTrigger() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	id := fmt.Sprintf("%d.%d.fake%06d", 1700000000+f.seq, 4242, f.seq)
	f.triggers[id] = &trigger{issued: f.now()}
	return id
}

func viewProblem(v map[string]any) string {
	title, _ := textOf(v["title"])
	if runes(title) < 1 || runes(title) > 24 {
		return "title"
	}
	if md, _ := v["private_metadata"].(string); runes(md) > 3000 {
		return "private_metadata"
	}
	raw, _ := json.Marshal(v["blocks"])
	var blocks []map[string]any
	_ = json.Unmarshal(raw, &blocks)
	if p := blockProblem(blocks, 100); p != "" {
		return p
	}
	for _, b := range blocks {
		if b["type"] == "input" && v["submit"] == nil {
			return "input blocks need submit"
		}
	}
	return ""
}

func (f *fakeSlack) viewsOpen(w http.ResponseWriter, body map[string]any) {
	id, _ := body["trigger_id"].(string)
	tr, ok := f.triggers[id]
	switch {
	case !ok:
		slackErr(w, "invalid_trigger_id")
		return
	case tr.used:
		slackErr(w, "exchanged_trigger_id")
		return
	case f.now().Sub(tr.issued) > 3*time.Second:
		slackErr(w, "expired_trigger_id")
		return
	}
	tr.used = true
	view, _ := body["view"].(map[string]any)
	if p := viewProblem(view); p != "" {
		f.t.Logf("views.open refused: %s", p)
		slackErr(w, "invalid_arguments")
		return
	}
	f.seq++
	v := &fakeView{ID: fmt.Sprintf("V%06d", f.seq), Hash: fmt.Sprintf("h%d", f.seq), View: view}
	v.History = append(v.History, view)
	f.views[v.ID] = v
	writeJSON(w, map[string]any{"ok": true, "view": map[string]any{"id": v.ID, "hash": v.Hash, "type": "modal"}})
}

func (f *fakeSlack) viewsUpdate(w http.ResponseWriter, body map[string]any) {
	id, _ := body["view_id"].(string)
	v, ok := f.views[id]
	if !ok {
		slackErr(w, "not_found")
		return
	}
	if h, _ := body["hash"].(string); h != "" && h != v.Hash {
		slackErr(w, "hash_conflict")
		return
	}
	view, _ := body["view"].(map[string]any)
	if p := viewProblem(view); p != "" {
		f.t.Logf("views.update refused: %s", p)
		slackErr(w, "invalid_arguments")
		return
	}
	f.seq++
	v.Hash = fmt.Sprintf("h%d", f.seq)
	v.View = view
	v.History = append(v.History, view)
	writeJSON(w, map[string]any{"ok": true, "view": map[string]any{"id": v.ID, "hash": v.Hash}})
}

// setView records a view change made by an ack's response_action (as Slack would).
func (f *fakeSlack) ackUpdate(viewID string, ack any) {
	r, ok := ack.(*goslack.ViewSubmissionResponse)
	if !ok || r.ResponseAction != goslack.RAUpdate || r.View == nil {
		return
	}
	raw, _ := json.Marshal(r.View)
	var view map[string]any
	_ = json.Unmarshal(raw, &view)
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.views[viewID]; ok {
		v.View = view
		v.History = append(v.History, view)
		f.notify()
	}
}

// newResponseURL returns a response_url on the fake, usable 5 times as Slack's.
func (f *fakeSlack) newResponseURL() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	id := fmt.Sprintf("r%d", f.seq)
	f.resp[id] = &responseSink{}
	return f.apiURL() + "response/" + id
}

func (f *fakeSlack) responseURL(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/response/")
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.notify()
	f.calls["response_url"]++
	s, ok := f.resp[id]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if s.uses >= 5 {
		slackErr(w, "used_url")
		return
	}
	raw, _ := json.Marshal(body["blocks"])
	var blocks []map[string]any
	_ = json.Unmarshal(raw, &blocks)
	if blockProblem(blocks, 50) != "" {
		slackErr(w, "invalid_blocks")
		return
	}
	s.uses++
	s.posts = append(s.posts, body)
	writeJSON(w, map[string]any{"ok": true})
}

// responses returns what was posted to a response_url.
func (f *fakeSlack) responses(u string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := u[strings.LastIndex(u, "/")+1:]
	if s, ok := f.resp[id]; ok {
		return append([]map[string]any(nil), s.posts...)
	}
	return nil
}

func (f *fakeSlack) waitResponses(u string, n int) []map[string]any {
	f.t.Helper()
	id := u[strings.LastIndex(u, "/")+1:]
	f.waitFor(fmt.Sprintf("%d answer(s) on %s", n, id), func() bool { return f.resp[id] != nil && len(f.resp[id].posts) >= n })
	return f.responses(u)
}

func (f *fakeSlack) view(id string) *fakeView {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.views[id]
}

func (f *fakeSlack) messagesIn(channel string) []*fakeMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*fakeMessage
	for _, m := range f.messages {
		if m.Channel == channel {
			out = append(out, m)
		}
	}
	return out
}

// --- Socket Mode -----------------------------------------------------------

func (f *fakeSlack) connectionsOpen(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.notify()
	f.calls["apps.connections.open"]++
	if r.Header.Get("Authorization") != "Bearer "+f.appToken {
		slackErr(w, "invalid_auth")
		return
	}
	if len(f.connOpen) > 0 {
		code := f.connOpen[0]
		f.connOpen = f.connOpen[1:]
		slackErr(w, code)
		return
	}
	writeJSON(w, map[string]any{"ok": true, "url": "ws://" + f.srv.ServerAddr + "/socket"})
}

// socket speaks Socket Mode: hello (the python-slack-sdk vector), then the queued
// envelopes; it records acks and sends WebSocket pings as Slack does.
func (f *fakeSlack) socket(c *websocket.Conn) {
	f.mu.Lock()
	f.conns++
	f.notify()
	f.mu.Unlock()
	var wmu sync.Mutex
	write := func(msg string) error {
		wmu.Lock()
		defer wmu.Unlock()
		return c.WriteMessage(websocket.TextMessage, []byte(msg))
	}
	if err := write(string(mustRead(f.t, "socketmode-hello-python-sdk.json"))); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			var ack struct {
				EnvelopeID string          `json:"envelope_id"`
				Payload    json.RawMessage `json:"payload"`
			}
			if json.Unmarshal(b, &ack) != nil {
				continue
			}
			f.mu.Lock()
			f.acks[ack.EnvelopeID] = ack.Payload
			f.ackOrder = append(f.ackOrder, ack.EnvelopeID)
			f.notify()
			f.mu.Unlock()
		}
	}()
	ping := time.NewTicker(200 * time.Millisecond)
	defer ping.Stop()
	for {
		select {
		case <-done:
			return
		case env := <-f.envelopes:
			if err := write(env); err != nil {
				return
			}
		case <-f.disconnect:
			_ = write(string(mustRead(f.t, "socketmode-disconnect-python-sdk.json")))
			// Slack closes the socket after a disconnect message; the client reconnects.
			<-done
			return
		case <-ping.C:
			wmu.Lock()
			err := c.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
			wmu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

func (f *fakeSlack) ackOf(envelopeID string) (json.RawMessage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.acks[envelopeID]
	return p, ok
}

func (f *fakeSlack) waitAck(envelopeID string) json.RawMessage {
	f.t.Helper()
	f.waitFor("ack of envelope "+envelopeID, func() bool { _, ok := f.acks[envelopeID]; return ok })
	p, _ := f.ackOf(envelopeID)
	return p
}
