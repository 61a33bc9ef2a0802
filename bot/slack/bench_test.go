package slack

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkAckLatency measures how long Slack waits for the ack of a signed slash
// command on the HTTP endpoint when 200 commands arrive at once. Graph is out of the
// picture (fake Handler), and the answers go to a response_url sink that only
// discards them, so the in-process stand-ins for Slack cost as little as possible;
// the follow-up work (identity, rendering, posting the answer) still runs meanwhile
// on the same two CPUs, as in production. Each iteration is one burst of 200.
//
// Reported over every command of the run:
//
//	p50-ms, p99-ms        as seen by the client: request written → ack read
//	srv-p50-ms, srv-p99-ms inside the handler: entry → ack written
//
// Goal: p99 ≤ 10 ms. Client and server share this process, so it measures the
// adapter's own ack path only; cmd/mfadesk's BenchmarkAckOutOfProcess measures a real
// serve in its own process against a trivial server under the same load.
func BenchmarkAckLatency(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer sink.Close()
	h := newHarness(b, ModeHTTP, func(o *Options) { o.ReplayCacheSize = 1 << 20 })
	b.Run("adapter", func(b *testing.B) { benchBurst(b, h, sink.URL, h.a.HTTPHandler()) })
	// The floor of this harness: the same burst against a handler that only reads
	// the body and answers 200, to tell the adapter's cost from the in-process
	// client's and the HTTP server's.
	b.Run("floor", func(b *testing.B) {
		benchBurst(b, h, sink.URL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
		}))
	})
}

func benchBurst(b *testing.B, h *harness, sinkURL string, handler http.Handler) {
	const burst = 200
	var mu sync.Mutex
	var client, server []time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		handler.ServeHTTP(w, r)
		d := time.Since(t0)
		mu.Lock()
		server = append(server, d)
		mu.Unlock()
	}))
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: burst, MaxIdleConnsPerHost: burst}}

	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		reqs := make([]*http.Request, burst)
		for i := range reqs {
			v, _ := h.slashForm(userHana, "user alice@contoso.com")
			v.Set("response_url", sinkURL+"/commands/T0MFADESK/1/x")
			body := v.Encode()
			ts, sig := SignRequest(testSecret, time.Now(), []byte(body))
			r, _ := http.NewRequest(http.MethodPost, srv.URL+"/slack/commands", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set(headerTimestamp, ts)
			r.Header.Set(headerSignature, sig)
			reqs[i] = r
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, r := range reqs {
			wg.Go(func() {
				<-start
				t0 := time.Now()
				resp, err := hc.Do(r)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
				}
				mu.Lock()
				client = append(client, d)
				mu.Unlock()
			})
		}
		b.StartTimer()
		close(start)
		wg.Wait()
	}
	b.StopTimer()
	pct := func(l []time.Duration, p float64) float64 {
		slices.Sort(l)
		return float64(l[int(p*float64(len(l)-1))].Microseconds()) / 1000
	}
	mu.Lock()
	defer mu.Unlock()
	b.ReportMetric(pct(client, 0.50), "p50-ms")
	b.ReportMetric(pct(client, 0.99), "p99-ms")
	b.ReportMetric(pct(server, 0.50), "srv-p50-ms")
	b.ReportMetric(pct(server, 0.99), "srv-p99-ms")
	b.ReportMetric(0, "ns/op")
}
