package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/web"
)

// newChat wires the web chat to the router, the real Graph SDK and the fake tenant,
// as the demo does.
func newChat(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	tenant := graphtest.MustTenant("demo")
	gs := httptest.NewServer(graphtest.NewServer(tenant))
	t.Cleanup(gs.Close)
	dir, err := graph.New(graph.Config{BaseURL: gs.URL + "/v1.0", MFAGroups: []string{"mfaoptin"}})
	if err != nil {
		t.Fatal(err)
	}
	groups := bot.Groups{}
	for _, g := range tenant.Groups {
		switch g.DisplayName {
		case "mfadesk-helpdesk":
			groups.Helpdesk = g.ID
		case "mfadesk-approvers":
			groups.Approvers = g.ID
		}
	}
	r, err := bot.NewRouter(bot.RouterOptions{Directory: dir, Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	personas := []web.Persona{
		{ID: "hana", Name: "Hana Helpdesk", Role: "helpdesk", ObjectID: tenant.FindUser("hana.helpdesk@mfademo.example").ID()},
		{ID: "nora", Name: "Nora Norights", Role: "no rights", ObjectID: tenant.FindUser("nora.norights@mfademo.example").ID()},
	}
	chat, err := web.New(r, personas, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(chat.Handler())
	t.Cleanup(srv.Close)
	page, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	m := regexp.MustCompile(`TOKEN = "([0-9a-f]{32})"`).FindSubmatch(body)
	if m == nil {
		t.Fatal("page carries no token")
	}
	return srv, string(m[1])
}

func post(t *testing.T, url, token string, v any) (int, bot.Message) {
	t.Helper()
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Mfadesk-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m bot.Message
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestWebChatUserLookup(t *testing.T) {
	srv, token := newChat(t)
	tests := []struct {
		persona, text string
		refusal       bool
		want          string
	}{
		{"hana", "/mfa user mfatest2@mfademo.example", false, "MFA Test 2 (mfatest2@mfademo.example): enabled."},
		{"hana", "/mfa user nobody@mfademo.example", true, "No user nobody@mfademo.example in the directory."},
		{"hana", "/mfa frob", true, "Unknown verb"},
		{"nora", "/mfa user mfatest2@mfademo.example", true, "not in the helpdesk or approvers group"},
	}
	for _, tt := range tests {
		code, m := post(t, srv.URL+"/api/command", token, map[string]string{"persona": tt.persona, "text": tt.text})
		if code != http.StatusOK || m.Refusal != tt.refusal || !strings.Contains(m.Text, tt.want) {
			t.Errorf("%s %q: %d %+v", tt.persona, tt.text, code, m)
		}
	}
}

func TestWebChatRefusesWithoutToken(t *testing.T) {
	srv, _ := newChat(t)
	for _, tok := range []string{"", "00000000000000000000000000000000"} {
		code, _ := post(t, srv.URL+"/api/command", tok, map[string]string{"persona": "hana", "text": "help"})
		if code != http.StatusForbidden {
			t.Errorf("token %q: status %d", tok, code)
		}
	}
}

func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:80"} {
		if ln, err := web.Listen(addr); err == nil {
			ln.Close()
			t.Errorf("Listen(%s) accepted", addr)
		}
	}
	ln, err := web.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}
