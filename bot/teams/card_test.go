package teams

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
	"github.com/mfadesk/mfadesk/bot/teams/teamstest"
)

// teamsStack is the real router on the Teams adapter, for tests that need requests.
type teamsStack struct {
	*env
	stack *bottest.Stack
	h     http.Handler
}

func newTeamsStack(t *testing.T, mod ...func(*Options)) *teamsStack {
	e := newEnv(t, mod...)
	stack := bottest.New(t, bottest.Options{Notifiers: map[bot.Platform]bot.Notifier{"teams": e.ad}})
	return &teamsStack{env: e, stack: stack, h: e.ad.Handler(stack.Router)}
}

func (s *teamsStack) post(body []byte) *httptest.ResponseRecorder {
	s.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/messages", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+s.bfToken(vectorSvc))
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	s.ad.msgs.Wait()
	return rec
}

// person is a Teams user of the demo tenant, as an activity's from.
func (s *teamsStack) person(local string) map[string]any {
	u := s.stack.Tenant.FindUser(s.stack.Tenant.Email(local))
	if u == nil {
		s.t.Fatalf("no user %s", local)
	}
	return map[string]any{"id": "29:" + local, "name": local, "aadObjectId": u.ID()}
}

// file submits a filled-in form as hana and returns the request id and the thread and
// activity id of its approval card.
func (s *teamsStack) file(action, targetLocal, invokeID string) (reqID, thread, cardID string) {
	s.t.Helper()
	target := s.stack.Tenant.FindUser(s.stack.Tenant.Email(targetLocal))
	data := map[string]any{"action": action, "target": target.ID(), "reason": "Lost her phone; locked out",
		"verification": "video_with_id", "verification_detail": "Teams video, badge photo matched", "ticket": "INC-4711"}
	before := len(s.fc.Calls())
	_, ack := decodeInvoke(s.t, s.post(invoke(s.t, invokeID, "a:hana-personal", "1", VerbSubmit, data, s.person("hana.helpdesk"))))
	reqID = requestIDIn(s.t, cardText(ack))
	for _, c := range s.fc.Calls()[before:] {
		if c.Path == "v3/conversations" && c.Body["isGroup"] == true && strings.Contains(mustString(c.Body), testChannel) && strings.Contains(mustString(c.Body), reqID) {
			return reqID, testChannel + ";messageid=" + c.RespID, c.RespID
		}
	}
	s.t.Fatalf("no approval card for %s: %s", reqID, cardText(ack))
	return
}

// An Approve carrying request B's id on request A's card, or sent from an approver's
// 1:1 chat, is refused: B stays pending, Graph is not written, and the refusal is
// audited. The same click on B's card then approves it. Before the check, the router
// decided whatever request the button's data named.
func TestDecisionOnAnotherCard(t *testing.T) {
	s := newTeamsStack(t)
	reqA, threadA, cardA := s.file("reregister", "mfatest2", "f:form-a")
	reqB, threadB, cardB := s.file("revoke", "mfatest1", "f:form-b")
	alex := s.person("alex.approver")
	state := func(id string) approvals.State {
		r, err := s.stack.Approvals.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return r.State
	}
	for _, tc := range []struct{ name, conv, replyTo string }{
		{"B's id on A's card", threadA, cardA},
		{"from the approver's 1:1 chat", "a:alex-personal", "1772400000009"},
		{"B's card id in A's thread", threadA, cardB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, card := decodeInvoke(t, s.post(invoke(t, "f:"+tc.name, tc.conv, tc.replyTo, VerbApprove, map[string]any{"request": reqB}, alex)))
			text := cardText(card)
			if r.Type == typeMessage {
				text = r.Value.(string)
			}
			if !strings.Contains(text, "not on the approval card") {
				t.Errorf("answer %+v %s", r, text)
			}
			if st := state(reqB); st != approvals.StatePending {
				t.Fatalf("request B is %s", st)
			}
			if n := graphWrites(s.stack.Graph); n != 0 {
				t.Fatalf("%d Graph writes", n)
			}
			hist, _ := s.stack.Approvals.History(t.Context(), reqB)
			if ev := hist[len(hist)-1]; ev.Kind != approvals.EventRefused || ev.Code != approvals.ErrWrongCard {
				t.Errorf("last event of B %+v", ev)
			}
		})
	}
	if st := state(reqA); st != approvals.StatePending {
		t.Fatalf("request A is %s", st)
	}
	// On its own card the click counts.
	if r, card := decodeInvoke(t, s.post(invoke(t, "f:ok", threadB, cardB, VerbApprove, map[string]any{"request": reqB}, alex))); r.Type != CardContentType || !strings.Contains(cardText(card), "alex.approver") {
		t.Fatalf("approve on B's card: %+v %s", r, cardText(card))
	}
	if st := state(reqB); st == approvals.StatePending {
		t.Fatal("B still pending after the approval on its card")
	}
}

// When the work of a click outlasts the invoke window (slow Graph), the invoke says
// "working on it" and the result still reaches the clicker: the filed request's id,
// or the form with its errors, replaces the form card; a refused decision comes in a
// 1:1 message. Before, the result was computed and dropped.
func TestLateResultsDelivered(t *testing.T) {
	s := newTeamsStack(t, func(o *Options) { o.InvokeWait = time.Millisecond })
	s.stack.Graph.SetFaults(graphtest.Faults{Latency: 30 * time.Millisecond})
	hana := s.person("hana.helpdesk")
	target := s.stack.Tenant.FindUser(s.stack.Tenant.Email("mfatest2"))
	form := map[string]any{"action": "reregister", "target": target.ID(), "reason": "Lost her phone; locked out",
		"verification": "video_with_id", "verification_detail": "Teams video, badge photo matched", "ticket": "INC-4711"}
	submit := func(id, formCardID string, data map[string]any) teamstest.ConnCall {
		t.Helper()
		r, _ := decodeInvoke(t, s.post(invoke(t, id, "a:hana-personal", formCardID, VerbSubmit, data, hana)))
		if r.Type != typeMessage || !strings.Contains(r.Value.(string), "Working on it") {
			t.Fatalf("invoke answer %+v: the work did not outlast the window", r)
		}
		s.ad.wg.Wait() // the click's work, and its late delivery, are done
		for _, c := range s.fc.Calls() {
			if c.Method == http.MethodPut && c.Conv == "a:hana-personal" && c.ActID == formCardID {
				return c
			}
		}
		t.Fatalf("the form card %s was not replaced: %+v", formCardID, s.fc.Calls())
		return teamstest.ConnCall{}
	}

	// Refused (the target is not in the directory): the refusal replaces the form.
	unknown := maps.Clone(form)
	unknown["target"] = "00000000-0000-4000-8000-00000000dead"
	if put := submit("f:late-refused", "form-1", unknown); strings.Contains(mustString(put.Body), "R-") || strings.Contains(mustString(put.Body), `"verb":"submit"`) {
		t.Errorf("refusal not delivered: %s", mustString(put.Body))
	} else {
		t.Logf("refusal delivered: %s", clip(mustString(put.Body), 300))
	}
	// Filed: the request id replaces the form.
	put := submit("f:late-ok", "form-2", form)
	reqID := requestIDIn(t, mustString(put.Body))
	if _, err := s.stack.Approvals.Get(t.Context(), reqID); err != nil {
		t.Fatalf("delivered id %s: %v", reqID, err)
	}

	// Hana approves her own request: refused, and told in her 1:1 chat.
	var thread, cardID string
	for _, c := range s.fc.Calls() {
		if c.Path == "v3/conversations" && c.Body["isGroup"] == true && strings.Contains(mustString(c.Body), reqID) && strings.Contains(mustString(c.Body), testChannel) {
			thread, cardID = testChannel+";messageid="+c.RespID, c.RespID
		}
	}
	before := len(s.fc.Calls())
	r, _ := decodeInvoke(t, s.post(invoke(t, "f:late-own", thread, cardID, VerbApprove, map[string]any{"request": reqID}, hana)))
	if r.Type == typeMessage && !strings.Contains(r.Value.(string), "Working on it") {
		t.Fatalf("answer %+v", r)
	}
	s.ad.wg.Wait()
	var told bool
	for _, c := range s.fc.Calls()[before:] {
		told = told || (c.Method == http.MethodPost && c.Conv == "a:personal-29:hana.helpdesk" && strings.Contains(mustString(c.Body), "because you filed it"))
	}
	if !told {
		t.Errorf("the refusal did not reach hana: %+v", s.fc.Calls()[before:])
	}
}

// A Deny from the channel card whose invoke carries no input values (Teams clients
// may not send them with Action.Execute in channels) still works: the clicker gets a
// deny form in their 1:1 chat, bound to the card by a signed pass; the pass is
// refused for someone else or another request; the justification given there denies
// the request and updates the channel card. Before, such a Deny could never succeed.
func TestDenyWithoutInputValues(t *testing.T) {
	s := newTeamsStack(t)
	reqID, thread, cardID := s.file("revoke", "mfatest2", "f:form-deny")
	other, _, _ := s.file("reregister", "mfatest1", "f:form-other")
	alex, sam := s.person("alex.approver"), s.person("sam.approver")

	before := len(s.fc.Calls())
	r, card := decodeInvoke(t, s.post(invoke(t, "f:deny-noinputs", thread, cardID, VerbDeny, map[string]any{"request": reqID}, alex)))
	if r.Type != CardContentType || !strings.Contains(cardText(card), "1:1 chat") {
		t.Fatalf("answer %+v %s", r, cardText(card))
	}
	var form Card
	var formID string
	for _, c := range s.fc.Calls()[before:] {
		if c.Method == http.MethodPost && c.Conv == "a:personal-29:alex.approver" {
			form, formID = attachedCard(t, c.Body), c.RespID
		}
	}
	if formID == "" {
		t.Fatalf("no deny form in alex's 1:1 chat: %+v", s.fc.Calls()[before:])
	}
	deny := findAction(t, form, VerbDeny)
	if !strings.Contains(cardText(form), `"id":"justification"`) || deny.Data["request"] != reqID || deny.Data[dataDenyPass] == "" {
		t.Fatalf("deny form %s", cardText(form))
	}
	withJust := func(m map[string]any) map[string]any {
		d := map[string]any{"justification": "Call-back number was not the one on record"}
		for k, v := range m {
			d[k] = v
		}
		return d
	}
	state := func(id string) approvals.State {
		q, err := s.stack.Approvals.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return q.State
	}
	// Someone else's use of the pass, and the pass on another request: refused.
	samData := withJust(deny.Data)
	r, card = decodeInvoke(t, s.post(invoke(t, "f:deny-sam", "a:personal-29:sam.approver", formID, VerbDeny, samData, sam)))
	otherData := withJust(deny.Data)
	otherData["request"] = other
	r2, card2 := decodeInvoke(t, s.post(invoke(t, "f:deny-other", "a:personal-29:alex.approver", formID, VerbDeny, otherData, alex)))
	for _, got := range []string{fmt.Sprint(r.Value) + cardText(card), fmt.Sprint(r2.Value) + cardText(card2)} {
		if !strings.Contains(got, "not valid any more") {
			t.Errorf("misused pass answered %s", got)
		}
	}
	if state(reqID) != approvals.StatePending || state(other) != approvals.StatePending {
		t.Fatalf("a misused pass decided: %s / %s", state(reqID), state(other))
	}
	// Alex denies from the 1:1 form.
	before = len(s.fc.Calls())
	decodeInvoke(t, s.post(invoke(t, "f:deny-1to1", "a:personal-29:alex.approver", formID, VerbDeny, withJust(deny.Data), alex)))
	if st := state(reqID); st != approvals.StateDenied {
		t.Fatalf("request is %s after the deny from the 1:1 form", st)
	}
	var put bool
	for _, c := range s.fc.Calls()[before:] {
		put = put || (c.Method == http.MethodPut && c.Conv == thread && c.ActID == cardID && strings.Contains(mustString(c.Body), "Call-back number"))
	}
	if !put {
		t.Error("the channel card was not updated with the denial")
	}
}
