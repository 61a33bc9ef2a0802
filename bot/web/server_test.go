package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
	"github.com/mfadesk/mfadesk/bot/web"
)

const domain = "mfademo.example"

// chat is the web chat wired as the demo wires it: bot.Assemble over the real Graph SDK
// talking HTTP to the fake tenant, and approvals on a bbolt file.
type chat struct {
	t      *testing.T
	url    string
	token  string
	svc    *approvals.Service
	fake   *graphtest.Server
	server *web.Server
	stack  *bottest.Stack
}

func newChat(t *testing.T) *chat {
	t.Helper()
	return newChatLogged(t, nil)
}

// newChatLogged is newChat with every component logging to log (nil: discard).
func newChatLogged(t *testing.T, log *slog.Logger) *chat {
	t.Helper()
	tenant := graphtest.MustTenant("demo")
	var personas []web.Persona
	for _, p := range []struct{ id, local, role string }{
		{"hana", "hana.helpdesk", "helpdesk agent"},
		{"alex", "alex.approver", "approver"},
		{"sam", "sam.approver", "second approver"},
		{"nora", "nora.norights", "no rights"},
	} {
		u := tenant.FindUser(p.local + "@" + domain)
		personas = append(personas, web.Persona{ID: p.id, Name: p.local, Role: p.role, ObjectID: u.ID(), UPN: u.UPN()})
	}
	srv, err := web.New(personas, log)
	if err != nil {
		t.Fatal(err)
	}
	stack := bottest.New(t, bottest.Options{Notifiers: map[bot.Platform]bot.Notifier{"web": srv}, Logger: log})
	router, svc, fake := stack.Router, stack.Approvals, stack.Graph
	hs := httptest.NewServer(srv.Handler(router))
	t.Cleanup(hs.Close)
	c := &chat{t: t, url: hs.URL, svc: svc, fake: fake, server: srv, stack: stack}
	c.token = pageToken(t, hs.URL)
	return c
}

func pageToken(t *testing.T, url string) string {
	t.Helper()
	page, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	m := regexp.MustCompile(`name="mfadesk-token" content="([0-9a-f]{32})"`).FindSubmatch(body)
	if m == nil {
		t.Fatal("page carries no token")
	}
	return string(m[1])
}

// call sends one API request and decodes the JSON answer into out.
func (c *chat) call(method, path string, body, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Mfadesk-Token", c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			c.t.Fatalf("%s %s: decode answer: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

func (c *chat) command(persona, text string) bot.Message {
	c.t.Helper()
	var m bot.Message
	if code := c.call(http.MethodPost, "/api/command", map[string]string{"persona": persona, "text": text}, &m); code != http.StatusOK {
		c.t.Fatalf("%s %q: status %d", persona, text, code)
	}
	return m
}

func (c *chat) state(persona string) web.State {
	c.t.Helper()
	var st web.State
	if code := c.call(http.MethodGet, "/api/state?persona="+persona, nil, &st); code != http.StatusOK {
		c.t.Fatalf("state of %s: status %d", persona, code)
	}
	return st
}

// decide clicks on the card of request id, as the page does.
func (c *chat) decide(persona, id string, approve bool, justification string) bot.Message {
	c.t.Helper()
	card := cardOf(c.state(persona), id)
	if card == nil {
		c.t.Fatalf("no card for %s", id)
	}
	return c.decideOn(persona, card.ID, id, approve, justification)
}

// decideOn sends a click naming request id on the card cardID.
func (c *chat) decideOn(persona, cardID, id string, approve bool, justification string) bot.Message {
	c.t.Helper()
	var m bot.Message
	c.call(http.MethodPost, "/api/decide", map[string]any{"persona": persona, "card_id": cardID, "request_id": id, "approve": approve, "justification": justification}, &m)
	return m
}

type form struct {
	Persona            string `json:"persona"`
	Entry              uint64 `json:"entry"`
	Reason             string `json:"reason"`
	Verification       string `json:"verification"`
	VerificationDetail string `json:"verification_detail"`
	Ticket             string `json:"ticket"`
	Users              string `json:"users,omitempty"`
}

func (c *chat) submit(f form) bot.Message {
	c.t.Helper()
	var m bot.Message
	c.call(http.MethodPost, "/api/submit", f, &m)
	return m
}

// openForm asks for a request form as persona and returns its conversation entry.
func (c *chat) openForm(persona, text string) uint64 {
	c.t.Helper()
	if m := c.command(persona, text); m.Form == nil {
		c.t.Fatalf("%s %q: no form: %+v", persona, text, m)
	}
	conv := c.state(persona).Conversation
	last := conv[len(conv)-1]
	if last.Message == nil || last.Message.Form == nil {
		c.t.Fatalf("the form is not the last entry of the conversation: %+v", last)
	}
	return last.Seq
}

func validForm(persona string, entry uint64) form {
	return form{Persona: persona, Entry: entry, Reason: "Lost phone, Authenticator never finished registering",
		Verification: string(approvals.VerifyVideoWithID), VerificationDetail: "Teams video, badge shown", Ticket: "INC-1042"}
}

func cardOf(st web.State, id string) *web.Card {
	for i := range st.Approvals {
		if st.Approvals[i].Message.RequestID == id {
			return &st.Approvals[i]
		}
	}
	return nil
}

func hasSection(m bot.Message, heading string) bool {
	for _, s := range m.Sections {
		if s.Heading == heading {
			return true
		}
	}
	return false
}

func TestWebChatLookups(t *testing.T) {
	c := newChat(t)
	tests := []struct {
		persona, text string
		refusal       bool
		want          string
	}{
		{"hana", "/mfa user mfatest2@mfademo.example", false, "MFA Test 2 (mfatest2@mfademo.example): enabled."},
		{"hana", "/mfa user nobody@mfademo.example", true, "No user nobody@mfademo.example in the directory."},
		{"hana", "/mfa frob", true, "Unknown verb"},
		{"nora", "/mfa user mfatest2@mfademo.example", true, "not in the helpdesk or approvers group"},
		{"sam", "reregister mfatest2@mfademo.example", true, "Only members of the helpdesk group can file requests."},
	}
	for _, tt := range tests {
		m := c.command(tt.persona, tt.text)
		if m.Refusal != tt.refusal || !strings.Contains(m.Text, tt.want) {
			t.Errorf("%s %q: %+v", tt.persona, tt.text, m)
		}
	}
	// Both the command and the answer are in the persona's conversation, nobody else's.
	if n := len(c.state("hana").Conversation); n != 6 {
		t.Errorf("hana's conversation has %d entries, want 6", n)
	}
	if n := len(c.state("alex").Conversation); n != 0 {
		t.Errorf("alex's conversation has %d entries, want 0", n)
	}
}

// TestWebChatRequestFlow walks the two-person rule through the web API: form → field
// errors → request → card → refusals → approval → card updated in place → inbox →
// audit channel, and the fake tenant changed.
func TestWebChatRequestFlow(t *testing.T) {
	c := newChat(t)
	entry := c.openForm("hana", "/mfa reregister mfatest2@"+domain)

	for _, tt := range []struct {
		name   string
		edit   func(*form)
		fields []string
	}{
		{"empty", func(f *form) { *f = form{Persona: f.Persona, Entry: f.Entry} }, []string{"reason", "verification", "verification_detail", "ticket"}},
		{"short reason", func(f *form) { f.Reason = "phone" }, []string{"reason"}},
		{"unknown verification", func(f *form) { f.Verification = "vibes" }, []string{"verification"}},
		{"bad ticket", func(f *form) { f.Ticket = "<script>" }, []string{"ticket"}},
	} {
		f := validForm("hana", entry)
		tt.edit(&f)
		m := c.submit(f)
		if !m.Refusal || len(m.Errors) != len(tt.fields) {
			t.Errorf("%s: %+v", tt.name, m)
			continue
		}
		for _, k := range tt.fields {
			if m.Errors[k] == "" {
				t.Errorf("%s: no error for %s: %v", tt.name, k, m.Errors)
			}
		}
	}

	ack := c.submit(validForm("hana", entry))
	if ack.Refusal || ack.RequestID == "" {
		t.Fatalf("submit: %+v", ack)
	}
	id := ack.RequestID
	if again := c.submit(validForm("hana", entry)); !again.Refusal || !strings.Contains(again.Text, "already filed as request "+id) {
		t.Errorf("second submission of the same form: %+v", again)
	}
	st := c.state("hana")
	card := cardOf(st, id)
	if card == nil || len(card.Message.Buttons) != 2 || card.Rev != 1 {
		t.Fatalf("approvals channel after submit: %+v", st.Approvals)
	}
	for _, e := range st.Conversation {
		if e.Seq == entry && e.Filed != id {
			t.Errorf("form entry not marked filed: %+v", e)
		}
	}

	for _, tt := range []struct {
		persona string
		approve bool
		just    string
		want    string
		field   string
	}{
		{"hana", true, "", "because you filed it", ""},
		{"nora", true, "", "Only members of the approvers group can decide requests.", ""},
		{"sam", false, "", "Say why you deny the request.", "justification"},
		{"alex", true, "", "You approved " + id + ": it is now done.", ""},
		{"sam", true, "", "was already approved by", ""},
	} {
		m := c.decide(tt.persona, id, tt.approve, tt.just)
		if !strings.Contains(m.Text, tt.want) || (tt.field != "" && m.Errors[tt.field] == "") {
			t.Errorf("%s decides (approve %v): %+v", tt.persona, tt.approve, m)
		}
		// The answer is private: a note under the card for the clicker alone; a field
		// error only goes back to the page, beside the field.
		note := cardOf(c.state(tt.persona), id).Note
		switch {
		case tt.field != "" && note != nil:
			t.Errorf("%s's field error became a note: %+v", tt.persona, note)
		case tt.field == "" && (note == nil || note.Message.Text != m.Text):
			t.Errorf("%s's note under the card: %+v, want %q", tt.persona, note, m.Text)
		}
	}
	if n := cardOf(c.state("hana"), id).Note; n == nil || !strings.Contains(n.Message.Text, "because you filed it") {
		t.Errorf("hana sees someone else's note: %+v", n)
	}

	card = cardOf(c.state("hana"), id)
	if card.Rev < 2 || len(card.Message.Buttons) != 0 || !hasSection(card.Message, "Result") || !hasSection(card.Message, "Decisions") {
		t.Errorf("card not updated in place: rev %d, %+v", card.Rev, card.Message)
	}
	if len(c.state("hana").Approvals) != 1 {
		t.Errorf("the update posted a second card")
	}
	inbox := c.state("hana").Inbox
	if len(inbox) != 1 || !strings.Contains(inbox[0].Message.Text, "Your request "+id) || !strings.Contains(inbox[0].Message.Text, "is done") {
		t.Errorf("hana's inbox: %+v", inbox)
	}
	if len(c.state("alex").Inbox) != 0 {
		t.Errorf("alex got the requester's message")
	}
	audit := c.state("sam").Audit
	var lines []string
	for _, a := range audit {
		lines = append(lines, a.Text)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{"request_created " + id, "access_refused " + id, "request_approved " + id, "request_succeeded " + id, "chain head"} {
		if !strings.Contains(all, want) {
			t.Errorf("audit channel lacks %q:\n%s", want, all)
		}
	}
	rep, err := c.svc.Verify(context.Background())
	if err != nil || !rep.OK {
		t.Errorf("audit chain: %v %v", rep, err)
	}
	// What the SDK did over HTTP reached the fake tenant: only the password is left.
	c.fake.Tenant(func(tn *graphtest.Tenant) {
		if u := tn.FindUser("mfatest2@" + domain); len(u.Methods) != 1 {
			t.Errorf("mfatest2 still has %d methods", len(u.Methods))
		}
	})
}

func TestWebChatDeny(t *testing.T) {
	c := newChat(t)
	entry := c.openForm("hana", "revoke fiona.failures@"+domain)
	ack := c.submit(validForm("hana", entry))
	if ack.Refusal {
		t.Fatalf("submit: %+v", ack)
	}
	m := c.decide("sam", ack.RequestID, false, "No ticket activity, call the user first")
	if m.Refusal || !strings.Contains(m.Text, "denied") {
		t.Fatalf("deny: %+v", m)
	}
	st := c.state("hana")
	card := cardOf(st, ack.RequestID)
	if len(card.Message.Buttons) != 0 || !strings.Contains(card.Message.Text, "denied") {
		t.Errorf("card after deny: %+v", card.Message)
	}
	if len(st.Inbox) != 1 || !strings.Contains(st.Inbox[0].Message.Text, "is denied") {
		t.Errorf("hana's inbox: %+v", st.Inbox)
	}
}

func TestWebChatStateSince(t *testing.T) {
	c := newChat(t)
	st := c.state("hana")
	var again web.State
	c.call(http.MethodGet, "/api/state?persona=hana&since="+jsonNum(st.Version), nil, &again)
	if !again.Unchanged || again.Version != st.Version {
		t.Errorf("unchanged poll: %+v", again)
	}
	c.command("hana", "help")
	again = web.State{}
	c.call(http.MethodGet, "/api/state?persona=hana&since="+jsonNum(st.Version), nil, &again)
	if again.Unchanged || len(again.Conversation) != 2 {
		t.Errorf("poll after a command: %+v", again)
	}
}

func jsonNum(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func TestWebChatRefusesBadCalls(t *testing.T) {
	c := newChat(t)
	do := func(method, path, host, token, body string) int {
		req, _ := http.NewRequest(method, c.url+path, strings.NewReader(body))
		if host != "" {
			req.Host = host
		}
		if token != "" {
			req.Header.Set("X-Mfadesk-Token", token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name, method, path, host, token, body string
		want                                  int
	}{
		{"no token, command", "POST", "/api/command", "", "", `{"persona":"hana","text":"help"}`, 403},
		{"wrong token, command", "POST", "/api/command", "", "00000000000000000000000000000000", `{"persona":"hana","text":"help"}`, 403},
		{"no token, state", "GET", "/api/state?persona=hana", "", "", "", 403},
		{"no token, personas", "GET", "/api/personas", "", "", "", 403},
		{"no token, submit", "POST", "/api/submit", "", "", `{}`, 403},
		{"no token, decide", "POST", "/api/decide", "", "", `{}`, 403},
		{"rebound host name", "GET", "/", "evil.example:8765", "", "", 421},
		{"rebound host name, API", "POST", "/api/command", "evil.example", c.token, `{"persona":"hana","text":"help"}`, 421},
		{"localhost", "GET", "/", "localhost:8765", "", "", 200},
		{"ipv6 loopback", "GET", "/", "[::1]:8765", "", "", 200},
		{"unknown persona", "POST", "/api/command", "", c.token, `{"persona":"eve","text":"help"}`, 400},
		{"unknown persona, state", "GET", "/api/state?persona=eve", "", c.token, "", 400},
		{"not JSON", "POST", "/api/decide", "", c.token, `approve`, 400},
		{"GET a POST endpoint", "GET", "/api/decide", "", c.token, "", 405},
		{"the template is not a static file", "GET", "/static/index.html", "", "", "", 404},
		{"static script", "GET", "/static/app.js", "", "", "", 200},
	}
	for _, tt := range tests {
		if got := do(tt.method, tt.path, tt.host, tt.token, tt.body); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
	// A form that was never offered cannot be filed, whatever the page claims.
	if m := c.submit(validForm("hana", 999)); !m.Refusal || !strings.Contains(m.Text, "no longer open") {
		t.Errorf("submit of an unknown form: %+v", m)
	}
	entry := c.openForm("hana", "reregister mfatest2@"+domain)
	if m := c.submit(validForm("alex", entry)); !m.Refusal {
		t.Errorf("alex filed hana's form: %+v", m)
	}
}

func TestPageSecurityHeaders(t *testing.T) {
	c := newChat(t)
	resp, err := http.Get(c.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP allows unsafe sources: %q", csp)
	}
	if bytes.Contains(body, []byte("<script>")) || bytes.Contains(body, []byte("<style>")) {
		t.Error("the page has inline script or style, which the CSP would block")
	}
	js, err := http.Get(c.url + "/static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	src, _ := io.ReadAll(js.Body)
	js.Body.Close()
	if bytes.Contains(src, []byte("innerHTML")) || bytes.Contains(src, []byte("insertAdjacentHTML")) {
		t.Error("app.js parses strings as HTML; set text with textContent")
	}
}

func TestNotifier(t *testing.T) {
	ctx := context.Background()
	s, err := web.New([]web.Persona{{ID: "hana", Name: "Hana"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.PostApproval(ctx, bot.Message{Title: "card", RequestID: "R1"})
	if err != nil || ref.Channel != "approvals" || ref.ID != "1" || ref.Platform != "web" {
		t.Fatalf("PostApproval: %+v %v", ref, err)
	}
	tests := []struct {
		name string
		err  error
		ok   bool
	}{
		{"update posted card", s.UpdateApproval(ctx, ref, bot.Message{Title: "updated", RequestID: "R1"}), true},
		{"update unknown card", s.UpdateApproval(ctx, bot.CardRef{Platform: "web", Channel: "approvals", ID: "9"}, bot.Message{}), false},
		{"update other channel", s.UpdateApproval(ctx, bot.CardRef{Platform: "web", Channel: "C123", ID: "1"}, bot.Message{}), false},
		{"tell persona", s.Tell(ctx, bot.Caller{Platform: "web", ChatID: "hana"}, bot.Message{Text: "hi"}), true},
		{"tell stranger", s.Tell(ctx, bot.Caller{Platform: "web", ChatID: "eve"}, bot.Message{Text: "hi"}), false},
		{"tell slack user", s.Tell(ctx, bot.Caller{Platform: "slack", ChatID: "hana"}, bot.Message{Text: "hi"}), false},
		{"post audit", s.PostAudit(ctx, "#1 submitted"), true},
	}
	for _, tt := range tests {
		if (tt.err == nil) != tt.ok {
			t.Errorf("%s: err %v", tt.name, tt.err)
		}
	}
	if _, err := web.New([]web.Persona{{ID: "a"}, {ID: "a"}}, nil); err == nil {
		t.Error("repeated persona ids accepted")
	}
}

func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:80"} {
		if ln, err := web.Listen(addr); err == nil {
			ln.Close()
			t.Errorf("Listen(%s) accepted", addr)
		}
	}
	ln, err := web.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

// TestWebChatCapsCards: the approvals pane keeps the newest cards only, so a demo left
// running does not grow without bound.
func TestWebChatCapsCards(t *testing.T) {
	c := newChat(t)
	ctx := context.Background()
	var last bot.CardRef
	for i := range 105 {
		ref, err := c.server.PostApproval(ctx, bot.Message{Title: "card", RequestID: "R" + jsonNum(uint64(i))})
		if err != nil {
			t.Fatal(err)
		}
		last = ref
	}
	st := c.state("hana")
	if len(st.Approvals) != 100 || st.Approvals[0].Message.RequestID != "R5" || st.Approvals[99].ID != last.ID {
		t.Errorf("pane holds %d cards, first %s", len(st.Approvals), st.Approvals[0].Message.RequestID)
	}
	if err := c.server.UpdateApproval(ctx, bot.CardRef{Platform: "web", Channel: "approvals", ID: "1"}, bot.Message{}); err == nil {
		t.Error("a dropped card was updated")
	}
}

// A click naming a request on another request's card, or on no card, is refused in
// one line and changes nothing; the click on the request's own card works. Before the
// check, /api/decide decided whatever request_id named.
func TestWebChatDecisionOnAnotherCard(t *testing.T) {
	c := newChat(t)
	a := c.submit(validForm("hana", c.openForm("hana", "/mfa reregister mfatest2@"+domain)))
	b := c.submit(validForm("hana", c.openForm("hana", "revoke fiona.failures@"+domain)))
	if a.Refusal || b.Refusal {
		t.Fatalf("submit: %+v / %+v", a, b)
	}
	cardA := cardOf(c.state("alex"), a.RequestID)
	for _, on := range []string{cardA.ID, "", "9999"} {
		m := c.decideOn("alex", on, b.RequestID, true, "")
		if !m.Refusal || !strings.Contains(m.Text, "not on the approval card") {
			t.Errorf("B's id on card %q: %+v", on, m)
		}
	}
	for _, id := range []string{a.RequestID, b.RequestID} {
		if card := cardOf(c.state("alex"), id); len(card.Message.Buttons) != 2 || card.Rev != 1 {
			t.Errorf("card of %s changed: rev %d %+v", id, card.Rev, card.Message.Buttons)
		}
	}
	audit := c.state("sam").Audit
	if last := audit[len(audit)-1].Text; !strings.Contains(last, "access_refused "+b.RequestID) {
		t.Errorf("refusal not audited: %s", last)
	}
	if m := c.decide("alex", b.RequestID, true, ""); m.Refusal {
		t.Fatalf("approve on B's card: %+v", m)
	}
}

// TestPageFilledWithoutTemplate: the page carries this process's token and the links
// the page may make clickable, and no placeholder is left.
func TestPageFilledWithoutTemplate(t *testing.T) {
	c := newChat(t)
	resp, err := http.Get(c.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	if !strings.Contains(page, `name="mfadesk-token" content="`+c.token+`"`) {
		t.Error("the page does not carry the token the API accepts")
	}
	if want := `name="mfadesk-links" content="` + strings.Join(bot.LinkURLs, " ") + `"`; !strings.Contains(page, want) {
		t.Errorf("the page lacks %s", want)
	}
	if strings.Contains(page, "MFADESK-") || strings.Contains(page, "{{") {
		t.Error("a placeholder was left in the page")
	}
}
