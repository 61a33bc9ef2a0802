package teams

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
)

// teamsStack is the real router on the Teams adapter, for tests that need requests.
type teamsStack struct {
	*env
	stack *bottest.Stack
	h     http.Handler
}

func newTeamsStack(t *testing.T, mod ...func(*Options)) *teamsStack {
	e := newEnv(t, mod...)
	stack := bottest.New(t, bottest.Options{Notifiers: map[string]bot.Notifier{"teams": e.ad}})
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
