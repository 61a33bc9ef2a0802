package main

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
)

// metrics are the Prometheus series /metrics serves. They live in their own registry,
// not the global one, so tests can build as many as they like.
type metrics struct {
	reg        *prometheus.Registry
	commands   *prometheus.CounterVec
	graphCalls *prometheus.CounterVec
	requests   *prometheus.CounterVec
	ackLatency *prometheus.HistogramVec
	refused    *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfadesk_commands_total", Help: "Chat commands, form submissions and decisions by verb and outcome (ok or refused).",
		}, []string{"verb", "outcome"}),
		graphCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfadesk_graph_calls_total", Help: "Microsoft Graph HTTP calls by endpoint (ids removed) and status code.",
		}, []string{"endpoint", "status"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfadesk_requests_transitions_total", Help: "Approval requests entering each state, by action.",
		}, []string{"action", "state"}),
		ackLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mfadesk_ack_latency_seconds", Help: "Time to answer an inbound platform request (Slack HTTP, Teams endpoint).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"endpoint"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfadesk_refused_callers_total",
			Help: "Callers refused before a command reached the router, by platform and reason (unauthenticated request, another workspace, an identity that cannot act).",
		}, []string{"platform", "reason"}),
	}
	m.reg.MustRegister(m.commands, m.graphCalls, m.requests, m.ackLatency, m.refused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observeAck wraps an inbound platform endpoint to record how fast it answers, and
// counts requests refused as unauthenticated (401, 403: a bad signature or token)
// among the refused callers: they never reach the router.
func (m *metrics) observeAck(endpoint bot.Platform, h http.Handler) http.Handler {
	obs := m.ackLatency.WithLabelValues(string(endpoint))
	unauth := m.refused.WithLabelValues(string(endpoint), "unauthenticated")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		obs.Observe(time.Since(start).Seconds())
		if sw.status == http.StatusUnauthorized || sw.status == http.StatusForbidden {
			unauth.Inc()
		}
	})
}

// refusedBy returns the hook an adapter calls for a caller it refused itself.
func (m *metrics) refusedBy(platform bot.Platform) func(reason string) {
	return func(reason string) { m.refused.WithLabelValues(string(platform), reason).Inc() }
}

// statusWriter remembers the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// onChange counts state transitions; chain it into the approvals hook.
func (m *metrics) onChange(next func(approvals.Request)) func(approvals.Request) {
	return func(r approvals.Request) {
		m.requests.WithLabelValues(string(r.Action), string(r.State)).Inc()
		if next != nil {
			next(r)
		}
	}
}

// idSegment matches the parts of a Graph path that identify an object (GUIDs, UPNs),
// which must not become label values: the label set would grow with every user.
var idSegment = regexp.MustCompile(`(?i)/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|/[^/]*@[^/]*|/[^/]*%40[^/]*`)

// graphEndpoint turns /v1.0/users/{id}/authentication/methods into a label.
func graphEndpoint(path string) string { return idSegment.ReplaceAllString(path, "/{id}") }

// graphTransport counts Graph calls under the SDK's middleware.
type graphTransport struct {
	next http.RoundTripper
	m    *metrics
}

func (t graphTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	status := "error"
	if err == nil {
		status = strconv.Itoa(resp.StatusCode)
	}
	t.m.graphCalls.WithLabelValues(graphEndpoint(r.URL.Path), status).Inc()
	return resp, err
}

// countingHandler counts commands by verb and outcome around the router.
type countingHandler struct {
	r *bot.Router
	m *metrics
}

func (c countingHandler) count(verb string, msg bot.Message) bot.Message {
	outcome := "ok"
	if msg.Refusal {
		outcome = "refused"
	}
	c.m.commands.WithLabelValues(verb, outcome).Inc()
	return msg
}

func (c countingHandler) Handle(ctx context.Context, ev bot.Event) bot.Message {
	verb := "invalid"
	if cmd, err := bot.Parse(ev.Text); err == nil {
		verb = string(cmd.Verb)
	}
	return c.count(verb, c.r.Handle(ctx, ev))
}

// Help passes the router's help through (adapters that answer help themselves).
func (c countingHandler) Help(ctx context.Context, platform bot.Platform, topic string) bot.Message {
	return c.r.Help(ctx, platform, topic)
}

func (c countingHandler) Submit(ctx context.Context, who bot.Caller, f bot.FormSubmission) bot.Message {
	return c.count("submit", c.r.Submit(ctx, who, f))
}

func (c countingHandler) Decide(ctx context.Context, who bot.Caller, d bot.Decision) bot.Message {
	verb := "approve"
	switch {
	case d.Retry:
		verb = "retry"
	case !d.Approve:
		verb = "deny"
	}
	return c.count(verb, c.r.Decide(ctx, who, d))
}
