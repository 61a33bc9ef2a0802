package graphtest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// wire talks to the fake as a client would, without the SDK: these tests pin the wire
// format the SDK relies on.
type wire struct {
	t   *testing.T
	srv *httptest.Server
	s   *Server
}

func newWire(t *testing.T) *wire {
	s := NewServer(MustTenant("demo"))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &wire{t, srv, s}
}

func (w *wire) do(method, path string, body any) (int, http.Header, map[string]any) {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_ = json.NewEncoder(zw).Encode(body)
		_ = zw.Close()
		rd = &buf
	}
	req, _ := http.NewRequest(method, w.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

func errMsg(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

const (
	ada    = "5a1b0001-0000-4000-8000-000000000104"
	olive  = "5a1b0001-0000-4000-8000-000000000004"
	mobile = "3179e48a-750b-4051-897c-87b9720928f7"
	alt    = "b6332ec1-7057-4abe-9331-3d72feddfe41"
)

func TestBatchWire(t *testing.T) {
	w := newWire(t)
	item := func(id, url string, deps ...string) map[string]any {
		return map[string]any{"id": id, "method": "GET", "url": url, "headers": map[string]string{"accept": "application/json"}, "body": nil, "dependsOn": deps}
	}
	var many []any
	for i := range 21 {
		many = append(many, item(fmt.Sprint(i), "/users/"+olive))
	}
	if st, _, body := w.do("POST", "/v1.0/$batch", map[string]any{"requests": many}); st != 400 || !strings.Contains(errMsg(body), "20") {
		t.Errorf("21 requests: %d %v", st, body)
	}
	if st, _, _ := w.do("POST", "/v1.0/$batch", map[string]any{"requests": []any{item("1", "/users/"+olive), item("1", "/users/"+ada)}}); st != 400 {
		t.Errorf("duplicate ids: %d", st)
	}
	w.s.SetFaults(Faults{Forbidden: []string{"/auditLogs/signIns"}})
	before := w.s.Requests()
	st, _, body := w.do("POST", "/v1.0/$batch", map[string]any{"requests": []any{
		item("user", "/users/"+olive),
		item("signins", "/auditLogs/signIns?$filter=userId eq '"+olive+"'"),
		item("after", "/users/"+olive+"/authentication/methods", "signins"),
		item("beta", "/beta/users/"+olive+"/authentication/requirements"),
		item("requirements", "/users/"+olive+"/authentication/requirements"),
	}})
	if st != 200 || w.s.Requests()-before != 1 {
		t.Fatalf("batch status %d, %d requests", st, w.s.Requests()-before)
	}
	got := map[string]int{}
	for _, r := range body["responses"].([]any) {
		m := r.(map[string]any)
		got[m["id"].(string)] = int(m["status"].(float64))
		for k, v := range m["headers"].(map[string]any) {
			if _, ok := v.(string); !ok {
				t.Errorf("item header %s is %T, want a string", k, v)
			}
		}
	}
	want := map[string]int{"user": 200, "signins": 403, "after": 424, "beta": 400, "requirements": 400}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("item %s: status %d, want %d", id, got[id], st)
		}
	}
}

func TestDeleteRules(t *testing.T) {
	w := newWire(t)
	tests := []struct {
		path   string
		status int
		msg    string
	}{
		// Olive's default is "oath" (her software token), and she has an alternate mobile.
		{"/v1.0/users/" + olive + "/authentication/softwareOathMethods/d2f5b268-4ae5-4cf6-9964-145d8358b821", 400, "Cannot delete default method with other methods configured"},
		{"/v1.0/users/" + olive + "/authentication/phoneMethods/" + mobile, 400, "A user can't have an alternateMobile number without a mobile number"},
		{"/v1.0/users/" + olive + "/authentication/methods/" + alt, 405, "No HTTP resource was found"},
		{"/v1.0/users/" + olive + "/authentication/passwordMethods/28c10230-6103-485e-b985-444c60001490", 405, "No HTTP resource was found"},
		{"/v1.0/users/" + olive + "/authentication/microsoftAuthenticatorMethods/" + alt, 404, "does not exist"},
		{"/v1.0/users/" + olive + "/authentication/phoneMethods/" + alt, 204, ""},
		{"/v1.0/users/" + olive + "/authentication/phoneMethods/" + alt, 404, "does not exist"},
		{"/v1.0/users/" + olive + "/authentication/phoneMethods/" + mobile, 204, ""},
		{"/v1.0/users/" + olive + "/authentication/softwareOathMethods/d2f5b268-4ae5-4cf6-9964-145d8358b821", 204, ""},
	}
	for _, tt := range tests {
		st, _, body := w.do("DELETE", tt.path, nil)
		if st != tt.status || !strings.Contains(errMsg(body), tt.msg) {
			t.Errorf("DELETE %s = %d %q, want %d %q", tt.path, st, errMsg(body), tt.status, tt.msg)
		}
	}
}

func TestWriteEndpoints(t *testing.T) {
	w := newWire(t)
	st, _, body := w.do("POST", "/v1.0/users/"+ada+"/revokeSignInSessions", nil)
	if st != 200 || body["value"] != true || !strings.HasSuffix(body["@odata.context"].(string), "$metadata#Edm.Boolean") {
		t.Errorf("revoke: %d %v", st, body)
	}
	st, hdr, body := w.do("POST", "/v1.0/users/"+ada+"/authentication/temporaryAccessPassMethods", map[string]any{"lifetimeInMinutes": 60, "isUsableOnce": true})
	if st != 201 || body["temporaryAccessPass"] == nil || hdr.Get("Location") == "" || body["isUsableOnce"] != true {
		t.Errorf("tap: %d %v", st, body)
	}
	if st, _, _ := w.do("POST", "/v1.0/users/"+ada+"/authentication/temporaryAccessPassMethods", map[string]any{"lifetimeInMinutes": 5}); st != 400 {
		t.Errorf("tap lifetime 5: %d", st)
	}
	_, _, list := w.do("GET", "/v1.0/users/"+ada+"/authentication/methods", nil)
	taps := 0
	for _, m := range list["value"].([]any) {
		if m.(map[string]any)["@odata.type"] == typeTAP {
			taps++
			if m.(map[string]any)["temporaryAccessPass"] != nil {
				t.Error("the pass is readable after creation")
			}
		}
	}
	if taps != 1 {
		t.Errorf("%d passes, want 1", taps)
	}
	// A body labelled gzip that is not gzip is refused, as a strict server does.
	req, _ := http.NewRequest("POST", w.srv.URL+"/v1.0/users/"+ada+"/authentication/temporaryAccessPassMethods", strings.NewReader(`{"isUsableOnce":true}`))
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("plain body labelled gzip: %d", resp.StatusCode)
	}
}

func TestBetaOnlyAndLicence(t *testing.T) {
	w := newWire(t)
	if st, _, body := w.do("GET", "/v1.0/users/"+olive+"/authentication/requirements", nil); st != 400 || !strings.Contains(errMsg(body), "segment") {
		t.Errorf("v1.0 requirements: %d %v", st, body)
	}
	q := "?%24filter=" + url.QueryEscape("userId eq '"+olive+"'")
	_, _, v1 := w.do("GET", "/v1.0/auditLogs/signIns"+q, nil)
	_, _, beta := w.do("GET", "/beta/auditLogs/signIns"+q, nil)
	first := func(m map[string]any) map[string]any { return m["value"].([]any)[0].(map[string]any) }
	if _, ok := first(v1)["authenticationDetails"]; ok {
		t.Error("v1.0 sign-ins carry beta-only authenticationDetails")
	}
	if _, ok := first(beta)["authenticationDetails"]; !ok {
		t.Error("beta sign-ins lack authenticationDetails")
	}
	w.s.Tenant(func(tn *Tenant) { tn.NoPremiumLicense = true })
	if st, _, body := w.do("GET", "/v1.0/auditLogs/signIns", nil); st != 403 || !strings.Contains(errMsg(body), "premium license") {
		t.Errorf("no licence: %d %v", st, body)
	}
}

func TestPaging(t *testing.T) {
	w := newWire(t)
	_, _, page := w.do("GET", "/v1.0/auditLogs/signIns?$top=3", nil)
	next, _ := page["@odata.nextLink"].(string)
	if len(page["value"].([]any)) != 3 || !strings.HasPrefix(next, w.srv.URL+"/v1.0/auditLogs/signIns?") {
		t.Fatalf("page = %v", page)
	}
}

// TestRebase: the data file's events are moved so the newest is recent whenever the
// fake starts, keeping their spacing.
func TestRebase(t *testing.T) {
	tn := MustTenant("demo")
	u := tn.FindUser(tn.Email("mfatest1"))
	before := []string{u.Audits[1]["activityDateTime"].(string), u.Audits[3]["activityDateTime"].(string)}
	now := time.Now()
	tn.Rebase(now)
	var newest time.Time
	for _, u := range tn.Users {
		for _, s := range u.SignIns {
			at, _ := time.Parse(time.RFC3339, s["createdDateTime"].(string))
			if at.After(newest) {
				newest = at
			}
		}
	}
	if age := now.Sub(newest); age < 0 || age > 2*time.Hour {
		t.Errorf("newest sign-in is %s old", age)
	}
	gap := func(a, b string) time.Duration {
		ta, _ := time.Parse(time.RFC3339, a)
		tb, _ := time.Parse(time.RFC3339, b)
		return tb.Sub(ta)
	}
	if g0, g1 := gap(before[0], before[1]), gap(u.Audits[1]["activityDateTime"].(string), u.Audits[3]["activityDateTime"].(string)); g0 != g1 || g0 <= 0 {
		t.Errorf("spacing changed: %s → %s", g0, g1)
	}
}

func TestThrottleFaults(t *testing.T) {
	w := newWire(t)
	path := "/v1.0/users/" + olive
	w.s.SetFaults(Faults{ThrottleAbove: 2, RetryAfter: 1500 * time.Millisecond})
	var got []int
	var ra string
	for range 3 {
		st, hdr, _ := w.do("GET", path, nil)
		got = append(got, st)
		ra = hdr.Get("Retry-After")
	}
	if fmt.Sprint(got) != "[200 200 429]" || ra != "1.5" {
		t.Errorf("above 2 per second: %v, Retry-After %q", got, ra)
	}
	w.s.SetFaults(Faults{ThrottleEvery: 2, ThrottleOnly: []string{"/authentication/"}})
	got = nil
	for _, p := range []string{path, path + "/authentication/methods", path, path + "/authentication/methods"} {
		st, _, _ := w.do("GET", p, nil)
		got = append(got, st)
	}
	if fmt.Sprint(got) != "[200 200 200 429]" {
		t.Errorf("every 2nd matching call: %v", got)
	}
}

// TestPatchSignInPreferences: the default can be moved only to a known value naming a
// method the user has and the policy allows; then deleting follows the new default.
func TestPatchSignInPreferences(t *testing.T) {
	w := newWire(t)
	w.s.Tenant(func(tn *Tenant) { tn.DisabledPreferences = []string{"voiceMobile"} })
	path := "/beta/users/" + olive + "/authentication/signInPreferences"
	tests := []struct {
		body   map[string]any
		status int
		msg    string
	}{
		{map[string]any{"userPreferredMethodForSecondaryAuthentication": "carrierPigeon"}, 400, "Invalid value"},
		{map[string]any{"userPreferredMethodForSecondaryAuthentication": "push"}, 400, "no registered method"},
		{map[string]any{"userPreferredMethodForSecondaryAuthentication": "voiceMobile"}, 400, "does not allow"},
		{map[string]any{"favouriteColour": "blue"}, 400, "does not exist"},
		{map[string]any{"userPreferredMethodForSecondaryAuthentication": "sms"}, 204, ""},
	}
	for _, tt := range tests {
		st, _, body := w.do("PATCH", path, tt.body)
		if st != tt.status || !strings.Contains(errMsg(body), tt.msg) {
			t.Errorf("PATCH %v = %d %q, want %d %q", tt.body, st, errMsg(body), tt.status, tt.msg)
		}
	}
	if st, _, body := w.do("GET", path, nil); st != 200 || body["userPreferredMethodForSecondaryAuthentication"] != "sms" {
		t.Errorf("GET = %d %v", st, body)
	}
	if st, _, _ := w.do("PATCH", "/v1.0/users/"+olive+"/authentication/signInPreferences", map[string]any{"userPreferredMethodForSecondaryAuthentication": "sms"}); st != 400 {
		t.Errorf("PATCH on v1.0 = %d, want 400 (beta only)", st)
	}
	// The software token is no longer the default: it can go while the phones stay.
	if st, _, body := w.do("DELETE", "/v1.0/users/"+olive+"/authentication/softwareOathMethods/d2f5b268-4ae5-4cf6-9964-145d8358b821", nil); st != 204 {
		t.Errorf("DELETE the former default = %d %q", st, errMsg(body))
	}
}

// TestReportBudget: the report endpoints share Graph's budget (here 2 per 10 s);
// a call beyond it is 429 with the Retry-After of when the oldest leaves the window,
// other endpoints are not counted, and the window slides.
func TestReportBudget(t *testing.T) {
	w := newWire(t)
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	w.s.SetClock(func() time.Time { return now })
	w.s.SetFaults(Faults{ReportLimit: 2})
	reg := "/v1.0/reports/authenticationMethods/userRegistrationDetails/" + olive
	signIns := "/v1.0/auditLogs/signIns?$filter=" + url.QueryEscape("userId eq '"+olive+"'")
	var got []int
	var ra string
	for i, p := range []string{reg, "/v1.0/users/" + olive, signIns, reg} {
		st, hdr, _ := w.do("GET", p, nil)
		got = append(got, st)
		ra = hdr.Get("Retry-After")
		if i == 0 {
			now = now.Add(4 * time.Second)
		}
	}
	if fmt.Sprint(got) != "[200 200 200 429]" || ra != "6" {
		t.Errorf("third report call in 10 s: %v, Retry-After %q", got, ra)
	}
	now = now.Add(6 * time.Second) // the first call leaves the window
	if st, _, _ := w.do("GET", reg, nil); st != 200 {
		t.Errorf("after the window slid: %d", st)
	}
	if w.s.Throttled() != 1 || w.s.ReportCalls() != 4 {
		t.Errorf("throttled %d, report calls %d", w.s.Throttled(), w.s.ReportCalls())
	}
}
