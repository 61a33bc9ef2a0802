package teams

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
	"github.com/mfadesk/mfadesk/bot/teams/teamstest"
)

// TestTargetConfirmsInTeams: filing a re-register sends the target a proactive 1:1
// through the connector (created with the user's object id and our tenant); the
// agent's answer names the number; invokes from someone else, a wrong pick and a
// replay change nothing; the right pick by the target confirms; a user without the
// app is named as such, and the request then needs two approvers.
func TestTargetConfirmsInTeams(t *testing.T) {
	e := newEnv(t)
	stack := bottest.New(t, bottest.Options{Notifiers: map[bot.Platform]bot.Notifier{"teams": e.ad},
		EditPolicy: func(p *approvals.Policy) { p.MinEvidence = approvals.DefaultMinEvidence() }})
	tenant := stack.Tenant
	h := e.ad.Handler(stack.Router)
	post := func(body []byte) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/api/messages", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+e.bfToken(vectorSvc))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	person := func(local string) (map[string]any, bot.Caller) {
		u := tenant.FindUser(tenant.Email(local))
		return map[string]any{"id": "29:" + local, "name": local, "aadObjectId": u.ID()},
			bot.Caller{Platform: "teams", ChatID: "29:" + local, Name: local, ObjectID: u.ID()}
	}
	_, hana := person("hana.helpdesk")
	nora, _ := person("nora.norights")
	targetFrom, _ := person("mfatest2")
	target := tenant.FindUser(tenant.Email("mfatest2"))
	form := bot.FormSubmission{Action: "reregister", Target: target.ID(), Reason: "Lost her phone; locked out of Authenticator",
		Verification: "video_with_id", VerificationDetail: "Teams video, badge photo matched", Ticket: "INC-4711"}

	ans := stack.Router.Submit(t.Context(), hana, form)
	m := regexp.MustCompile(`pick (\d\d)`).FindStringSubmatch(ans.Text)
	if m == nil || !strings.Contains(ans.Text, "Teams") {
		t.Fatalf("agent's answer: %s", ans.Text)
	}
	var created bool
	var card Card
	for _, c := range e.fc.Calls() {
		if c.Path == "v3/conversations" && c.Body["isGroup"] == false && strings.Contains(mustString(c.Body), target.ID()) {
			created = strings.Contains(mustString(c.Body), testTenant)
		}
		if c.Conv == "a:personal-"+target.ID() && c.Method == http.MethodPost {
			card = attachedCard(t, c.Body)
		}
	}
	if !created || card.Body == nil {
		t.Fatalf("no proactive 1:1 with the target in our tenant: %+v", e.fc.Calls())
	}
	var right, wrong, notMe string
	for _, el := range card.Body {
		for _, a := range el.Actions {
			v, _ := a.Data["request"].(string)
			switch {
			case a.Verb == "pick" && strings.HasSuffix(v, ":"+m[1]):
				right = v
			case a.Verb == "pick":
				wrong = v
			case a.Verb == "not_me":
				notMe = v
			}
		}
	}
	if right == "" || wrong == "" || notMe == "" {
		t.Fatalf("target card lacks the buttons: %s", cardText(card))
	}
	conv := "a:personal-" + target.ID()
	for i, c := range []struct {
		from  map[string]any
		value string
		want  string
	}{
		{nora, right, "Only"},
		{targetFrom, wrong, "tries left"},
		{targetFrom, right, "Thank you"},
		{targetFrom, right, "already"},
	} {
		rec := post(invoke(t, "f:pick-"+string(rune('a'+i)), conv, "1", "pick", map[string]any{"request": c.value}, c.from))
		if !strings.Contains(rec.Body.String(), c.want) {
			t.Fatalf("click %d: %s, want %q", i, rec.Body.String(), c.want)
		}
	}
	reqID := requestIDIn(t, ans.Text)
	got, err := stack.Approvals.Get(t.Context(), reqID)
	if err != nil || len(got.Performed) != 1 || got.Performed[0].Platform != "teams" {
		t.Fatalf("performed evidence: %v %+v", err, got.Performed)
	}

	// A user without the app: the agent is told, and two approvers are needed.
	other := tenant.FindUser(tenant.Email("mfatest1"))
	e.fc.NotInstalled(other.ID())
	form.Target = other.ID()
	ans = stack.Router.Submit(t.Context(), hana, form)
	if !strings.Contains(ans.Text, "not installed") || !strings.Contains(ans.Text, "two approvers") {
		t.Fatalf("unreachable answer: %s", ans.Text)
	}
}

// targetCard files a re-register for mfatest2 as hana through the router and returns
// the request id, the agent's number, the target's 1:1 conversation and the confirmation card there.
func (s *teamsStack) targetCard(t *testing.T) (reqID, number, conv, cardID string, card Card) {
	t.Helper()
	tenant := s.stack.Tenant
	target := tenant.FindUser(tenant.Email("mfatest2"))
	hana := bot.Caller{Platform: "teams", ChatID: "29:hana.helpdesk", Name: "hana.helpdesk", ObjectID: s.stack.UserID(t, "hana.helpdesk")}
	ans := s.stack.Router.Submit(t.Context(), hana, bot.FormSubmission{Action: "reregister", Target: target.ID(), Reason: "Lost her phone; locked out of Authenticator",
		Verification: "video_with_id", VerificationDetail: "Teams video, badge photo matched", Ticket: "INC-4711"})
	m := regexp.MustCompile(`pick (\d\d)`).FindStringSubmatch(ans.Text)
	if m == nil {
		t.Fatalf("agent's answer: %s", ans.Text)
	}
	conv = "a:personal-" + target.ID()
	for _, c := range s.fc.Calls() {
		if c.Conv == conv && c.Method == http.MethodPost {
			card, cardID = attachedCard(t, c.Body), c.RespID
		}
	}
	if cardID == "" {
		t.Fatalf("no confirmation in the target's 1:1 chat: %+v", s.fc.Calls())
	}
	return requestIDIn(t, ans.Text), m[1], conv, cardID, card
}

// pickValue is the value of the card's pick button for number n, or of another
// number when n is negated ("-42": any pick but 42).
func pickValue(t *testing.T, card Card, n string) string {
	t.Helper()
	other := strings.HasPrefix(n, "-")
	for _, el := range card.Body {
		for _, a := range el.Actions {
			v, _ := a.Data["request"].(string)
			if a.Verb == "pick" && strings.HasSuffix(v, ":"+strings.TrimPrefix(n, "-")) != other {
				return v
			}
		}
	}
	t.Fatalf("no pick %s on the card: %s", n, cardText(card))
	return ""
}

// TestTargetClickPastInvokeWindow: a target's click whose work outlasts the invoke
// window (a slow directory) is answered at once, its card marked "working on it", and
// the result reaches the target exactly once afterwards: a wrong pick's refusal under
// the card (the buttons stay), the right pick's thanks in place of the buttons. A
// retry of the invoke gets the card as it now is and runs nothing again; a click on a
// card this process does not know gets its answer as one 1:1 message. Before, the
// click was worked on inside the invoke, which Teams abandons and retries.
func TestTargetClickPastInvokeWindow(t *testing.T) {
	s := newTeamsStack(t, func(o *Options) { o.InvokeWait = time.Millisecond })
	reqID, number, conv, cardID, card := s.targetCard(t)
	s.stack.Graph.SetFaults(graphtest.Faults{Latency: 30 * time.Millisecond})
	from := s.person("mfatest2")
	// click returns the invoke's answer and what the connector got once the click's
	// work is done: PUTs of the clicked card and messages posted to a 1:1 chat.
	click := func(id, replyTo, value string) (InvokeResponse, Card, []teamstest.ConnCall) {
		t.Helper()
		before := len(s.fc.Calls())
		r, c := decodeInvoke(t, s.post(invoke(t, id, conv, replyTo, "pick", map[string]any{"request": value}, from)))
		s.ad.wg.Wait()
		var out []teamstest.ConnCall
		for _, call := range s.fc.Calls()[before:] {
			put := call.Method == http.MethodPut && call.Conv == conv && call.ActID == replyTo
			msg := call.Method == http.MethodPost && strings.HasPrefix(call.Conv, "a:personal-") && strings.HasSuffix(call.Path, "/activities")
			if put || msg {
				out = append(out, call)
			}
		}
		return r, c, out
	}
	working := func(what string, r InvokeResponse, c Card) {
		t.Helper()
		if !strings.Contains(fmt.Sprint(r.Value)+cardText(c), "Working on it") {
			t.Fatalf("%s: the invoke was answered %+v %s, not at once with \"working on it\"", what, r, cardText(c))
		}
	}

	r, c, got := click("f:t-wrong", cardID, pickValue(t, card, "-"+number))
	working("wrong pick", r, c)
	if len(got) != 1 || got[0].Method != http.MethodPut || !strings.Contains(mustString(got[0].Body), "tries left") || !strings.Contains(mustString(got[0].Body), `"verb":"pick"`) {
		t.Fatalf("wrong pick delivered %d times: %+v", len(got), got)
	}

	right := pickValue(t, card, number)
	r, c, got = click("f:t-right", cardID, right)
	working("right pick", r, c)
	if len(got) != 1 || got[0].Method != http.MethodPut || !strings.Contains(mustString(got[0].Body), "Thank you") || strings.Contains(mustString(got[0].Body), `"verb":"pick"`) {
		t.Fatalf("right pick delivered %d times: %+v", len(got), got)
	}
	performed := func() int {
		q, err := s.stack.Approvals.Get(t.Context(), reqID)
		if err != nil {
			t.Fatal(err)
		}
		return len(q.Performed)
	}
	if n := performed(); n != 1 {
		t.Fatalf("%d performed evidence after the right pick", n)
	}

	// Teams retries the same invoke: the card as it now is, nothing run again.
	r, c, got = click("f:t-right", cardID, right)
	if r.Type != CardContentType || !strings.Contains(cardText(c), "Thank you") || strings.Contains(cardText(c), `"verb":"pick"`) || len(got) != 0 {
		t.Fatalf("retried invoke: %+v %s, deliveries %+v", r, cardText(c), got)
	}
	if n := performed(); n != 1 {
		t.Fatalf("%d performed evidence after the retry", n)
	}

	// A card this process does not know (sent before a restart): the answer comes as
	// one 1:1 message.
	r, c, got = click("f:t-unknown", "card-before-restart", right)
	working("unknown card", r, c)
	if len(got) != 1 || got[0].Method != http.MethodPost || !strings.Contains(mustString(got[0].Body), "already") {
		t.Fatalf("click on an unknown card delivered %d times: %+v", len(got), got)
	}
}

// stepClock is a clock a test moves by hand.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestTargetConfirmationExpiredInTeams: the target picks the agent's number after the
// confirmation expired (the approvals clock moved past its ten minutes): the invoke
// answers with one line under the card saying it expired and to ask the agent for a
// new one, and nothing else reaches the target; the request stays pending with no evidence, the
// confirmation stays open, nothing is written, and the refusal is audited.
func TestTargetConfirmationExpiredInTeams(t *testing.T) {
	clock := &stepClock{t: time.Now()}
	e := newEnv(t)
	stack := bottest.New(t, bottest.Options{Notifiers: map[bot.Platform]bot.Notifier{"teams": e.ad}, Clock: clock.Now,
		EditPolicy: func(p *approvals.Policy) { p.MinEvidence = approvals.DefaultMinEvidence() }})
	s := &teamsStack{env: e, stack: stack, h: e.ad.Handler(stack.Router)}
	reqID, number, conv, cardID, card := s.targetCard(t)
	right := pickValue(t, card, number)
	confID, _, _ := strings.Cut(right, ":")

	clock.Advance(approvals.DefaultConfirmTTL)
	before := len(s.fc.Calls())
	r, c := decodeInvoke(t, s.post(invoke(t, "f:t-late", conv, cardID, "pick", map[string]any{"request": right}, s.person("mfatest2"))))
	s.ad.wg.Wait()
	if r.Type != CardContentType {
		t.Fatalf("late pick answered %+v", r)
	}
	last := c.Body[len(c.Body)-1]
	if !strings.Contains(last.Text, "expired") || !strings.Contains(last.Text, "ask the helpdesk agent to send a new one") || strings.Contains(last.Text, "\n") || last.Color != "attention" {
		t.Fatalf("late pick's note %+v, want one line saying it expired and what to do", last)
	}
	// The answer is the invoke's alone; the audit channel gets the refusal.
	audited := 0
	for _, call := range s.fc.Calls()[before:] {
		switch body := mustString(call.Body); {
		case strings.Contains(body, auditChannel) && strings.Contains(body, "access_refused") && strings.Contains(body, "[expired]"):
			audited++
		default:
			t.Errorf("the invoke answered, yet this was sent: %+v", call)
		}
	}
	if audited != 1 {
		t.Errorf("%d audit lines of the refused pick, want 1", audited)
	}
	req, err := stack.Approvals.Get(t.Context(), reqID)
	if err != nil || req.State != approvals.StatePending || len(req.Performed) != 0 {
		t.Fatalf("request after the late pick: %v %s %+v", err, req.State, req.Performed)
	}
	if c, err := stack.Approvals.Confirmation(t.Context(), confID); err != nil || c.State != approvals.ConfirmOpen {
		t.Fatalf("confirmation after the late pick: %v %s", err, c.State)
	}
	hist, err := stack.Approvals.History(t.Context(), reqID)
	if err != nil {
		t.Fatal(err)
	}
	if ev := hist[len(hist)-1]; ev.Kind != approvals.EventRefused || ev.Code != approvals.ErrExpired || ev.Actor.ChatID != "29:mfatest2" {
		t.Fatalf("last event %+v, want the target's refused late pick", ev)
	}
	if n := graphWrites(stack.Graph); n != 0 {
		t.Fatalf("%d Graph writes", n)
	}
}

// TestTargetPickSubmitFallback: a client without Action.Execute sends the target's
// pick as an Action.Submit message; it is answered once (the connector may re-send
// it) by replacing the confirmation card with the thanks. Before, such a pick was
// dropped without an answer.
func TestTargetPickSubmitFallback(t *testing.T) {
	s := newTeamsStack(t)
	reqID, number, conv, cardID, card := s.targetCard(t)
	msg := activityJSON(t, map[string]any{
		"type": "message", "channelId": "msteams", "id": "f:pick-submit", "serviceUrl": vectorSvc, "text": "",
		"from": s.person("mfatest2"), "recipient": map[string]any{"id": "28:" + testAppID},
		"conversation": map[string]any{"id": conv, "conversationType": "personal", "tenantId": testTenant},
		"channelData":  map[string]any{"tenant": map[string]any{"id": testTenant}},
		"replyToId":    cardID,
		"value":        map[string]any{"mfadesk": "pick", "request": pickValue(t, card, number)},
	})
	before := len(s.fc.Calls())
	s.post(msg)
	s.post(msg) // re-sent by the connector
	var puts []teamstest.ConnCall
	for _, c := range s.fc.Calls()[before:] {
		if c.Conv == conv || strings.HasPrefix(c.Conv, "a:personal-29:") { // the target's 1:1 chat, by object id or Teams id
			puts = append(puts, c)
		}
	}
	if len(puts) != 1 || puts[0].Method != http.MethodPut || puts[0].ActID != cardID || !strings.Contains(mustString(puts[0].Body), "Thank you") {
		t.Fatalf("the confirmation was not answered once: %+v", puts)
	}
	if q, err := s.stack.Approvals.Get(t.Context(), reqID); err != nil || len(q.Performed) != 1 {
		t.Fatalf("performed evidence: %v %+v", err, q.Performed)
	}
}
