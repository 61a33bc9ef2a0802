package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/teams/teamstest"
)

const vectorSvc = "https://smba.trafficmanager.net/amer/50612dbb-0237-4969-b378-8d42590f9c00/"

// personalMsg is a 1:1 message of the vectors' shape, in the channel vector's tenant.
func personalMsg(t *testing.T, text string) []byte {
	return activityJSON(t, map[string]any{
		"type": "message", "channelId": "msteams", "id": "1772400000001", "text": text, "serviceUrl": vectorSvc,
		"from":         map[string]any{"id": "29:hana", "name": "Hana Helpdesk", "aadObjectId": "aaaaaaaa-0000-0000-0000-000000000001"},
		"recipient":    map[string]any{"id": "28:" + testAppID, "name": "mfadesk"},
		"conversation": map[string]any{"id": "a:hana-personal", "conversationType": "personal", "tenantId": testTenant},
		"channelData":  map[string]any{"tenant": map[string]any{"id": testTenant}},
	})
}

// invoke is an adaptiveCard/action invoke of the invoke vector's shape.
func invoke(t *testing.T, id, conv, replyTo, verb string, data map[string]any, from map[string]any) []byte {
	convType := "personal"
	if strings.HasPrefix(conv, "19:") {
		convType = "channel"
	}
	return activityJSON(t, map[string]any{
		"type": "invoke", "name": "adaptiveCard/action", "channelId": "msteams", "id": id, "serviceUrl": vectorSvc,
		"from":         from,
		"recipient":    map[string]any{"id": "28:" + testAppID, "name": "mfadesk"},
		"conversation": map[string]any{"id": conv, "conversationType": convType, "tenantId": testTenant},
		"channelData":  map[string]any{"tenant": map[string]any{"id": testTenant}, "source": map[string]any{"name": "message"}},
		"replyToId":    replyTo,
		"value":        map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
	})
}

var (
	hana = map[string]any{"id": "29:hana", "name": "Hana Helpdesk", "aadObjectId": "aaaaaaaa-0000-0000-0000-000000000001"}
	alex = map[string]any{"id": "29:alex", "name": "Alex Approver", "aadObjectId": "aaaaaaaa-0000-0000-0000-000000000002"}
)

func decodeInvoke(t *testing.T, rec *httptest.ResponseRecorder) (InvokeResponse, Card) {
	t.Helper()
	if rec.Code != 200 {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("content type %q", ct)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	// Exactly the AdaptiveCardInvokeResponse, not wrapped in anything.
	for k := range raw {
		if k != "statusCode" && k != "type" && k != "value" {
			t.Errorf("unexpected key %q in the invoke response", k)
		}
	}
	var r InvokeResponse
	var c Card
	_ = json.Unmarshal(raw["statusCode"], &r.StatusCode)
	_ = json.Unmarshal(raw["type"], &r.Type)
	if r.Type == CardContentType {
		if err := json.Unmarshal(raw["value"], &c); err != nil {
			t.Fatal(err)
		}
		r.Value = c
	} else {
		var v any
		_ = json.Unmarshal(raw["value"], &v)
		r.Value = v
	}
	return r, c
}

func cardText(c Card) string {
	b, _ := json.Marshal(c)
	return string(b)
}

// In a channel, a lookup's answer goes to the caller's 1:1 chat; the thread gets only
// a pointer with no data in it.
func TestChannelLookupAnswersPrivately(t *testing.T) {
	e := newEnv(t)
	e.router.handle = func(ev bot.Event) bot.Message {
		return bot.Message{Private: true, Title: "User Alice", Text: "Alice (alice@contoso.com): enabled.",
			Sections: []bot.Section{{Facts: []bot.Fact{{Label: "UPN", Value: "alice@contoso.com"}, {Label: "Phone", Value: "+1 555 0100"}}}}}
	}
	if rec := e.post(readVector(t, "channel-message-activity.json")); rec.Code != 200 || rec.Body.Len() != 0 {
		t.Fatalf("HTTP %d %q", rec.Code, rec.Body)
	}
	calls := e.fc.Calls()
	if len(calls) != 3 {
		t.Fatalf("calls: %+v", calls)
	}
	create, private, pointer := calls[0], calls[1], calls[2]
	if create.Path != "v3/conversations" || create.Body["isGroup"] != false || create.Host != "smba.trafficmanager.net" {
		t.Errorf("create: %+v", create)
	}
	members := create.Body["members"].([]any)
	if m := members[0].(map[string]any); m["id"] != "29:17bUvCasIPKfQIXHvNzcPjD86fwm6GkWc1PvCGP2-NSkNb7AyGYpjQ7Xw-XgTwaHW5JxZ4KMNDxn1kcL8fwX1Nw" || create.Body["tenantId"] != testTenant {
		t.Errorf("1:1 member %v tenant %v", m, create.Body["tenantId"])
	}
	if !strings.HasPrefix(private.Conv, "a:personal-") || !strings.Contains(mustString(private.Body), "+1 555 0100") {
		t.Errorf("private answer: %+v", private)
	}
	if pointer.Conv != "19:6848757105754c8981c67612732d9aa7@thread.tacv2;messageid=1759881511856" || pointer.ActID != "1759944781430" {
		t.Errorf("pointer went to %q / %q", pointer.Conv, pointer.ActID)
	}
	if s := mustString(pointer.Body); strings.Contains(s, "alice") || strings.Contains(s, "555") || !strings.Contains(s, "1:1 chat") {
		t.Errorf("channel pointer carries data: %s", s)
	}
}

func mustString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestChannelPrivateAnswerFails(t *testing.T) {
	e := newEnv(t)
	e.fc.Inject(teamstest.Fault{Status: 403})
	e.post(readVector(t, "channel-message-activity.json"))
	calls := e.fc.Calls()
	if len(calls) != 2 {
		t.Fatalf("calls: %+v", calls)
	}
	if s := mustString(calls[1].Body); !strings.Contains(s, "could not message you privately") || strings.Contains(s, `"ok"`) {
		t.Errorf("fallback note %s", s)
	}
}

func TestPersonalCommand(t *testing.T) {
	e := newEnv(t)
	e.post(personalMsg(t, "  diagnose mfatest2@contoso.com "))
	if len(e.router.events) != 1 || e.router.events[0].Text != "diagnose mfatest2@contoso.com" {
		t.Fatalf("events %+v", e.router.events)
	}
	calls := e.fc.Calls()
	if len(calls) != 1 || calls[0].Conv != "a:hana-personal" || calls[0].ActID != "1772400000001" {
		t.Fatalf("reply: %+v", calls)
	}
	if calls[0].Body["text"] != "ok" || calls[0].Body["textFormat"] != "plain" {
		t.Errorf("a one-line answer is plain text: %v", calls[0].Body)
	}
}

// A non-private answer (e.g. a public acknowledgement) stays in the thread.
func TestChannelPublicAnswer(t *testing.T) {
	e := newEnv(t)
	e.router.handle = func(bot.Event) bot.Message { return bot.Message{Text: "Everyone may see this."} }
	e.post(readVector(t, "channel-message-activity.json"))
	calls := e.fc.Calls()
	if len(calls) != 1 || !strings.HasPrefix(calls[0].Conv, "19:6848757105754c8981c67612732d9aa7@thread.tacv2") {
		t.Fatalf("calls %+v", calls)
	}
}

func TestRequestForm(t *testing.T) {
	e := newEnv(t)
	form := &bot.Form{Action: "reregister", Target: "mfatest2@contoso.com", TargetLabel: "MFA Test 2 (mfatest2@contoso.com)",
		Warning:       "Deletes every MFA method.",
		Verifications: []bot.Choice{{Value: "video_with_id", Label: "Video call with photo ID"}, {Value: "callback_to_number_on_record", Label: "Call-back"}}}
	e.router.handle = func(bot.Event) bot.Message {
		return bot.Message{Private: true, Text: "Fill in the request.", Form: form}
	}
	e.post(personalMsg(t, "reregister mfatest2@contoso.com"))
	calls := e.fc.Calls()
	if len(calls) != 1 {
		t.Fatalf("calls %+v", calls)
	}
	s := mustString(calls[0].Body)
	for _, want := range []string{`"Input.Text"`, `"id":"reason"`, `"Input.ChoiceSet"`, `"id":"verification"`, `"id":"verification_detail"`, `"id":"ticket"`,
		`"verb":"submit"`, `"type":"Action.Execute"`, `"version":"1.5"`, `"fallbackText":"Fill in the request."`, "Video call with photo ID"} {
		if !strings.Contains(s, want) {
			t.Errorf("form lacks %s", want)
		}
	}

	// Submitted with a problem: the form comes back with the error on the field and what
	// was typed.
	e.router.submit = func(c bot.Caller, f bot.FormSubmission) bot.Message {
		if f.Ticket == "" {
			return bot.Message{Text: "The request needs a ticket id.", Refusal: true, Private: true, Errors: bot.FieldErrors{"ticket": "Give the ticket id."}}
		}
		return bot.Message{Text: "Request R-7KQ2M4XD filed; an approver has been asked.", Private: true, RequestID: "R-7KQ2M4XD",
			Sections: []bot.Section{{Facts: []bot.Fact{{Label: "Request", Value: "R-7KQ2M4XD"}}}}}
	}
	data := map[string]any{"mfadesk": "submit", "action": "reregister", "target": "mfatest2@contoso.com", "label": "MFA Test 2",
		"choices": []map[string]string{{"title": "Video call with photo ID", "value": "video_with_id"}},
		"reason":  "lost phone", "verification": "video_with_id", "verification_detail": "Teams video, passport"}
	r, c := decodeInvoke(t, e.post(invoke(t, "f:inv-1", "a:hana-personal", calls[0].ActID, "submit", data, hana)))
	if r.StatusCode != 200 || r.Type != CardContentType {
		t.Fatalf("response %+v", r)
	}
	cs := cardText(c)
	if !strings.Contains(cs, "Give the ticket id.") || !strings.Contains(cs, `"value":"lost phone"`) || !strings.Contains(cs, "Video call with photo ID") {
		t.Errorf("re-rendered form: %s", cs)
	}
	sub := e.router.submits[0]
	if sub.Action != "reregister" || sub.Target != "mfatest2@contoso.com" || sub.Reason != "lost phone" || sub.Verification != "video_with_id" || sub.VerificationDetail != "Teams video, passport" {
		t.Errorf("submission %+v", sub)
	}
	if e.router.callers[1].ObjectID != "aaaaaaaa-0000-0000-0000-000000000001" {
		t.Errorf("submitter %+v", e.router.callers[1])
	}

	data["ticket"] = "INC-4711"
	_, c = decodeInvoke(t, e.post(invoke(t, "f:inv-2", "a:hana-personal", calls[0].ActID, "submit", data, hana)))
	if !strings.Contains(cardText(c), "R-7KQ2M4XD filed") {
		t.Errorf("acknowledgement card: %s", cardText(c))
	}
}

// approvalCard is what the router would post for a pending request.
func approvalCard(id string) bot.Message {
	return bot.Message{Text: "Hana asks to re-register MFA of MFA Test 2.", Title: "Approval needed: reregister", RequestID: id,
		Sections: []bot.Section{{Facts: []bot.Fact{{Label: "Target", Value: "mfatest2@contoso.com"}, {Label: "Requester", Value: "Hana Helpdesk"}}}},
		Buttons:  []bot.Button{{Kind: bot.ButtonApprove, Label: "Approve", Value: id}, {Kind: bot.ButtonDeny, Label: "Deny", Value: id}}}
}

func decidedCard(id, by string) bot.Message {
	return bot.Message{Text: "Approved by " + by, Title: "Approved: reregister", RequestID: id,
		Sections: []bot.Section{{Facts: []bot.Fact{{Label: "Approved by", Value: by}, {Label: "Result", Value: "done"}}}}}
}

// Approve via Action.Execute: the invoke response is the updated card, the card is
// PUT for everyone, and a retried invoke does not decide twice.
func TestApproveInvoke(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ref, err := e.ad.PostApproval(ctx, approvalCard("R-7KQ2M4XD"))
	if err != nil {
		t.Fatal(err)
	}
	decided := 0
	e.router.decide = func(ctx context.Context, c bot.Caller, d bot.Decision) bot.Message {
		if decided > 0 {
			return bot.Refuse("R-7KQ2M4XD was already approved.")
		}
		decided++
		if err := e.ad.UpdateApproval(ctx, ref, decidedCard(d.RequestID, c.Name)); err != nil {
			t.Error(err)
		}
		return bot.Message{Text: "Approved.", Private: true}
	}
	click := invoke(t, "f:click-1", ref.Channel, ref.ID, "approve", map[string]any{"mfadesk": "approve", "request": "R-7KQ2M4XD", "justification": ""}, alex)
	r, c := decodeInvoke(t, e.post(click))
	if r.StatusCode != 200 || r.Type != CardContentType || !strings.Contains(cardText(c), "Approved by Alex Approver") {
		t.Fatalf("response %+v %s", r, cardText(c))
	}
	if strings.Contains(cardText(c), "Action.Execute") {
		t.Error("the decided card still has buttons")
	}
	var put *teamstest.ConnCall
	for _, call := range e.fc.Calls() {
		if call.Method == http.MethodPut {
			put = &call
		}
	}
	if put == nil || put.Conv != ref.Channel || put.ActID != ref.ID || !strings.Contains(mustString(put.Body), "Approved by Alex Approver") {
		t.Fatalf("PUT %+v", put)
	}
	d := e.router.decisions[0]
	if d.RequestID != "R-7KQ2M4XD" || !d.Approve || e.router.callers[0].ObjectID != "aaaaaaaa-0000-0000-0000-000000000002" {
		t.Errorf("decision %+v by %+v", d, e.router.callers[0])
	}

	// Teams re-sends the same invoke: no second decision, the answer is the card as it is.
	r2, c2 := decodeInvoke(t, e.post(click))
	if _, _, n := e.router.counts(); n != 1 {
		t.Fatalf("decided %d times", n)
	}
	if r2.Type != CardContentType || cardText(c2) != cardText(c) {
		t.Errorf("retry answer %s", cardText(c2))
	}
	// A new click (another id) reaches the router, which refuses; the clicker sees the
	// card as it is with the refusal under it.
	_, c3 := decodeInvoke(t, e.post(invoke(t, "f:click-2", ref.Channel, ref.ID, "approve", map[string]any{"request": "R-7KQ2M4XD"}, alex)))
	if s := cardText(c3); !strings.Contains(s, "Approved by Alex Approver") || !strings.Contains(s, "already approved") {
		t.Errorf("second click answer %s", s)
	}
}

func TestDenyNeedsJustification(t *testing.T) {
	e := newEnv(t)
	ref, err := e.ad.PostApproval(context.Background(), approvalCard("R-DENY0001"))
	if err != nil {
		t.Fatal(err)
	}
	_, c := decodeInvoke(t, e.post(invoke(t, "f:deny-1", ref.Channel, ref.ID, "deny", map[string]any{"request": "R-DENY0001", "justification": "  "}, alex)))
	if _, _, n := e.router.counts(); n != 0 {
		t.Fatal("a deny without justification reached the router")
	}
	if s := cardText(c); !strings.Contains(s, "A justification is required to deny.") || !strings.Contains(s, `"verb":"deny"`) {
		t.Errorf("card %s", s)
	}
	decodeInvoke(t, e.post(invoke(t, "f:deny-2", ref.Channel, ref.ID, "deny", map[string]any{"request": "R-DENY0001", "justification": "caller could not be verified"}, alex)))
	if len(e.router.decisions) != 1 || e.router.decisions[0].Approve || e.router.decisions[0].Justification != "caller could not be verified" {
		t.Errorf("decisions %+v", e.router.decisions)
	}
}

// A click whose work outlasts InvokeWait is answered at once ("working on it") and the
// card is updated for everyone when the work ends.
func TestSlowDecision(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.InvokeWait = 1 }) // 1ns: answer without waiting
	ref, err := e.ad.PostApproval(context.Background(), approvalCard("R-SLOW0001"))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	e.router.decide = func(ctx context.Context, c bot.Caller, d bot.Decision) bot.Message {
		<-release
		_ = e.ad.UpdateApproval(ctx, ref, decidedCard(d.RequestID, c.Name))
		return bot.Message{Text: "Approved."}
	}
	_, c := decodeInvoke(t, e.post(invoke(t, "f:slow-1", ref.Channel, ref.ID, "approve", map[string]any{"request": "R-SLOW0001"}, alex)))
	if s := cardText(c); !strings.Contains(s, "Working on it") || !strings.Contains(s, "Approval needed") {
		t.Errorf("interim answer %s", s)
	}
	close(release)
	_ = e.ad.Close() // waits for the click's work
	var puts int
	for _, call := range e.fc.Calls() {
		if call.Method == http.MethodPut {
			puts++
		}
	}
	if puts != 1 {
		t.Errorf("%d PUTs", puts)
	}
}

// Action.Submit (clients without Universal Actions) arrives as a message with value.
func TestActionSubmitFallback(t *testing.T) {
	e := newEnv(t)
	ref, err := e.ad.PostApproval(context.Background(), approvalCard("R-SUBMIT01"))
	if err != nil {
		t.Fatal(err)
	}
	e.router.decide = func(ctx context.Context, c bot.Caller, d bot.Decision) bot.Message {
		return bot.Refuse("You cannot approve your own request.")
	}
	msg := activityJSON(t, map[string]any{
		"type": "message", "channelId": "msteams", "id": "f:submit-1", "serviceUrl": vectorSvc, "text": "",
		"from": hana, "recipient": map[string]any{"id": "28:" + testAppID},
		"conversation": map[string]any{"id": ref.Channel, "conversationType": "channel", "isGroup": true, "tenantId": testTenant},
		"channelData":  map[string]any{"tenant": map[string]any{"id": testTenant}, "channel": map[string]any{"id": testChannel}},
		"replyToId":    ref.ID,
		"value":        map[string]any{"mfadesk": "approve", "request": "R-SUBMIT01", "justification": ""},
	})
	before := len(e.fc.Calls())
	if rec := e.post(msg); rec.Code != 200 || rec.Body.Len() != 0 {
		t.Fatalf("HTTP %d %q", rec.Code, rec.Body)
	}
	if len(e.router.decisions) != 1 || !e.router.decisions[0].Approve {
		t.Fatalf("decisions %+v", e.router.decisions)
	}
	after := e.fc.Calls()[before:]
	if len(after) != 2 || !strings.HasPrefix(after[1].Conv, "a:personal-29:hana") || !strings.Contains(mustString(after[1].Body), "own request") {
		t.Errorf("refusal not told privately: %+v", after)
	}
	e.post(msg) // re-sent by the connector
	if len(e.router.decisions) != 1 {
		t.Error("a re-sent Action.Submit decided twice")
	}
}

// The real invoke vector (a card we did not send: no verb) gets an error invoke
// response, not a decision; the messageBack vector (value of another card) is ignored.
func TestForeignCardClicks(t *testing.T) {
	t.Run("invoke vector", func(t *testing.T) {
		e := newEnv(t, func(o *Options) {
			o.AppID = "aabdbd62-bc97-4afb-83ee-575594577de5"
			o.TenantID = "56653e9d-2158-46ee-90d7-675c39642038"
		})
		e.appID = "aabdbd62-bc97-4afb-83ee-575594577de5"
		r, _ := decodeInvoke(t, e.post(readVector(t, "adaptivecard-action-invoke.json")))
		if r.StatusCode != 400 || r.Type != "application/vnd.microsoft.error" {
			t.Errorf("response %+v", r)
		}
		if ev, sub, dec := e.router.counts(); ev+sub+dec != 0 {
			t.Error("router called")
		}
	})
	t.Run("messageBack vector", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.TenantID = "bec8e231-67ad-484e-87f4-3e5438390a77" })
		raw := bytes.Replace(readVector(t, "action-submit-messageback-message.json"), []byte(`"1575667808184",`), []byte(`"1575667808184"`), 1)
		if rec := e.post(raw); rec.Code != 200 {
			t.Fatalf("HTTP %d", rec.Code)
		}
		if ev, _, _ := e.router.counts(); ev != 0 || len(e.fc.Calls()) != 0 {
			t.Error("another card's click was treated as a command")
		}
	})
}

func TestHTTPEdges(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxBodyBytes = 2048 })
	t.Run("GET", func(t *testing.T) {
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/messages", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("HTTP %d", rec.Code)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		big := personalMsg(t, strings.Repeat("x", 4096))
		if rec := e.post(big); rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("HTTP %d", rec.Code)
		}
	})
	t.Run("malformed body with a valid token", func(t *testing.T) {
		if rec := e.post([]byte(`{"type":`), "Bearer "+e.bfToken(vectorSvc)); rec.Code != http.StatusBadRequest {
			t.Errorf("HTTP %d", rec.Code)
		}
	})
	t.Run("conversationUpdate is acknowledged", func(t *testing.T) {
		b := setJSON(t, readVector(t, "channel-message-activity.json"), map[string]any{"type": "conversationUpdate", "text": ""})
		if rec := e.post(b); rec.Code != 200 {
			t.Errorf("HTTP %d", rec.Code)
		}
	})
	t.Run("other invokes are not implemented", func(t *testing.T) {
		b := setJSON(t, readVector(t, "channel-message-activity.json"), map[string]any{"type": "invoke", "name": "task/fetch"})
		if rec := e.post(b); rec.Code != http.StatusNotImplemented {
			t.Errorf("HTTP %d", rec.Code)
		}
	})
	if ev, sub, dec := e.router.counts(); ev+sub+dec != 0 {
		t.Errorf("router called %d/%d/%d", ev, sub, dec)
	}
}

// A message is acknowledged before it is answered: a slow lookup must not hold the
// connector's HTTP request (it retries what it gets no timely answer to).
func TestMessageAcknowledgedBeforeAnswer(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	e.router.handle = func(bot.Event) bot.Message {
		<-release
		return bot.Message{Text: "slow answer", Private: true}
	}
	body := personalMsg(t, "diagnose mfatest2@contoso.com")
	a, err := DecodeActivity(body)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/api/messages", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.bfToken(a.ServiceURL))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req) // returns while the router is still blocked
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if n := len(e.fc.Calls()); n != 0 {
		t.Fatalf("%d connector calls before the answer was ready", n)
	}
	close(release)
	e.ad.msgs.Wait()
	calls := e.fc.Calls()
	if len(calls) == 0 || !strings.Contains(mustString(calls[len(calls)-1].Body), "slow answer") {
		t.Fatalf("the answer was not sent: %+v", calls)
	}
}
