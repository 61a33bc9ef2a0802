package slack

import (
	"encoding/json"
	"github.com/mfadesk/mfadesk/bot/slack/slacktest"
	"regexp"
	"strings"
	"testing"
)

// TestTAPOnlyInTheRequestersDM: /mfa tap through Slack: the modal is titled for the
// pass, the approval card says what will happen without a pass, and after Approve the
// pass reaches Hana in a direct message, once, and no other Slack message, card
// update, ephemeral answer or view.
func TestTAPOnlyInTheRequestersDM(t *testing.T) {
	e := newFlowEnv(t)
	e.slash(userHana, "tap "+e.tenant.Email("mfatest2")+" --lifetime 90m --once")
	form := e.requestForm()
	if title, _ := json.Marshal(form.View["title"]); !strings.Contains(string(title), "Temporary Access Pass") {
		t.Errorf("modal title = %s", title)
	}
	choice := firstOption(t, form)
	ack := ackJSON(t, e.interact(e.submitView(userHana, form, map[string]string{
		fieldReason: "Locked out after a new phone; needs to register again", fieldVerification: choice,
		fieldDetail: "Slack huddle with video, badge photo matched", fieldTicket: "INC-4712",
	})))
	reqID := requestIDIn(t, texts(ack["view"]))
	card := e.approvalCard(reqID)
	if s := card.Text + texts(card.Blocks); !strings.Contains(s, "one-time, valid 1h30m") {
		t.Errorf("card does not say which pass:\n%s", s)
	}
	ic, ru := e.click(userAlex, actionApprove, reqID, testApprovals, card.TS)
	e.interact(ic)
	e.fake.WaitResponses(ru, 1)

	passRe := regexp.MustCompile(`request ` + reqID + `: (\S+)\n`)
	var pass string
	e.fake.WaitFor("the pass in Hana's DM", func() bool {
		for _, m := range e.fake.Messages {
			if mm := passRe.FindStringSubmatch(m.Text); mm != nil && m.Channel == "D0HANA" {
				pass = mm[1]
				return true
			}
		}
		return false
	})
	e.fake.WaitFor("the card updated to done", func() bool {
		for _, u := range card.Updates {
			if strings.Contains(u.Text, "done") {
				return true
			}
		}
		return false
	})
	e.fake.Mu.Lock()
	defer e.fake.Mu.Unlock()
	found := 0
	var scan func(where string, m *slacktest.Message)
	scan = func(where string, m *slacktest.Message) {
		b, _ := json.Marshal(m.Blocks)
		if n := strings.Count(m.Text, pass) + strings.Count(string(b), pass); n > 0 {
			if m.Channel != "D0HANA" {
				t.Errorf("the pass is in a %s in %s", where, m.Channel)
			}
			found++ // a message's text and its blocks both carry it: one delivery
		}
		for _, u := range m.Updates {
			scan("card update", u)
		}
	}
	for _, m := range e.fake.Messages {
		scan("message", m)
	}
	if found != 1 {
		t.Errorf("the pass is in %d Slack messages, want one", found)
	}
	for id, posts := range e.fake.ResponsePosts() {
		b, _ := json.Marshal(posts)
		if strings.Contains(string(b), pass) {
			t.Errorf("the pass is in an answer on response_url %s", id)
		}
	}
	for id, v := range e.fake.Views {
		b, _ := json.Marshal(v.View)
		if strings.Contains(string(b), pass) {
			t.Errorf("the pass is in view %s", id)
		}
	}
}
