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

// TestFileAndCancelButtons, with the real router through the fake connector:
// diagnose's card carries "File a request", whose Action.Execute brings the same form
// card as typing the verb; the filed confirmation carries "Cancel request" and the
// spoken id; a forged value and another person's click are refused, the requester's
// cancels (audited) and nothing runs.
func TestFileAndCancelButtons(t *testing.T) {
	e := newEnv(t)
	stack := bottest.New(t, bottest.Options{Notifiers: map[bot.Platform]bot.Notifier{"teams": e.ad}})
	tenant, router := stack.Tenant, stack.Router
	h := e.ad.Handler(router)
	post := func(body []byte) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/api/messages", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+e.bfToken(vectorSvc))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		e.ad.msgs.Wait()
		return rec
	}
	user := func(local string) map[string]any {
		u := tenant.FindUser(tenant.Email(local))
		return map[string]any{"id": "29:" + local, "name": local, "aadObjectId": u.ID()}
	}
	hana, alex := user("hana.helpdesk"), user("alex.approver")
	target := tenant.FindUser(tenant.Email("mfatest2"))

	post(setJSON(t, personalMsg(t, "diagnose "+tenant.Email("mfatest2")), map[string]any{"from": hana}))
	calls := e.fc.Calls()
	if len(calls) != 1 {
		t.Fatalf("diagnose replies: %+v", calls)
	}
	file := findAction(t, attachedCard(t, calls[0].Body), VerbFile)
	if file.Data[dataCommandKey] != "reregister "+target.ID() {
		t.Fatalf("File button data %v", file.Data)
	}

	r, _ := decodeInvoke(t, post(invoke(t, "f:file-1", "a:hana-personal", calls[0].RespID, VerbFile, map[string]any{dataCommandKey: file.Data[dataCommandKey]}, hana)))
	if r.Type != typeMessage {
		t.Fatalf("File click answered %+v; the diagnosis must stay", r)
	}
	calls = e.fc.Calls()
	form := attachedCard(t, calls[len(calls)-1].Body)
	submit := findAction(t, form, VerbSubmit)
	if submit.Data["target"] != target.ID() || submit.Data["action"] != "reregister" {
		t.Fatalf("form from the File button: %v", submit.Data)
	}
	data := map[string]any{}
	for k, v := range submit.Data {
		data[k] = v
	}
	data["reason"] = "Lost her phone; locked out of Authenticator"
	data["verification"] = "video_with_id"
	data["verification_detail"] = "Teams video, badge photo matched"
	data["ticket"] = "INC-4711"
	_, ack := decodeInvoke(t, post(invoke(t, "f:form-1", "a:hana-personal", calls[len(calls)-1].RespID, VerbSubmit, data, hana)))
	reqID := requestIDIn(t, cardText(ack))
	cancel := findAction(t, ack, VerbCancel)
	if cancel.Data[dataCommandKey] != reqID || !strings.Contains(cardText(ack), approvals.SpokenID(reqID)) {
		t.Fatalf("confirmation's Cancel %v, text %s", cancel.Data, cardText(ack))
	}

	tests := []struct {
		name  string
		from  map[string]any
		verb  string
		value string
		want  string
	}{
		{"forged cancel value", hana, VerbCancel, "approve " + reqID, "does not belong to mfadesk"},
		{"forged file value", hana, VerbFile, "user " + target.ID(), "does not belong to mfadesk"},
		{"someone else cancels", alex, VerbCancel, reqID, "requester"},
		{"the requester cancels", hana, VerbCancel, reqID, "cancelled"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, c := decodeInvoke(t, post(invoke(t, "f:click-"+string(rune('a'+i)), "a:hana-personal", "conf-1", tc.verb, map[string]any{dataCommandKey: tc.value}, tc.from)))
			got := cardText(c)
			if s, ok := r.Value.(string); ok {
				got = s
			}
			if !strings.Contains(strings.ToLower(got), tc.want) {
				t.Fatalf("answer %+v %s, want %q", r, got, tc.want)
			}
		})
	}
	var audited bool
	for _, c := range e.fc.Calls() {
		audited = audited || (c.Path == "v3/conversations" && strings.Contains(mustString(c.Body), auditChannel) && strings.Contains(mustString(c.Body), "request_cancelled"))
	}
	if !audited {
		t.Error("the cancel by button is not in the audit channel")
	}
	if n := graphWrites(stack.Graph); n != 0 {
		t.Fatalf("a cancelled request ran %d Graph writes", n)
	}
}

// TestCancelButtonSubmitFallback: a client without Action.Execute sends the Cancel
// button as an Action.Submit message; it runs the same command, once (the connector
// may re-send it), and the answer replaces the confirmation card.
func TestCancelButtonSubmitFallback(t *testing.T) {
	e := newEnv(t)
	const id = "R-DS7OXVBT5TAXQ3MZJ6KLPWN2YA"
	e.router.handle = func(ev bot.Event) bot.Message {
		return bot.Message{Text: "Request " + id + " is cancelled.", Private: true, RequestID: id}
	}
	msg := activityJSON(t, map[string]any{
		"type": "message", "channelId": "msteams", "id": "f:cancel-1", "serviceUrl": vectorSvc, "text": "",
		"from": hana, "recipient": map[string]any{"id": "28:" + testAppID},
		"conversation": map[string]any{"id": "a:hana-personal", "conversationType": "personal", "tenantId": testTenant},
		"channelData":  map[string]any{"tenant": map[string]any{"id": testTenant}},
		"replyToId":    "conf-1",
		"value":        map[string]any{"mfadesk": VerbCancel, dataCommandKey: strings.ToLower(approvals.SpokenID(id))},
	})
	before := len(e.fc.Calls())
	e.post(msg)
	e.post(msg) // re-sent by the connector
	e.ad.msgs.Wait()
	if len(e.router.events) != 1 || e.router.events[0].Text != "cancel "+id {
		t.Fatalf("router events %+v", e.router.events)
	}
	after := e.fc.Calls()[before:]
	if len(after) != 1 || after[0].Method != http.MethodPut || after[0].ActID != "conf-1" || !strings.Contains(mustString(after[0].Body), "is cancelled") {
		t.Errorf("the confirmation was not replaced: %+v", after)
	}
}
