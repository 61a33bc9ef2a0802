package teams

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
	"github.com/mfadesk/mfadesk/bot/teams/teamstest"
)

// TestDisabledApproverRefused: Teams carries the caller's aadObjectId and nothing
// else; the core's caller rule decides. An approver whose directory account was
// disabled after the request was filed clicks Approve on the real card: refused with
// that cause, and Graph sees no write. A guest in the helpdesk group gets no form.
func TestDisabledApproverRefused(t *testing.T) {
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
		e.ad.msgs.Wait()
		return rec
	}
	user := func(local string) map[string]any {
		return map[string]any{"id": "29:" + local, "name": local, "aadObjectId": tenant.FindUser(tenant.Email(local)).ID()}
	}
	hana := bot.Caller{Platform: "teams", ChatID: "29:hana.helpdesk", ObjectID: stack.UserID(t, "hana.helpdesk")}
	ack := router.Submit(context.Background(), hana, bot.FormSubmission{
		Action: "revoke", Target: stack.UserID(t, "fiona.failures"), Reason: "Sign-ins from Lagos she did not make",
		Verification: "video_with_id", VerificationDetail: "Teams video, badge shown", Ticket: "INC-4712",
	})
	if ack.Refusal || ack.RequestID == "" {
		t.Fatalf("submit: %+v", ack)
	}
	var approval teamstest.ConnCall
	for _, c := range e.fc.Calls() {
		if c.Path == "v3/conversations" && c.Body["isGroup"] == true && strings.Contains(mustString(c.Body), ack.RequestID) && strings.Contains(mustString(c.Body), testChannel) {
			approval = c
		}
	}
	if approval.RespID == "" {
		t.Fatalf("no approval card: %+v", e.fc.Calls())
	}
	thread := testChannel + ";messageid=" + approval.RespID

	stack.Graph.Tenant(func(tn *graphtest.Tenant) {
		tn.FindUser(tn.Email("alex.approver")).User["accountEnabled"] = false
	})
	click := invoke(t, "f:approve-disabled", thread, approval.RespID, VerbApprove, map[string]any{"request": ack.RequestID}, user("alex.approver"))
	post(click)
	var told string
	for _, c := range e.fc.Calls() {
		told += mustString(c.Body)
	}
	if !strings.Contains(told, "Your directory account is disabled") {
		t.Errorf("the disabled approver was not told the cause:\n%s", told)
	}
	if n := graphWrites(fakeGraph); n != 0 {
		t.Fatalf("%d Graph writes after a disabled approver's click", n)
	}
	if req, err := stack.Approvals.Get(context.Background(), ack.RequestID); err != nil || req.State != "pending" {
		t.Fatalf("request after the click: %s %v", req.State, err)
	}

	// A guest in the helpdesk group asks for a form in the 1:1 chat: refused.
	stack.Graph.Tenant(func(tn *graphtest.Tenant) {
		tn.FindUser(tn.Email("hana.helpdesk")).User["userType"] = "Guest"
	})
	before := len(e.fc.Calls())
	post(setJSON(t, personalMsg(t, "revoke "+tenant.Email("mfatest2")), map[string]any{"from": user("hana.helpdesk")}))
	var answer []string
	for _, c := range e.fc.Calls()[before:] {
		if c.Conv == "a:hana-personal" {
			answer = append(answer, mustString(c.Body))
		}
	}
	if len(answer) != 1 || !strings.Contains(answer[0], "Your directory account is a guest account") || strings.Contains(answer[0], VerbSubmit) {
		t.Errorf("guest asks for a form: %v", answer)
	}
}
