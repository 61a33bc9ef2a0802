package slacktest

import (
	"testing"

	goslack "github.com/slack-go/slack"
)

// The fake answers as Slack does: the bot token is required, and a scripted
// failure is returned once, as Slack's {"ok":false,"error":…}.
func TestFakeAnswersLikeSlack(t *testing.T) {
	f := New(t)
	f.AddUser("U0ALICE", "alice@contoso.com", nil)
	api := goslack.New(BotToken, goslack.OptionAPIURL(f.APIURL()))
	u, err := api.GetUserInfo("U0ALICE")
	if err != nil || u.Profile.Email != "alice@contoso.com" {
		t.Fatalf("users.info: %+v, %v", u, err)
	}
	if _, err := goslack.New("xoxb-wrong", goslack.OptionAPIURL(f.APIURL())).GetUserInfo("U0ALICE"); err == nil {
		t.Fatal("a wrong token was accepted")
	}
	f.Mu.Lock()
	f.FailNext["users.info"] = "ratelimited"
	f.Mu.Unlock()
	if _, err := api.GetUserInfo("U0ALICE"); err == nil {
		t.Fatal("scripted failure not returned")
	}
	if _, err := api.GetUserInfo("U0ALICE"); err != nil {
		t.Fatalf("scripted failure returned twice: %v", err)
	}
	if f.Count("users.info") < 3 {
		t.Fatalf("users.info counted %d times", f.Count("users.info"))
	}
}
