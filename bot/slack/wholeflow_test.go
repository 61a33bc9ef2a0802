package slack

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
	"github.com/mfadesk/mfadesk/bot/slack/slacktest"
)

// flowEnv is the real bot: the router and approvals on bbolt (bot.Assemble), the
// Graph client against the fake tenant, and this adapter against the extended
// slacktest server, wired as serve wires them.
type flowEnv struct {
	*harness
	tenant *graphtest.Tenant
	graph  *graphtest.Server
	stack  *bottest.Stack
}

func newFlowEnv(t *testing.T) *flowEnv {
	t.Helper()
	return newFlowEnvPolicy(t, nil)
}

// newFlowEnvPolicy is newFlowEnv with the approvals policy changed by edit and,
// when given, the router and approvals on their own clock.
func newFlowEnvPolicy(t *testing.T, edit func(*approvals.Policy), stackClock ...func() time.Time) *flowEnv {
	t.Helper()
	var clock func() time.Time
	if len(stackClock) > 0 {
		clock = stackClock[0]
	}
	return newFlowEnvWith(t, edit, nil, "", clock)
}

// newFlowEnvWith is newFlowEnvPolicy with the tenant changed by editTenant, a
// security channel (when not empty) and, when not nil, the router and approvals on
// their own clock.
func newFlowEnvWith(t *testing.T, edit func(*approvals.Policy), editTenant func(*graphtest.Tenant), security string, stackClock func() time.Time) *flowEnv {
	t.Helper()
	tenant := graphtest.MustTenant("demo")
	fake := slacktest.New(t)
	for _, p := range []struct{ id, local string }{{userHana, "hana.helpdesk"}, {userAlex, "alex.approver"}, {"U0SAM", "sam.approver"}, {"U0NORA", "nora.norights"}} {
		fake.AddUser(p.id, tenant.Email(p.local), nil)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	clock := newClock()
	o := Options{
		Mode: ModeHTTP, BotToken: fake.BotToken, SigningSecret: testSecret, APIURL: fake.APIURL(), TeamID: testTeam,
		ApprovalsChannel: testApprovals, AuditChannel: testAudit, Logger: logger, Now: clock.Now,
		SecurityChannel:  security,
		ResponseURLHosts: []string{"127.0.0.1"},
		// The fake tenant answers in milliseconds; a generous budget keeps the test
		// independent of how loaded the machine is (the default is 2 s).
		SubmitBudget: 20 * time.Second,
	}
	n, err := NewNotifier(o)
	if err != nil {
		t.Fatal(err)
	}
	so := bottest.Options{Notifiers: map[bot.Platform]bot.Notifier{"slack": n}, Logger: logger, EditPolicy: edit, EditTenant: editTenant}
	if stackClock != nil {
		so.Clock = stackClock // the router's and approvals' time, apart from the adapter's
	}
	stack := bottest.New(t, so)
	o.Handler = stack.Router
	o.Resolver = stack.Router // as serve wires it
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Shutdown(sctx)
	})
	return &flowEnv{harness: &harness{t: t, fake: fake, a: a, clock: clock}, tenant: stack.Tenant, graph: stack.Graph, stack: stack}
}

// requestForm waits for the request modal to be opened and returns its latest state.
func (e *flowEnv) requestForm() *slacktest.View {
	e.t.Helper()
	var form *slacktest.View
	e.fake.WaitFor("the request form", func() bool {
		for _, v := range e.fake.Views {
			if v.View["callback_id"] == callbackRequest {
				form = v
				return true
			}
		}
		return false
	})
	return e.fake.View(form.ID)
}

func (e *flowEnv) graphWrites() int {
	n := 0
	for _, r := range e.graph.Records() {
		if r.Method == http.MethodDelete || (r.Method == http.MethodPost && strings.Contains(r.Path, "revokeSignInSessions")) {
			n++
		}
	}
	return n
}

// approvalCard waits for the approval card of a request in the approvals channel.
func (e *flowEnv) approvalCard(reqID string) *slacktest.Message {
	var card *slacktest.Message
	e.fake.WaitFor("the approval card of "+reqID, func() bool {
		for _, m := range e.fake.Messages {
			if m.Channel == testApprovals && strings.Contains(m.Text+texts(m.Blocks), reqID) {
				card = m
				return true
			}
		}
		return false
	})
	return card
}

// The whole flow with the real router: /mfa reregister → modal → request →
// approval card → self-approval and a non-approver refused privately → Approve by
// another user → Graph calls on the fake tenant → card updated in place without
// buttons → the requester told by DM → every audit event posted with the chain head.
func TestWholeFlowRealRouter(t *testing.T) {
	e := newFlowEnv(t)
	target := e.tenant.FindUser(e.tenant.Email("mfatest2"))

	// 1. The slash command opens the form (after a "checking" view).
	rec, _ := e.slash(userHana, "reregister "+e.tenant.Email("mfatest2"))
	if ack := ackJSON(t, rec); ack != nil {
		t.Fatalf("ack = %v", ack)
	}
	form := e.requestForm()
	if all := texts(form.View["blocks"]); !strings.Contains(all, target.UPN()) || !strings.Contains(all, "What this does") {
		t.Fatalf("form:\n%s", all)
	}
	choice := firstOption(t, form)

	// 2. The router's own checks come back on the failing block.
	short := e.submitView(userHana, form, map[string]string{fieldReason: "lost", fieldVerification: choice, fieldDetail: "Slack huddle, badge photo", fieldTicket: "INC-4711"})
	ack := ackJSON(t, e.interact(short))
	if errs, _ := ack["errors"].(map[string]any); ack["response_action"] != "errors" || errs[fieldReason] == nil {
		t.Fatalf("short reason ack = %v", ack)
	}

	// 3. Filed: the modal shows the request id, the approval card is posted.
	ok := e.submitView(userHana, form, map[string]string{
		fieldReason: "Lost her phone; locked out of Authenticator", fieldVerification: choice,
		fieldDetail: "Slack huddle with video, badge photo matched", fieldTicket: "INC-4711",
	})
	ack = ackJSON(t, e.interact(ok))
	filed := texts(ack["view"])
	if ack["response_action"] != "update" || !strings.Contains(filed, "filed") {
		t.Fatalf("submit ack = %v", ack)
	}
	reqID := requestIDIn(t, filed)
	card := e.approvalCard(reqID)
	cardText := card.Text + "\n" + texts(card.Blocks)
	for _, want := range []string{"INC-4711", target.UPN(), "What will run", "Lost her phone"} {
		if !strings.Contains(cardText, want) {
			t.Errorf("approval card lacks %q:\n%s", want, cardText)
		}
	}
	if last := card.Blocks[len(card.Blocks)-1]; last["type"] != "actions" {
		t.Fatalf("approval card has no buttons")
	}

	// 4. Hana cannot approve her own request; Nora is no approver. Both are told
	// privately, and nothing runs.
	for _, who := range []struct{ user, want string }{{userHana, "you filed it"}, {"U0NORA", "approver"}} {
		ic, ru := e.click(who.user, actionApprove, reqID, testApprovals, card.TS)
		e.interact(ic)
		p := e.fake.WaitResponses(ru, 1)[0]
		if p["response_type"] != "ephemeral" || !strings.Contains(strings.ToLower(p["text"].(string)), who.want) {
			t.Errorf("%s's click answered %v", who.user, p["text"])
		}
	}
	if n := e.graphWrites(); n != 0 {
		t.Fatalf("%d Graph writes after refused clicks", n)
	}

	// 5. Alex approves: Graph runs, the card is updated in place, Hana is told.
	ic, ru := e.click(userAlex, actionApprove, reqID, testApprovals, card.TS)
	e.interact(ic)
	if p := e.fake.WaitResponses(ru, 1)[0]; !strings.Contains(p["text"].(string), "approved") {
		t.Fatalf("Alex's answer: %v", p["text"])
	}
	var done *slacktest.Message
	e.fake.WaitFor("the card updated to done", func() bool {
		for _, u := range card.Updates {
			if strings.Contains(u.Text, "done") {
				done = u
				return true
			}
		}
		return false
	})
	doneText := done.Text + "\n" + texts(done.Blocks)
	if !strings.Contains(doneText, "Approved by") || !strings.Contains(doneText, "Result") {
		t.Errorf("updated card:\n%s", doneText)
	}
	for _, b := range done.Blocks {
		if b["type"] == "actions" {
			t.Fatal("the decided card still has buttons")
		}
	}
	var deleted, revoked bool
	for _, r := range e.graph.Records() {
		deleted = deleted || (r.Method == http.MethodDelete && strings.Contains(r.Path, target.ID()))
		revoked = revoked || (r.Method == http.MethodPost && strings.Contains(r.Path, "revokeSignInSessions"))
	}
	if !deleted || !revoked {
		t.Fatalf("Graph: deleted a method %v, revoked sessions %v", deleted, revoked)
	}
	e.fake.WaitFor("the DM to Hana", func() bool {
		for _, m := range e.fake.Messages {
			if m.Channel == "D0HANA" && strings.Contains(m.Text, reqID) {
				return true
			}
		}
		return false
	})
	e.fake.WaitFor("the audit trail", func() bool {
		var all []string
		for _, m := range e.fake.Messages {
			if m.Channel == testAudit {
				all = append(all, m.Text)
			}
		}
		s := strings.Join(all, "\n")
		for _, want := range []string{"request_created", "access_refused", "request_approved", "request_succeeded", "chain head #"} {
			if !strings.Contains(s, want) {
				return false
			}
		}
		return true
	})

	// 6. A second click on the old card runs nothing again.
	writes := e.graphWrites()
	ic, ru = e.click("U0SAM", actionApprove, reqID, testApprovals, card.TS)
	e.interact(ic)
	if p := e.fake.WaitResponses(ru, 1)[0]; p["response_type"] != "ephemeral" {
		t.Fatalf("late click answer: %v", p)
	}
	if n := e.graphWrites(); n != writes {
		t.Fatalf("a late click ran Graph writes (%d → %d)", writes, n)
	}
}

// Deny with a reason: the deny modal, the router's decision, the card updated and
// the requester told why.
func TestWholeFlowDeny(t *testing.T) {
	e := newFlowEnv(t)
	e.slash(userHana, "revoke "+e.tenant.Email("mfatest2"))
	form := e.requestForm()
	ack := ackJSON(t, e.interact(e.submitView(userHana, form, map[string]string{
		fieldReason: "Phone stolen at the airport this morning", fieldVerification: firstOption(t, form),
		fieldDetail: "Called back on the HR number", fieldTicket: "INC-4712",
	})))
	reqID := requestIDIn(t, texts(ack["view"]))
	card := e.approvalCard(reqID)

	ic, _ := e.click(userAlex, actionDeny, reqID, testApprovals, card.TS)
	e.interact(ic)
	var deny *slacktest.View
	e.fake.WaitFor("the deny form", func() bool {
		for _, v := range e.fake.Views {
			if v.View["callback_id"] == callbackDeny {
				deny = v
				return true
			}
		}
		return false
	})
	deny = e.fake.View(deny.ID)
	// The router wants at least a few words; its error lands on the block.
	ack = ackJSON(t, e.interact(e.submitView(userAlex, deny, map[string]string{fieldJustify: "no"})))
	if ack["response_action"] != "errors" {
		t.Fatalf("short justification ack = %v", ack)
	}
	ack = ackJSON(t, e.interact(e.submitView(userAlex, deny, map[string]string{fieldJustify: "Call-back number was not the one on record"})))
	if !strings.Contains(texts(ack["view"]), "denied") {
		t.Fatalf("deny ack = %v", ack)
	}
	e.fake.WaitFor("the card updated to denied", func() bool {
		for _, u := range card.Updates {
			if strings.Contains(u.Text, "denied") && strings.Contains(texts(u.Blocks), "Call-back number") {
				return true
			}
		}
		return false
	})
	e.fake.WaitFor("the DM to Hana", func() bool {
		for _, m := range e.fake.Messages {
			if m.Channel == "D0HANA" && strings.Contains(m.Text, reqID) && strings.Contains(m.Text, "denied") {
				return true
			}
		}
		return false
	})
	if n := e.graphWrites(); n != 0 {
		t.Fatalf("a denied request ran %d Graph writes", n)
	}
}

func firstOption(t *testing.T, v *slacktest.View) string {
	t.Helper()
	blocks, _ := v.View["blocks"].([]any)
	for _, b := range blocks {
		m, _ := b.(map[string]any)
		if m["block_id"] != fieldVerification {
			continue
		}
		el, _ := m["element"].(map[string]any)
		opts, _ := el["options"].([]any)
		if len(opts) > 0 {
			if val, ok := opts[0].(map[string]any)["value"].(string); ok {
				return val
			}
		}
	}
	t.Fatal("the form has no verification options")
	return ""
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

// Every lookup of the real router, on every seeded case, renders as Block Kit the
// fake accepts (it answers invalid_blocks otherwise), answered privately, with a
// summary in the top-level text and diagnose's findings in words.
func TestWholeFlowLookups(t *testing.T) {
	e := newFlowEnv(t)
	users := []string{"mfatest1", "mfatest2", "casey.ca", "olive.optin", "paul.password", "fiona.failures", "ada.admin"}
	verbs := []string{"user", "methods", "status", "signins --last 50", "audit --days 30", "diagnose"}
	for _, u := range users {
		for _, v := range verbs {
			t.Run(u+"/"+v, func(t *testing.T) {
				verb, flags, _ := strings.Cut(v, " ")
				rec, ru := e.slash(userHana, strings.TrimSpace(verb+" "+e.tenant.Email(u)+" "+flags))
				if ack := ackJSON(t, rec); !strings.Contains(ack["text"].(string), "Looking that up") {
					t.Fatalf("ack = %v", ack)
				}
				p := e.fake.WaitResponses(ru, 1)[0]
				text, _ := p["text"].(string)
				blocks, _ := p["blocks"].([]any)
				if p["response_type"] != "ephemeral" || strings.TrimSpace(text) == "" || len(blocks) == 0 {
					t.Fatalf("answer = %v", p)
				}
				if strings.HasPrefix(texts(blocks), ":no_entry:") {
					t.Fatalf("refused: %s", text)
				}
				if verb == "diagnose" {
					all := texts(blocks)
					if !strings.Contains(all, "*Problem:*") && !strings.Contains(all, "*Warning:*") && !strings.Contains(all, "*Info:*") {
						t.Errorf("diagnose shows no finding with its severity in words:\n%s", all)
					}
				}
			})
		}
	}
}

// A click whose button names a request whose card is another message — another
// card's ts in the approvals channel, or a message in a DM — is refused privately
// and runs nothing, for Approve and for the Deny form opened from it; the click on
// the request's own card then approves. Before the check, the router decided
// whatever request the button's value named.
func TestDecisionOnAnotherMessage(t *testing.T) {
	e := newFlowEnv(t)
	e.slash(userHana, "revoke "+e.tenant.Email("mfatest2"))
	form := e.requestForm()
	ack := ackJSON(t, e.interact(e.submitView(userHana, form, map[string]string{
		fieldReason: "Phone stolen at the airport this morning", fieldVerification: firstOption(t, form),
		fieldDetail: "Called back on the HR number", fieldTicket: "INC-4712",
	})))
	reqID := requestIDIn(t, texts(ack["view"]))
	card := e.approvalCard(reqID)

	for _, where := range []struct{ name, channel, ts string }{
		{"another message in the approvals channel", testApprovals, "1700000999.000001"},
		{"a DM", "D0ALEX", card.TS},
	} {
		ic, ru := e.click(userAlex, actionApprove, reqID, where.channel, where.ts)
		e.interact(ic)
		if p := e.fake.WaitResponses(ru, 1)[0]; p["response_type"] != "ephemeral" || !strings.Contains(p["text"].(string), "not on the approval card") {
			t.Errorf("%s: answer %v", where.name, p)
		}
	}
	// Deny opened on another message: the form's signed metadata carries that message.
	ic, _ := e.click(userAlex, actionDeny, reqID, testApprovals, "1700000999.000001")
	e.interact(ic)
	var deny *slacktest.View
	e.fake.WaitFor("the deny form", func() bool {
		for _, v := range e.fake.Views {
			if v.View["callback_id"] == callbackDeny {
				deny = v
				return true
			}
		}
		return false
	})
	deny = e.fake.View(deny.ID)
	ack = ackJSON(t, e.interact(e.submitView(userAlex, deny, map[string]string{fieldJustify: "Call-back number was not the one on record"})))
	if !strings.Contains(texts(ack["view"]), "not on the approval card") {
		t.Fatalf("deny from another message: %v", ack)
	}
	if n := e.graphWrites(); n != 0 {
		t.Fatalf("%d Graph writes after refused clicks", n)
	}
	for _, u := range card.Updates {
		if strings.Contains(u.Text, "denied") || strings.Contains(u.Text, "approved") {
			t.Fatalf("the card changed: %s", u.Text)
		}
	}
	// On its own card the request is still pending and the click counts.
	ic, ru := e.click(userAlex, actionApprove, reqID, testApprovals, card.TS)
	e.interact(ic)
	if p := e.fake.WaitResponses(ru, 1)[0]; !strings.Contains(p["text"].(string), "approved") {
		t.Fatalf("approve on its card: %v", p["text"])
	}
}
