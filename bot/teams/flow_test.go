package teams

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
	"github.com/mfadesk/mfadesk/bot/teams/teamstest"
)

// The whole flow through the real router, approvals on bbolt and the Graph client
// against the fake tenant, with Teams on both ends: a helpdesk agent asks in a 1:1
// chat, fills in the form card, the approval card appears as a new thread in the
// approvals channel, another person approves it with an Action.Execute invoke, Graph
// deletes the methods and revokes the sessions, the card is updated for everyone, the
// requester is told, and every audit event is posted with the chain head.
func TestWholeFlow(t *testing.T) {
	e := newEnv(t)

	stack := bottest.New(t, bottest.Options{Notifiers: map[bot.Platform]bot.Notifier{"teams": e.ad}})
	tenant, fakeGraph, router := stack.Tenant, stack.Graph, stack.Router
	h := e.ad.Handler(router)
	post := func(body []byte) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/api/messages", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+e.bfToken(vectorSvc))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		e.ad.msgs.Wait() // messages are answered after the acknowledgement
		return rec
	}
	user := func(local string) map[string]any {
		u := tenant.FindUser(tenant.Email(local))
		if u == nil {
			t.Fatalf("no user %s", local)
		}
		return map[string]any{"id": "29:" + local, "name": local, "aadObjectId": u.ID()}
	}
	hana, alex := user("hana.helpdesk"), user("alex.approver")
	target := tenant.FindUser(tenant.Email("mfatest2"))

	// 1. Hana asks in her 1:1 chat; the form comes back there.
	msg := personalMsg(t, "reregister "+tenant.Email("mfatest2"))
	msg = setJSON(t, msg, map[string]any{"from": hana})
	if rec := post(msg); rec.Code != 200 {
		t.Fatalf("message: HTTP %d", rec.Code)
	}
	calls := e.fc.Calls()
	if len(calls) != 1 || calls[0].Conv != "a:hana-personal" {
		t.Fatalf("form reply: %+v", calls)
	}
	formCard := attachedCard(t, calls[0].Body)
	submit := findAction(t, formCard, VerbSubmit)
	if submit.Data["target"] != target.ID() {
		t.Fatalf("form data %v", submit.Data)
	}

	// 2. Hana submits the form (Action.Execute "submit" with the inputs merged in).
	data := map[string]any{}
	for k, v := range submit.Data {
		data[k] = v
	}
	data["reason"] = "Lost her phone; locked out of Authenticator"
	data["verification"] = "video_with_id"
	data["verification_detail"] = "Teams video, badge photo matched"
	data["ticket"] = "INC-4711"
	r, ack := decodeInvoke(t, post(invoke(t, "f:form-1", "a:hana-personal", calls[0].RespID, VerbSubmit, data, hana)))
	if r.Type != CardContentType || !strings.Contains(cardText(ack), "filed") {
		t.Fatalf("form answer %s", cardText(ack))
	}
	reqID := requestIDIn(t, cardText(ack))

	var approval teamstest.ConnCall
	for _, c := range e.fc.Calls() {
		if c.Path == "v3/conversations" && c.Body["isGroup"] == true && strings.Contains(mustString(c.Body), testChannel) {
			approval = c
		}
	}
	if approval.RespID == "" {
		t.Fatalf("no approval card was posted in the approvals channel: %+v", e.fc.Calls())
	}
	approvalCard := attachedCard(t, approval.Body["activity"].(map[string]any))
	if s := cardText(approvalCard); !strings.Contains(s, reqID) || !strings.Contains(s, "INC-4711") || !strings.Contains(s, `"verb":"approve"`) {
		t.Fatalf("approval card %s", s)
	}
	thread := testChannel + ";messageid=" + approval.RespID

	// 3. Hana cannot approve her own request: refused, nothing runs.
	_, own := decodeInvoke(t, post(invoke(t, "f:own-1", thread, approval.RespID, VerbApprove, map[string]any{"request": reqID}, hana)))
	if s := cardText(own); !strings.Contains(s, `"verb":"approve"`) || !strings.Contains(strings.ToLower(s), "own") {
		t.Errorf("self-approval answer %s", s)
	}
	if n := graphWrites(fakeGraph); n != 0 {
		t.Fatalf("%d Graph writes after a refused self-approval", n)
	}

	// 4. Alex approves in the channel thread.
	click := invoke(t, "f:approve-1", thread, approval.RespID, VerbApprove, map[string]any{"request": reqID, "justification": "verified on video"}, alex)
	r, done := decodeInvoke(t, post(click))
	if r.StatusCode != 200 || r.Type != CardContentType {
		t.Fatalf("approve answer %+v", r)
	}
	ds := cardText(done)
	if !strings.Contains(ds, "alex.approver") || strings.Contains(ds, `"verb":"approve"`) || !strings.Contains(ds, "done") {
		t.Errorf("updated card (invoke response) %s", ds)
	}
	writes := graphWrites(fakeGraph)
	if writes == 0 {
		t.Fatal("approval ran no Graph writes")
	}
	var deleted, revoked bool
	for _, rec := range fakeGraph.Records() {
		deleted = deleted || (rec.Method == http.MethodDelete && strings.Contains(rec.Path, target.ID()))
		revoked = revoked || (rec.Method == http.MethodPost && strings.Contains(rec.Path, "revokeSignInSessions"))
	}
	if !deleted || !revoked {
		t.Errorf("Graph: deleted a method %v, revoked sessions %v", deleted, revoked)
	}

	// The card is updated for everyone, the requester is told, the audit channel has
	// every event with the chain head.
	var put, told bool
	var audit []string
	for _, c := range e.fc.Calls() {
		switch {
		case c.Method == http.MethodPut && c.Conv == thread && c.ActID == approval.RespID:
			put = put || strings.Contains(mustString(c.Body), "done")
		case c.Method == http.MethodPost && c.Conv == "a:personal-29:hana.helpdesk":
			told = told || strings.Contains(mustString(c.Body), reqID)
		case c.Path == "v3/conversations" && strings.Contains(mustString(c.Body), auditChannel):
			audit = append(audit, c.Body["activity"].(map[string]any)["text"].(string))
		}
	}
	if !put || !told {
		t.Errorf("card updated for everyone %v, requester told %v", put, told)
	}
	all := strings.Join(audit, "\n")
	for _, want := range []string{"request_created", "access_refused", "request_approved", "request_succeeded", "chain head #5"} {
		if !strings.Contains(all, want) {
			t.Errorf("audit channel lacks %q:\n%s", want, all)
		}
	}

	// 5. Teams re-sends the invoke: nothing runs twice, the answer is the current card.
	_, again := decodeInvoke(t, post(click))
	if n := graphWrites(fakeGraph); n != writes {
		t.Fatalf("a retried invoke ran Graph writes again (%d → %d)", writes, n)
	}
	if cardText(again) != ds {
		t.Errorf("retry answer differs from the current card")
	}
	// A second, separate click is refused by the router's exactly-once state.
	_, late := decodeInvoke(t, post(invoke(t, "f:approve-2", thread, approval.RespID, VerbApprove, map[string]any{"request": reqID}, user("sam.approver"))))
	if n := graphWrites(fakeGraph); n != writes || !strings.Contains(cardText(late), "alex.approver") {
		t.Errorf("second approver: writes %d → %d, answer %s", writes, n, cardText(late))
	}
}

func graphWrites(s *graphtest.Server) int {
	n := 0
	for _, r := range s.Records() {
		if r.Method == http.MethodDelete || (r.Method == http.MethodPost && strings.Contains(r.Path, "revokeSignInSessions")) {
			n++
		}
	}
	return n
}

// attachedCard is the Adaptive Card of an activity the bot sent.
func attachedCard(t *testing.T, activity map[string]any) Card {
	t.Helper()
	atts, _ := activity["attachments"].([]any)
	if len(atts) != 1 {
		t.Fatalf("activity has %d attachments", len(atts))
	}
	b, _ := json.Marshal(atts[0].(map[string]any)["content"])
	var c Card
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func findAction(t *testing.T, c Card, verb string) Action {
	t.Helper()
	for _, e := range c.Body {
		for _, a := range e.Actions {
			if a.Verb == verb {
				return a
			}
		}
	}
	t.Fatalf("card has no %q action: %s", verb, cardText(c))
	return Action{}
}

func requestIDIn(t *testing.T, s string) string {
	t.Helper()
	i := strings.Index(s, "R-")
	if i < 0 {
		t.Fatalf("no request id in %s", s)
	}
	j := i + 2
	for j < len(s) && (s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
		j++
	}
	return s[i:j]
}
