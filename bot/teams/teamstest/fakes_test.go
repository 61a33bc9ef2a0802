package teamstest

import (
	"bytes"
	"net/http"
	"testing"
)

// The connector answers as Bot Framework documents: it wants the bot's token, and an
// injected fault (status and Retry-After) is returned once.
func TestConnectorAnswersAndInjectsFaults(t *testing.T) {
	fc := NewConnector(t)
	fc.Inject(Fault{Status: 429, RetryAfter: "1"})
	post := func() *http.Response {
		req, err := http.NewRequest(http.MethodPost, fc.URL()+"/teams/v3/conversations", bytes.NewReader([]byte(`{"isGroup":false,"members":[{"id":"29:1"}]}`)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+ConnectorToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if r := post(); r.StatusCode != 429 || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("first call: %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if r := post(); r.StatusCode/100 != 2 {
		t.Fatalf("second call: %d", r.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, fc.URL()+"/teams/v3/conversations", bytes.NewReader([]byte(`{}`)))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("call without a token: %v, %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if n := len(fc.Calls()); n < 2 {
		t.Fatalf("%d calls recorded", n)
	}
}
