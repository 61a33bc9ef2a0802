package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/bot/slack"
)

// The ack benchmark runs each server in its own process, as in production: the test
// binary re-executes itself with benchRoleEnv set to play one part. The parent
// process is the Slack side (the signed slash-command load, the Web API stand-in for
// users.info and the response_url sink); the children are a real `serve` (HTTP mode,
// signing secret), the fake Graph with latency, and a trivial net/http server that
// only reads the body and answers 200, measured under the same load in the same run.
// Everything listens on 127.0.0.1.
const (
	benchRoleEnv    = "MFADESK_BENCH_ROLE"
	benchLatencyEnv = "MFADESK_BENCH_GRAPH_LATENCY"
	benchConfigEnv  = "MFADESK_BENCH_CONFIG"
	benchSecret     = "8f742231b10e8888abcd99yyyzzz85a5"
	benchTeam       = "T0TEAM"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(benchRoleEnv); role != "" {
		os.Exit(benchChild(role))
	}
	os.Exit(m.Run())
}

// benchChild plays one part until its stdin closes (the parent ended) and prints
// "ADDR host:port" once it listens.
func benchChild(role string) int {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, role+":", err); return 1 }
	switch role {
	case "serve":
		cfg, err := LoadConfig(os.Getenv(benchConfigEnv), os.Getenv)
		if err != nil {
			return fail(err)
		}
		started := make(chan string, 1)
		done := make(chan error, 1)
		// MFADESK_BENCH_CPUPROFILE=FILE profiles serve, to see where its CPU goes.
		if path := os.Getenv("MFADESK_BENCH_CPUPROFILE"); path != "" {
			pf, err := os.Create(path)
			if err != nil {
				return fail(err)
			}
			if err := pprof.StartCPUProfile(pf); err != nil {
				return fail(err)
			}
			defer func() { pprof.StopCPUProfile(); _ = pf.Close() }()
		}
		log := slog.New(slog.DiscardHandler)
		if os.Getenv("MFADESK_BENCH_LOG") != "" {
			log = slog.New(slog.NewTextHandler(os.Stderr, nil))
		}
		go func() { done <- serve(ctx, cfg, log, started) }()
		select {
		case addr := <-started:
			fmt.Println("ADDR", addr)
		case err := <-done:
			return fail(err)
		}
		if err := <-done; err != nil {
			return fail(err)
		}
		return 0
	case "graph", "trivial":
		var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
		})
		var opened, closed atomic.Int64
		if role == "graph" {
			fake := graphtest.NewServer(graphtest.MustTenant("demo"))
			lat, _ := time.ParseDuration(os.Getenv(benchLatencyEnv))
			fake.SetFaults(graphtest.Faults{Latency: lat})
			mux := http.NewServeMux()
			mux.Handle("/", fake)
			// Counters for the parent, outside Graph's paths.
			mux.HandleFunc("GET /__bench/stats", func(w http.ResponseWriter, _ *http.Request) {
				_ = json.NewEncoder(w).Encode(benchGraphStats{Opened: opened.Load(), Closed: closed.Load(), Requests: fake.Requests()})
			})
			h = mux
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fail(err)
		}
		srv := &http.Server{Handler: h, ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				opened.Add(1)
			case http.StateClosed, http.StateHijacked:
				closed.Add(1)
			}
		}}
		fmt.Println("ADDR", ln.Addr())
		go func() { <-ctx.Done(); _ = srv.Close() }()
		if err := srv.Serve(ln); err != http.ErrServerClosed {
			return fail(err)
		}
		return 0
	}
	return fail(fmt.Errorf("unknown role"))
}

type benchGraphStats struct{ Opened, Closed, Requests int64 }

// child is a running child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.Closer
	addr  string
}

func startChild(t testing.TB, role string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, benchRoleEnv+"="+role)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin}
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
				line <- a
			}
		}
		close(line)
	}()
	select {
	case a, ok := <-line:
		if !ok {
			t.Fatalf("%s child exited before listening", role)
		}
		c.addr = a
	case <-time.After(30 * time.Second):
		t.Fatalf("%s child did not start", role)
	}
	return c
}

// cpu returns the child's user+system CPU time so far, from /proc/<pid>/stat.
func (c *child) cpu(t testing.TB) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which is in parentheses and may hold spaces).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

// ackRig is the whole setup: the three children and the Slack side.
type ackRig struct {
	t       testing.TB
	serve   *child
	graph   *child
	trivial *child
	slack   *httptest.Server
	answers chan string // bodies posted to response_url
	client  *http.Client
	seq     atomic.Int64
}

func newAckRig(t testing.TB, graphLatency time.Duration) *ackRig {
	t.Helper()
	r := &ackRig{t: t, answers: make(chan string, 4096)}
	r.slack = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasPrefix(req.URL.Path, "/respond/"):
			r.answers <- string(body)
			fmt.Fprint(w, `{"ok":true}`)
		case strings.HasSuffix(req.URL.Path, "/users.info"):
			form, _ := url.ParseQuery(string(body))
			id := form.Get("user")
			if id == "" {
				id = req.URL.Query().Get("user")
			}
			// Every agent of the load is Hana, of the helpdesk group.
			fmt.Fprintf(w, `{"ok":true,"user":{"id":%q,"team_id":%q,"name":"hana","real_name":"Hana Helpdesk","is_email_confirmed":true,"profile":{"email":"hana.helpdesk@mfademo.example","display_name":"Hana"}}}`, id, benchTeam)
		default:
			fmt.Fprint(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(r.slack.Close)
	r.graph = startChild(t, "graph", benchLatencyEnv+"="+graphLatency.String())
	r.trivial = startChild(t, "trivial")
	tenant := graphtest.MustTenant("demo")
	cfgPath := filepath.Join(t.TempDir(), "mfadesk.yaml")
	yaml := fmt.Sprintf(`
listen: 127.0.0.1:0
database: %s
graph:
  base_url: http://%s/v1.0
  credential: none
groups:
  helpdesk: %s
  approvers: %s
slack:
  enabled: true
  mode: http
  team_id: %s
  api_url: %s/api/
  approvals_channel: C0APPROVE
  audit_channel: C0AUDIT
`, filepath.Join(t.TempDir(), "mfadesk.db"), r.graph.addr, tenant.GroupID("mfadesk-helpdesk"), tenant.GroupID("mfadesk-approvers"), benchTeam, r.slack.URL)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	r.serve = startChild(t, "serve", benchConfigEnv+"="+cfgPath,
		"MFADESK_SLACK_BOT_TOKEN=xoxb-bench", "MFADESK_SLACK_SIGNING_SECRET="+benchSecret)
	// Slack's side keeps connections alive, as Slack does.
	r.client = &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}, Timeout: 30 * time.Second}
	return r
}

func (r *ackRig) graphStats() benchGraphStats {
	r.t.Helper()
	resp, err := http.Get("http://" + r.graph.addr + "/__bench/stats")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var s benchGraphStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		r.t.Fatal(err)
	}
	return s
}

// burst sends n signed /mfa commands at once to addr and returns each ack's latency.
// Commands come from 8 Slack users (all Hana), like a busy helpdesk.
func (r *ackRig) burst(addr, text string, n int) []time.Duration {
	r.t.Helper()
	reqs := make([]*http.Request, n)
	for i := range reqs {
		k := r.seq.Add(1)
		v := url.Values{"token": {"legacy"}, "team_id": {benchTeam}, "team_domain": {"contoso"},
			"channel_id": {"C0HELPDESK"}, "user_id": {fmt.Sprintf("U0HANA%d", k%8)}, "user_name": {"hana"},
			"command": {"/mfa"}, "text": {text}, "response_url": {fmt.Sprintf("%s/respond/%d", r.slack.URL, k)},
			"trigger_id": {fmt.Sprintf("trig.%d", k)}, "api_app_id": {"A0MFADESK"}}
		body := v.Encode()
		ts, sig := slack.SignRequest(benchSecret, time.Now(), []byte(body))
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/slack/commands", strings.NewReader(body))
		if err != nil {
			r.t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", sig)
		reqs[i] = req
	}
	lat := make([]time.Duration, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i, req := range reqs {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			resp, err := r.client.Do(req)
			if err != nil {
				failed.Add(1)
				return
			}
			ackBody, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			lat[i] = time.Since(t0)
			if i == 0 && os.Getenv("MFADESK_BENCH_LOG") != "" {
				fmt.Fprintf(os.Stderr, "ack %d: %s\n", resp.StatusCode, ackBody)
			}
			if resp.StatusCode != http.StatusOK {
				failed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		r.t.Fatalf("%d of %d %q commands were not acked with 200", f, n, text)
	}
	return lat
}

// answered waits for n answers on response_url and returns them.
func (r *ackRig) answered(n int) []string {
	r.t.Helper()
	out := make([]string, 0, n)
	deadline := time.After(answerWait)
	for len(out) < n {
		select {
		case a := <-r.answers:
			out = append(out, a)
		case <-deadline:
			r.t.Fatalf("%d of %d answers arrived", len(out), n)
		}
	}
	return out
}

// coldDiagnose sends one diagnose from a Slack user serve has not seen, naming a user
// by UPN for the first time, and returns the Graph requests it took.
func (r *ackRig) coldDiagnose(upn string) int64 {
	r.t.Helper()
	g0 := r.graphStats()
	r.burst(r.serve.addr, "diagnose "+upn, 1)
	r.answered(1)
	return r.graphStats().Requests - g0.Requests
}

// ackFigures is one run's measurements.
type ackFigures struct {
	diag, help, trivial []time.Duration
	serveCPU            time.Duration
	diagnoses           int
	graphOpened         int64
	graphClosed         int64
	graphRequests       int64
	bursts              int
	lastAnswers         []string
}

// runAckLoad runs bursts of n diagnose commands (each followed by a burst against the
// trivial server and a burst of help), waiting for every answer before the next burst,
// so serve's CPU covers all the work of each diagnose.
func runAckLoad(t testing.TB, r *ackRig, n, bursts int) ackFigures {
	t.Helper()
	var f ackFigures
	for i := range bursts {
		g0, c0 := r.graphStats(), r.serve.cpu(t)
		f.diag = append(f.diag, r.burst(r.serve.addr, "diagnose mfatest2@mfademo.example", n)...)
		answers := r.answered(n)
		c1, g1 := r.serve.cpu(t), r.graphStats()
		if i > 0 || bursts == 1 { // the first burst warms connections and caches
			f.serveCPU += c1 - c0
			f.diagnoses += n
			f.graphOpened += g1.Opened - g0.Opened
			f.graphClosed += g1.Closed - g0.Closed
			f.graphRequests += g1.Requests - g0.Requests
			f.bursts++
		}
		f.lastAnswers = answers
		f.trivial = append(f.trivial, r.burst(r.trivial.addr, "help", n)...)
		f.help = append(f.help, r.burst(r.serve.addr, "help", n)...) // answered in the ack
	}
	return f
}

// answerWait bounds the wait for the answers of a burst.
var answerWait = 2 * time.Minute

func pct(l []time.Duration, p float64) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// TestAckHarnessSmoke runs the out-of-process ack harness briefly, so CI exercises it
// (the benchmark itself only runs with -bench): every command is acked, every
// diagnose is answered from the fake Graph in its own process, and the figures the
// benchmark reports can be read.
func TestAckHarnessSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	r := newAckRig(t, time.Millisecond)
	if n := r.coldDiagnose("olive.optin@mfademo.example"); n < 2 {
		t.Errorf("a first diagnose took %d Graph requests", n)
	}
	f := runAckLoad(t, r, 20, 1)
	for _, a := range f.lastAnswers {
		if !strings.Contains(a, "MFA Test 2") {
			t.Fatalf("a diagnose answer does not show the user: %.300s", a)
		}
	}
	if f.serveCPU <= 0 || f.graphRequests == 0 || f.graphOpened == 0 {
		t.Errorf("figures not measured: %+v", f)
	}
	t.Logf("diagnose ack p50 %.1f ms p99 %.1f ms; trivial p99 %.1f ms; serve CPU %.2f ms/diagnose; graph %d requests, %d connections opened, %d closed",
		ms(pct(f.diag, .5)), ms(pct(f.diag, .99)), ms(pct(f.trivial, .99)), ms(f.serveCPU)/float64(f.diagnoses), f.graphRequests, f.graphOpened, f.graphClosed)
}

// BenchmarkAckOutOfProcess is the honest ack benchmark: serve, the fake Graph (5 ms
// per request) and a trivial server each in their own process, the Slack side in this
// one. Each op is one round: 200 concurrent signed `/mfa diagnose`, all answered,
// then 200 requests to the trivial server and 200 `/mfa help`. Run with
// -benchtime=15x. The first round warms up and is left out of the CPU and
// connection figures.
//
//	diag-p50-ms, diag-p99-ms     ack latency of diagnose as the Slack side sees it
//	help-p99-ms                  the same for help
//	trivial-p50-ms, trivial-p99-ms  the trivial server under the same load
//	diag-p99-ratio, help-p99-ratio  p99 over the trivial server's p99 (goal ≤ 2)
//	serve-cpu-ms/diagnose        serve's user+system CPU per diagnose, follow-up included
//	graph-conns-opened/burst, graph-conns-closed/burst, graph-requests/diagnose
//	graph-requests/first-diagnose  a Slack user's first diagnose of a user named by UPN
func BenchmarkAckOutOfProcess(b *testing.B) {
	r := newAckRig(b, 5*time.Millisecond)
	cold := r.coldDiagnose("olive.optin@mfademo.example")
	var all ackFigures
	first := true
	for b.Loop() {
		f := runAckLoad(b, r, 200, 1)
		all.diag = append(all.diag, f.diag...)
		all.help = append(all.help, f.help...)
		all.trivial = append(all.trivial, f.trivial...)
		if first {
			first = false
			continue
		}
		all.serveCPU += f.serveCPU
		all.diagnoses += f.diagnoses
		all.graphOpened += f.graphOpened
		all.graphClosed += f.graphClosed
		all.graphRequests += f.graphRequests
		all.bursts += f.bursts
	}
	b.ReportMetric(ms(pct(all.diag, .5)), "diag-p50-ms")
	b.ReportMetric(ms(pct(all.diag, .99)), "diag-p99-ms")
	b.ReportMetric(ms(pct(all.help, .99)), "help-p99-ms")
	b.ReportMetric(ms(pct(all.trivial, .5)), "trivial-p50-ms")
	b.ReportMetric(ms(pct(all.trivial, .99)), "trivial-p99-ms")
	b.ReportMetric(float64(pct(all.diag, .99))/float64(pct(all.trivial, .99)), "diag-p99-ratio")
	b.ReportMetric(float64(pct(all.help, .99))/float64(pct(all.trivial, .99)), "help-p99-ratio")
	if all.bursts > 0 {
		b.ReportMetric(ms(all.serveCPU)/float64(all.diagnoses), "serve-cpu-ms/diagnose")
		b.ReportMetric(float64(all.graphOpened)/float64(all.bursts), "graph-conns-opened/burst")
		b.ReportMetric(float64(all.graphClosed)/float64(all.bursts), "graph-conns-closed/burst")
		b.ReportMetric(float64(all.graphRequests)/float64(all.diagnoses), "graph-requests/diagnose")
	}
	b.ReportMetric(float64(cold), "graph-requests/first-diagnose")
	b.ReportMetric(0, "ns/op")
}
