package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// syncBuffer is a log sink the Graph client's goroutines may write concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("log line is not JSON: %q", l)
			continue
		}
		out = append(out, m)
	}
	return out
}

// TestGraphClientLogsThroughServeLogger: serve's Graph client writes its log lines as
// serve's JSON, at serve's log_level, and the Azure SDK under it does too: no plain
// text beside the JSON, nothing below the level.
func TestGraphClientLogsThroughServeLogger(t *testing.T) {
	fake := graphtest.NewServer(graphtest.MustTenant("demo"))
	// A refused source logs at info, an unavailable one at warn.
	fake.SetFaults(graphtest.Faults{Forbidden: []string{"/auditLogs/directoryAudits"}, Unavailable: []string{"/auditLogs/signIns"}})
	gs := httptest.NewServer(fake)
	defer gs.Close()
	cfg := &Config{}
	cfg.Graph.BaseURL, cfg.Graph.Credential = gs.URL+"/v1.0", "none"
	var buf syncBuffer
	dir, err := newGraphClient(cfg, newLogger(&buf, "warn"), newMetrics())
	if err != nil {
		t.Fatal(err)
	}
	ev, err := dir.Gather(context.Background(), actions.UserRef{Kind: actions.RefUPN, Value: "mfatest2@mfademo.example"},
		actions.Query{Sources: actions.SourceSignIns | actions.SourceAudits, SignInLast: 5, AuditDays: 7})
	if err != nil || len(ev.Missing) != 2 {
		t.Fatalf("gather: %v, missing %v", err, ev.Missing)
	}
	var warned bool
	for _, l := range buf.lines(t) {
		if l["level"] == "INFO" || l["level"] == "DEBUG" {
			t.Errorf("logged below log_level warn: %v", l)
		}
		if l["level"] == "WARN" && l["msg"] == "graph source unavailable" {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no JSON warning from the Graph client; log:\n%s", buf.b.String())
	}

	// The Azure SDK (azcore retries, azidentity) logs through the same logger, at debug.
	var dbg syncBuffer
	if _, err := newGraphClient(cfg, newLogger(&dbg, "debug"), newMetrics()); err != nil {
		t.Fatal(err)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer down.Close()
	pl := runtime.NewPipeline("mfadesk-test", "v0", runtime.PipelineOptions{}, &policy.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: 1, RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond}})
	req, err := runtime.NewRequest(context.Background(), http.MethodGet, down.URL)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := pl.Do(req); err == nil {
		resp.Body.Close()
	}
	var azure bool
	for _, l := range dbg.lines(t) {
		if l["component"] == "azure-sdk" && l["level"] == "DEBUG" {
			azure = true
		}
	}
	if !azure {
		t.Errorf("no Azure SDK line in the JSON log:\n%s", dbg.b.String())
	}
}
