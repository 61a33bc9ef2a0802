package teams

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
)

// TestManagerAttestsInTeams: filing a re-register sends the target's manager a
// proactive 1:1 card with one field and "This is not them"; a short line comes back
// as the card with its error; the manager's line, submitted from the card, is
// recorded as performed evidence from Teams; a second submission is refused.
func TestManagerAttestsInTeams(t *testing.T) {
	e := newEnv(t)
	stack := bottest.New(t, bottest.Options{Notifiers: map[bot.Platform]bot.Notifier{"teams": e.ad},
		EditTenant: func(tn *graphtest.Tenant) {
			tn.FindUser(tn.Email("mfatest2")).Manager = tn.FindUser(tn.Email("nora.norights")).ID()
		},
		EditPolicy: func(p *approvals.Policy) { p.MinEvidence = approvals.DefaultMinEvidence() }})
	tenant := stack.Tenant
	h := e.ad.Handler(stack.Router)
	post := func(body []byte) string {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/api/messages", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+e.bfToken(vectorSvc))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Body.String()
	}
	hanaU, noraU, target := tenant.FindUser(tenant.Email("hana.helpdesk")), tenant.FindUser(tenant.Email("nora.norights")), tenant.FindUser(tenant.Email("mfatest2"))
	hana := bot.Caller{Platform: "teams", ChatID: "29:hana", Name: "hana", ObjectID: hanaU.ID()}
	nora := map[string]any{"id": "29:nora", "name": "Nora", "aadObjectId": noraU.ID()}
	ans := stack.Router.Submit(t.Context(), hana, bot.FormSubmission{Action: "reregister", Target: target.ID(), Reason: "Lost her phone; locked out of Authenticator",
		Verification: "video_with_id", VerificationDetail: "Teams video, badge photo matched", Ticket: "INC-4711"})
	if !strings.Contains(ans.Text, "The manager, Nora Norights, was asked in Teams to attest") {
		t.Fatalf("agent's answer: %s", ans.Text)
	}
	reqID := requestIDIn(t, ans.Text)
	conv := "a:personal-" + noraU.ID()
	var card Card
	for _, c := range e.fc.Calls() {
		if c.Conv == conv && c.Method == http.MethodPost {
			card = attachedCard(t, c.Body)
		}
	}
	var submit map[string]any
	var notThem string
	hasInput := false
	for _, el := range card.Body {
		hasInput = hasInput || el.Type == "Input.Text" && el.ID == inputReason
		for _, a := range el.Actions {
			switch a.Verb {
			case VerbSubmit:
				submit = a.Data
			case "not_me":
				notThem, _ = a.Data["request"].(string)
			}
		}
	}
	if !hasInput || submit == nil || !strings.HasPrefix(notThem, "M-") || !strings.Contains(cardText(card), reqID) {
		t.Fatalf("manager's card: %s", cardText(card))
	}
	for i, c := range []struct{ line, want string }{
		{"saw her", "in at least 10 characters"},
		{"saw her in person at desk 4", "Thank you"},
		{"saw her in person at desk 4", "already"},
	} {
		data := map[string]any{inputReason: c.line}
		for k, v := range submit {
			data[k] = v
		}
		if got := post(invoke(t, "f:attest-"+string(rune('a'+i)), conv, "1", VerbSubmit, data, nora)); !strings.Contains(got, c.want) {
			t.Fatalf("submission %d: %s, want %q", i, got, c.want)
		}
	}
	r, _ := stack.Approvals.Get(t.Context(), reqID)
	if len(r.Performed) != 1 || r.Performed[0].Method != approvals.MethodManagerAttestation || r.Performed[0].Platform != "teams" {
		t.Fatalf("performed %+v", r.Performed)
	}
}
