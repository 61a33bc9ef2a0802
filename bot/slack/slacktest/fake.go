package slacktest

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
	goslacktest "github.com/slack-go/slack/slacktest"

	"github.com/mfadesk/mfadesk/bot/testvectors"
)

// Fake is slack-go's slacktest server extended with what mfadesk uses and slacktest
// lacks (chat.update, views.open/update, per-user users.info, conversations.open,
// response_url, a Socket Mode WebSocket), enforcing the Slack limits the adapter
// must respect: trigger ids expire after 3 s and work once, blocks are checked
// against Block Kit's limits (invalid_blocks), tokens must match.
type Fake struct {
	t        testing.TB
	srv      *goslacktest.Server
	BotToken string
	AppToken string

	Mu       sync.Mutex
	changed  chan struct{}
	Now      func() time.Time
	users    map[string]map[string]any
	Triggers map[string]*Trigger
	Views    map[string]*View
	Messages []*Message
	byTS     map[string]*Message
	resp     map[string]*responseSink
	Calls    map[string]int
	seq      int
	FailNext map[string]string // method → error code for its next call

	// Socket Mode
	ConnOpen   []string // scripted apps.connections.open errors, consumed in order
	Envelopes  chan string
	Acks       map[string]json.RawMessage
	AckOrder   []string
	Conns      int
	Disconnect chan struct{}
}

type Trigger struct {
	issued time.Time
	Used   bool
}

type View struct {
	ID, Hash string
	View     map[string]any
	History  []map[string]any
}

type Message struct {
	Method  string // chat.postMessage, chat.update
	Channel string
	TS      string
	Text    string
	Blocks  []map[string]any
	Updates []*Message
}

// ResponsePosts returns what was posted to each response_url, keyed by the url's id.
// The caller holds Mu (as inside WaitFor), so it can be read beside Messages and Views.
func (f *Fake) ResponsePosts() map[string][]map[string]any {
	out := make(map[string][]map[string]any, len(f.resp))
	for id, r := range f.resp {
		out[id] = r.posts
	}
	return out
}

type responseSink struct {
	uses  int
	posts []map[string]any
}

const (
	BotToken = "xoxb-test-bot-token"
	AppToken = "xapp-test-app-token"
)

func New(t testing.TB) *Fake {
	f := &Fake{
		t: t, BotToken: BotToken, AppToken: AppToken,
		changed: make(chan struct{}), Now: time.Now,
		users: map[string]map[string]any{}, Triggers: map[string]*Trigger{}, Views: map[string]*View{},
		byTS: map[string]*Message{}, resp: map[string]*responseSink{}, Calls: map[string]int{},
		FailNext:  map[string]string{},
		Envelopes: make(chan string, 64), Acks: map[string]json.RawMessage{}, Disconnect: make(chan struct{}, 4),
	}
	f.srv = goslacktest.NewTestServer(func(c goslacktest.Customize) {
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
	f.srv.Handle("/socket", goslacktest.Websocket(f.socket))
	f.srv.Start()
	t.Cleanup(f.srv.Stop)
	return f
}

func (f *Fake) APIURL() string { return f.srv.GetAPIURL() }

// notify wakes everyone waiting in waitFor. Callers hold mu.
func (f *Fake) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// waitFor polls cond (under the lock) each time the fake records something, until
// it holds or the deadline passes: no sleeps.
func (f *Fake) WaitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		f.Mu.Lock()
		ok := cond()
		ch := f.changed
		f.Mu.Unlock()
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

func (f *Fake) Count(method string) int {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.Calls[method]
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
func (f *Fake) form(method string, h func(w http.ResponseWriter, v url.Values)) http.HandlerFunc {
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
		f.Mu.Lock()
		defer f.Mu.Unlock()
		defer f.notify()
		if f.refused(w, method, token == f.BotToken) {
			return
		}
		h(w, v)
	}
}

// refused counts a call and answers what Slack answers before any method runs: a bad
// token, or an error a test queued for this method. The caller holds f.Mu.
func (f *Fake) refused(w http.ResponseWriter, method string, authed bool) bool {
	f.Calls[method]++
	if !authed {
		slackErr(w, "invalid_auth")
		return true
	}
	if code, ok := f.FailNext[method]; ok {
		delete(f.FailNext, method)
		slackErr(w, code)
		return true
	}
	return false
}

func (f *Fake) jsonAPI(method string, h func(w http.ResponseWriter, body map[string]any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			slackErr(w, "invalid_json")
			return
		}
		f.Mu.Lock()
		defer f.Mu.Unlock()
		defer f.notify()
		if f.refused(w, method, r.Header.Get("Authorization") == "Bearer "+f.BotToken) {
			return
		}
		h(w, body)
	}
}

// addUser registers a user for users.info. mod may change the defaults: a confirmed
// member of team T0MFADESK with an email.
func (f *Fake) AddUser(id, email string, mod func(u map[string]any)) {
	u := map[string]any{
		"id": id, "team_id": "T0MFADESK", "name": strings.Split(email, "@")[0], "real_name": "Real " + id,
		"deleted": false, "is_bot": false, "is_restricted": false, "is_ultra_restricted": false,
		"is_email_confirmed": true,
		"profile":            map[string]any{"email": email, "display_name": id, "real_name": "Real " + id},
	}
	if mod != nil {
		mod(u)
	}
	f.Mu.Lock()
	f.users[id] = u
	f.Mu.Unlock()
}

func (f *Fake) usersInfo(w http.ResponseWriter, v url.Values) {
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
func (f *Fake) usersLookupByEmail(w http.ResponseWriter, v url.Values) {
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
	if err := BlockProblem(blocks, max); err != "" {
		return nil, "invalid_blocks"
	}
	return blocks, ""
}

func TextOf(v any) (string, string) {
	m, _ := v.(map[string]any)
	s, _ := m["text"].(string)
	typ, _ := m["type"].(string)
	return s, typ
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// BlockProblem returns why blocks break a Block Kit limit, or "".
func BlockProblem(blocks []map[string]any, max int) string {
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
			t, _ := TextOf(b["text"])
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
				if ft, _ := TextOf(fl); runes(ft) < 1 || runes(ft) > 2000 {
					return fmt.Sprintf("block %d: field of %d chars", i, runes(ft))
				}
			}
		case "header":
			t, typ := TextOf(b["text"])
			if typ != "plain_text" || runes(t) < 1 || runes(t) > 150 {
				return fmt.Sprintf("block %d: bad header", i)
			}
		case "context":
			els, _ := b["elements"].([]any)
			if len(els) < 1 || len(els) > 10 {
				return fmt.Sprintf("block %d: context with %d elements", i, len(els))
			}
			for _, e := range els {
				if t, _ := TextOf(e); runes(t) < 1 || runes(t) > 3000 {
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
				t, _ := TextOf(m["text"])
				aid, _ := m["action_id"].(string)
				val, _ := m["value"].(string)
				if runes(t) < 1 || runes(t) > 75 || runes(aid) > 255 || runes(val) > 2000 {
					return fmt.Sprintf("block %d: bad button", i)
				}
				if c, ok := m["confirm"].(map[string]any); ok {
					ti, _ := TextOf(c["title"])
					tx, _ := TextOf(c["text"])
					if runes(ti) > 100 || runes(tx) > 300 {
						return fmt.Sprintf("block %d: confirm too long", i)
					}
				}
			}
		case "input":
			if id, _ := b["block_id"].(string); id == "" {
				return fmt.Sprintf("block %d: input without block_id", i)
			}
			if t, _ := TextOf(b["label"]); runes(t) < 1 || runes(t) > 2000 {
				return fmt.Sprintf("block %d: bad label", i)
			}
		case "divider":
		default:
			return fmt.Sprintf("block %d: unexpected type %v", i, b["type"])
		}
	}
	return ""
}

func (f *Fake) nextTS() string {
	f.seq++
	return fmt.Sprintf("1700000000.%06d", f.seq)
}

func (f *Fake) postMessage(w http.ResponseWriter, v url.Values) {
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
	m := &Message{Method: "chat.postMessage", Channel: ch, TS: f.nextTS(), Text: v.Get("text"), Blocks: blocks}
	f.Messages = append(f.Messages, m)
	f.byTS[ch+"/"+m.TS] = m
	writeJSON(w, map[string]any{"ok": true, "channel": ch, "ts": m.TS})
}

func (f *Fake) chatUpdate(w http.ResponseWriter, v url.Values) {
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
	u := &Message{Method: "chat.update", Channel: orig.Channel, TS: orig.TS, Text: v.Get("text"), Blocks: blocks}
	orig.Updates = append(orig.Updates, u)
	writeJSON(w, map[string]any{"ok": true, "channel": orig.Channel, "ts": orig.TS, "text": u.Text})
}

func (f *Fake) conversationsOpen(w http.ResponseWriter, v url.Values) {
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

// NewTrigger issues a trigger id, valid for 3 s (on the fake's clock) and once.
func (f *Fake) NewTrigger() string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.seq++
	id := fmt.Sprintf("%d.%d.fake%06d", 1700000000+f.seq, 4242, f.seq)
	f.Triggers[id] = &Trigger{issued: f.Now()}
	return id
}

func viewProblem(v map[string]any) string {
	title, _ := TextOf(v["title"])
	if runes(title) < 1 || runes(title) > 24 {
		return "title"
	}
	if md, _ := v["private_metadata"].(string); runes(md) > 3000 {
		return "private_metadata"
	}
	raw, _ := json.Marshal(v["blocks"])
	var blocks []map[string]any
	_ = json.Unmarshal(raw, &blocks)
	if p := BlockProblem(blocks, 100); p != "" {
		return p
	}
	for _, b := range blocks {
		if b["type"] == "input" && v["submit"] == nil {
			return "input blocks need submit"
		}
	}
	return ""
}

func (f *Fake) viewsOpen(w http.ResponseWriter, body map[string]any) {
	id, _ := body["trigger_id"].(string)
	tr, ok := f.Triggers[id]
	switch {
	case !ok:
		slackErr(w, "invalid_trigger_id")
		return
	case tr.Used:
		slackErr(w, "exchanged_trigger_id")
		return
	case f.Now().Sub(tr.issued) > 3*time.Second:
		slackErr(w, "expired_trigger_id")
		return
	}
	tr.Used = true
	view, _ := body["view"].(map[string]any)
	if p := viewProblem(view); p != "" {
		f.t.Logf("views.open refused: %s", p)
		slackErr(w, "invalid_arguments")
		return
	}
	f.seq++
	v := &View{ID: fmt.Sprintf("V%06d", f.seq), Hash: fmt.Sprintf("h%d", f.seq), View: view}
	v.History = append(v.History, view)
	f.Views[v.ID] = v
	writeJSON(w, map[string]any{"ok": true, "view": map[string]any{"id": v.ID, "hash": v.Hash, "type": "modal"}})
}

func (f *Fake) viewsUpdate(w http.ResponseWriter, body map[string]any) {
	id, _ := body["view_id"].(string)
	v, ok := f.Views[id]
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

// AckUpdate records a view change made by an ack's response_action (as Slack would).
func (f *Fake) AckUpdate(viewID string, ack any) {
	r, ok := ack.(*goslack.ViewSubmissionResponse)
	if !ok || r.ResponseAction != goslack.RAUpdate || r.View == nil {
		return
	}
	raw, _ := json.Marshal(r.View)
	var view map[string]any
	_ = json.Unmarshal(raw, &view)
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if v, ok := f.Views[viewID]; ok {
		v.View = view
		v.History = append(v.History, view)
		f.notify()
	}
}

// newResponseURL returns a response_url on the fake, usable 5 times as Slack's.
func (f *Fake) NewResponseURL() string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.seq++
	id := fmt.Sprintf("r%d", f.seq)
	f.resp[id] = &responseSink{}
	return f.APIURL() + "response/" + id
}

func (f *Fake) responseURL(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/response/")
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	defer f.notify()
	f.Calls["response_url"]++
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
	if BlockProblem(blocks, 50) != "" {
		slackErr(w, "invalid_blocks")
		return
	}
	s.uses++
	s.posts = append(s.posts, body)
	writeJSON(w, map[string]any{"ok": true})
}

// responses returns what was posted to a response_url.
func (f *Fake) responses(u string) []map[string]any {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	id := u[strings.LastIndex(u, "/")+1:]
	if s, ok := f.resp[id]; ok {
		return append([]map[string]any(nil), s.posts...)
	}
	return nil
}

func (f *Fake) WaitResponses(u string, n int) []map[string]any {
	f.t.Helper()
	id := u[strings.LastIndex(u, "/")+1:]
	f.WaitFor(fmt.Sprintf("%d answer(s) on %s", n, id), func() bool { return f.resp[id] != nil && len(f.resp[id].posts) >= n })
	return f.responses(u)
}

func (f *Fake) View(id string) *View {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.Views[id]
}

func (f *Fake) MessagesIn(channel string) []*Message {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	var out []*Message
	for _, m := range f.Messages {
		if m.Channel == channel {
			out = append(out, m)
		}
	}
	return out
}

// --- Socket Mode -----------------------------------------------------------

func (f *Fake) connectionsOpen(w http.ResponseWriter, r *http.Request) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	defer f.notify()
	f.Calls["apps.connections.open"]++
	if r.Header.Get("Authorization") != "Bearer "+f.AppToken {
		slackErr(w, "invalid_auth")
		return
	}
	if len(f.ConnOpen) > 0 {
		code := f.ConnOpen[0]
		f.ConnOpen = f.ConnOpen[1:]
		slackErr(w, code)
		return
	}
	writeJSON(w, map[string]any{"ok": true, "url": "ws://" + f.srv.ServerAddr + "/socket"})
}

// socket speaks Socket Mode: hello (the python-slack-sdk vector), then the queued
// envelopes; it records acks and sends WebSocket pings as Slack does.
func (f *Fake) socket(c *websocket.Conn) {
	f.Mu.Lock()
	f.Conns++
	f.notify()
	f.Mu.Unlock()
	var wmu sync.Mutex
	write := func(msg string) error {
		wmu.Lock()
		defer wmu.Unlock()
		return c.WriteMessage(websocket.TextMessage, []byte(msg))
	}
	if err := write(string(testvectors.Read(f.t, "slack", "socketmode-hello-python-sdk.json"))); err != nil {
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
			f.Mu.Lock()
			f.Acks[ack.EnvelopeID] = ack.Payload
			f.AckOrder = append(f.AckOrder, ack.EnvelopeID)
			f.notify()
			f.Mu.Unlock()
		}
	}()
	ping := time.NewTicker(200 * time.Millisecond)
	defer ping.Stop()
	for {
		select {
		case <-done:
			return
		case env := <-f.Envelopes:
			if err := write(env); err != nil {
				return
			}
		case <-f.Disconnect:
			_ = write(string(testvectors.Read(f.t, "slack", "socketmode-disconnect-python-sdk.json")))
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

func (f *Fake) ackOf(envelopeID string) (json.RawMessage, bool) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	p, ok := f.Acks[envelopeID]
	return p, ok
}

func (f *Fake) WaitAck(envelopeID string) json.RawMessage {
	f.t.Helper()
	f.WaitFor("ack of envelope "+envelopeID, func() bool { _, ok := f.Acks[envelopeID]; return ok })
	p, _ := f.ackOf(envelopeID)
	return p
}
