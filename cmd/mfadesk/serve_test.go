package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// TestServeWiring starts serve against the fake Graph tenant and a stand-in Slack Web
// API, in HTTP mode, and checks health, readiness, metrics and that an unsigned Slack
// request is refused.
func TestServeWiring(t *testing.T) {
	tenant := graphtest.MustTenant("demo")
	gs := httptest.NewServer(graphtest.NewServer(tenant))
	defer gs.Close()
	slackAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	defer slackAPI.Close()
	helpdesk, approvers := tenant.GroupID("mfadesk-helpdesk"), tenant.GroupID("mfadesk-approvers")
	yaml := fmt.Sprintf(`
listen: 127.0.0.1:0
database: %s
graph:
  base_url: %s/v1.0
  credential: none
groups:
  helpdesk: %s
  approvers: %s
slack:
  enabled: true
  mode: http
  team_id: T0TEAM
  api_url: %s/
  approvals_channel: C0APPROVE
  audit_channel: C0AUDIT
`, filepath.Join(t.TempDir(), "mfadesk.db"), gs.URL, helpdesk, approvers, slackAPI.URL)
	cfg, err := ParseConfig([]byte(yaml), env(map[string]string{"MFADESK_SLACK_BOT_TOKEN": "xoxb-test", "MFADESK_SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	started := make(chan string, 1)
	done := make(chan error, 1)
	var logs syncBuffer
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)), started) }()
	var addr string
	select {
	case addr = <-started:
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", code, body)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("readyz: %d", code)
	}
	resp, err := http.Post("http://"+addr+"/slack/commands", "application/x-www-form-urlencoded", strings.NewReader("command=%2Fmfa&text=help"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned slash command: %d, want 401", resp.StatusCode)
	}
	code, metrics := get("/metrics")
	if code != 200 || !strings.Contains(metrics, `mfadesk_ack_latency_seconds_count{endpoint="slack"} 1`) {
		t.Errorf("metrics: %d\n%s", code, metrics)
	}
	// The unsigned request never reached the router: it is counted as refused.
	if !strings.Contains(metrics, `mfadesk_refused_callers_total{platform="slack",reason="unauthenticated"} 1`) {
		t.Errorf("refused caller not counted:\n%s", metrics)
	}
	cancel(&stopSignal{syscall.SIGTERM})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	// The log says why it stopped and that the drain finished.
	for _, want := range []string{`msg="mfadesk stopping: draining in-flight work" reason="received signal terminated"`, `step="http server"`, `step="slack follow-ups"`, `msg="mfadesk stopped" drained=true`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

func TestGraphEndpointLabel(t *testing.T) {
	tests := map[string]string{
		"/v1.0/users/5a1b0001-0000-4000-8000-000000000002/authentication/methods": "/v1.0/users/{id}/authentication/methods",
		"/v1.0/users/mfatest2@mfademo.example":                                    "/v1.0/users/{id}",
		"/v1.0/users/mfatest2%40mfademo.example/transitiveMemberOf":               "/v1.0/users/{id}/transitiveMemberOf",
		"/beta/$batch": "/beta/$batch",
	}
	for in, want := range tests {
		if got := graphEndpoint(in); got != want {
			t.Errorf("graphEndpoint(%s) = %s, want %s", in, got, want)
		}
	}
}

// Signing keys that cannot be read at start do not stop serve: it serves, /readyz
// says not ready while the metadata host fails, and once the host answers the retry
// loads the keys and /readyz says ready. Before, serve exited with the fetch error.
func TestServeTeamsKeysUnavailableAtStart(t *testing.T) {
	old := teamsKeyRetry
	teamsKeyRetry = 20 * time.Millisecond
	defer func() { teamsKeyRetry = old }()

	var up atomic.Bool
	var idp *httptest.Server
	idp = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/keys") {
			fmt.Fprint(w, `{"keys":[]}`)
			return
		}
		fmt.Fprintf(w, `{"issuer":"x","jwks_uri":%q,"id_token_signing_alg_values_supported":["RS256"]}`, idp.URL+r.URL.Path+"/keys")
	}))
	defer idp.Close()
	tenant := graphtest.MustTenant("demo")
	gs := httptest.NewServer(graphtest.NewServer(tenant))
	defer gs.Close()
	yaml := fmt.Sprintf(`
listen: 127.0.0.1:0
database: %s
graph:
  base_url: %s/v1.0
  credential: none
groups:
  helpdesk: %s
  approvers: %s
teams:
  enabled: true
  app_id: 55555555-5555-4555-8555-555555555555
  tenant_id: 11111111-1111-4111-8111-111111111111
  credential: managed_identity
  openid_metadata_url: %s/bf
  entra_metadata_url: %s/entra
  approvals_channel: "19:approvals@thread.tacv2"
  audit_channel: "19:audit@thread.tacv2"
`, filepath.Join(t.TempDir(), "mfadesk.db"), gs.URL, tenant.GroupID("mfadesk-helpdesk"), tenant.GroupID("mfadesk-approvers"), idp.URL, idp.URL)
	cfg, err := ParseConfig([]byte(yaml), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), started) }()
	var addr string
	select {
	case addr = <-started:
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	ready := func() int {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := ready(); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz while the keys cannot load: %d", code)
	}
	up.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for ready() != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("still not ready 10 s after the metadata host came back")
		}
		time.Sleep(10 * time.Millisecond) // polling an HTTP endpoint: nothing to wait on
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// drain waits for each step in order, and gives up on a step at the deadline,
// naming it, without skipping the steps after it.
func TestDrain(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	started, release := make(chan struct{}), make(chan struct{})
	var finished, later bool
	done := make(chan error, 1)
	go func() {
		done <- drain(context.Background(), quiet, []drainStep{
			{"slow", func(context.Context) error { close(started); <-release; finished = true; return nil }},
			{"later", func(context.Context) error { later = true; return nil }},
		})
	}()
	<-started
	select {
	case err := <-done:
		t.Fatalf("drain returned (%v) while a step was still running", err)
	default:
	}
	close(release)
	if err := <-done; err != nil || !finished || !later {
		t.Fatalf("drain = %v, finished %v, later %v", err, finished, later)
	}

	// A step that never ends is abandoned at the deadline; the next still runs.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	stuck := make(chan struct{})
	defer close(stuck)
	ran := make(chan struct{})
	err := drain(ctx, quiet, []drainStep{
		{"stuck", func(context.Context) error { <-stuck; return nil }},
		{"cleanup", func(context.Context) error { close(ran); return nil }},
	})
	if err == nil || !strings.Contains(err.Error(), "drain stuck: context deadline exceeded") {
		t.Fatalf("drain = %v, want the stuck step named", err)
	}
	<-ran // started even though the deadline had passed
}
