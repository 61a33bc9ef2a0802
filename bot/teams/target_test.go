package teams

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
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
