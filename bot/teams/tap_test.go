package teams

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
	"github.com/mfadesk/mfadesk/bot/teams/teamstest"
)

// TestTAPOnlyInTheRequesters1to1: tap through Teams: after Alex approves, the pass
// reaches Hana in her 1:1 chat with the bot and in no other activity the adapter sent
// (cards, card updates, invoke answers, audit posts).
func TestTAPOnlyInTheRequesters1to1(t *testing.T) {
	e := newEnv(t)
	stack := bottest.New(t, bottest.Options{Notifiers: map[bot.Platform]bot.Notifier{"teams": e.ad}})
	tenant, router := stack.Tenant, stack.Router
	h := e.ad.Handler(router)
	var answers []string
	post := func(body []byte) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/api/messages", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+e.bfToken(vectorSvc))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		e.ad.msgs.Wait()
		answers = append(answers, rec.Body.String())
		return rec
	}
	user := func(local string) map[string]any {
		u := tenant.FindUser(tenant.Email(local))
		return map[string]any{"id": "29:" + local, "name": local, "aadObjectId": u.ID()}
	}
	hana, alex := user("hana.helpdesk"), user("alex.approver")

	post(setJSON(t, personalMsg(t, "tap "+tenant.Email("mfatest2")+" --lifetime 4h"), map[string]any{"from": hana}))
	calls := e.fc.Calls()
	if len(calls) != 1 {
		t.Fatalf("form reply: %+v", calls)
	}
	submit := findAction(t, attachedCard(t, calls[0].Body), VerbSubmit)
	data := map[string]any{}
	for k, v := range submit.Data {
		data[k] = v
	}
	data["reason"], data["verification"], data["verification_detail"], data["ticket"] = "Locked out after a new phone; must register again", "video_with_id", "Teams video, badge photo matched", "INC-4713"
	_, ack := decodeInvoke(t, post(invoke(t, "f:form-1", "a:hana-personal", calls[0].RespID, VerbSubmit, data, hana)))
	reqID := requestIDIn(t, cardText(ack))
	var approval teamstest.ConnCall
	for _, c := range e.fc.Calls() {
		if c.Path == "v3/conversations" && c.Body["isGroup"] == true && strings.Contains(mustString(c.Body), testChannel) {
			approval = c
		}
	}
	if s := mustString(approval.Body); !strings.Contains(s, "usable more than once, valid 4h") {
		t.Errorf("approval card does not say which pass: %s", s)
	}
	thread := testChannel + ";messageid=" + approval.RespID
	post(invoke(t, "f:approve-1", thread, approval.RespID, VerbApprove, map[string]any{"request": reqID}, alex))

	// The pass, from the 1:1 message (JSON-escaped in the wire body).
	passRe := regexp.MustCompile(`request ` + reqID + `: ((?:[^\s"\\]|\\u[0-9a-f]{4})+)\\n`)
	var pass string
	for _, c := range e.fc.Calls() {
		if m := passRe.FindStringSubmatch(mustString(c.Body)); m != nil {
			if c.Conv != "a:personal-29:hana.helpdesk" {
				t.Errorf("the pass was sent to %s %s", c.Method, c.Path)
			}
			p, err := strconv.Unquote(`"` + m[1] + `"`)
			if err != nil {
				t.Fatal(err)
			}
			pass = p
		}
	}
	if len(pass) < 8 {
		t.Fatalf("no pass reached Hana's 1:1 chat")
	}
	js, _ := json.Marshal(pass)
	forms := []string{pass, string(js[1 : len(js)-1])}
	sent := 0
	for _, c := range e.fc.Calls() {
		s := mustString(c.Body)
		for _, f := range forms {
			if strings.Contains(s, f) {
				if c.Conv != "a:personal-29:hana.helpdesk" {
					t.Errorf("the pass is in %s %s", c.Method, c.Path)
				}
				sent++
				break
			}
		}
	}
	if sent != 1 {
		t.Errorf("the pass is in %d activities, want one", sent)
	}
	for _, a := range answers {
		for _, f := range forms {
			if strings.Contains(a, f) {
				t.Errorf("the pass is in an invoke answer")
			}
		}
	}
}
