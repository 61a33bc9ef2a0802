package graph

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
)

// MaxConcurrency is how many Graph requests the process expects to have in flight at
// once: the chat adapters' concurrent follow-ups (32 by default) plus the identity and
// authorisation calls made while acknowledging. The shared transport keeps that many
// idle connections per host, so a burst reuses connections instead of opening and
// closing one per request (against real Graph each is a TCP and TLS handshake).
const MaxConcurrency = 64

var (
	sharedOnce sync.Once
	shared     *http.Transport
)

// SharedTransport is the one HTTP transport for Graph in the process: keep-alive,
// HTTP/2 when the server offers it over TLS (Graph does), and an idle pool sized for
// MaxConcurrency. http.DefaultTransport keeps only two idle connections per host, so
// under concurrency most connections are closed after one request. Callers that wrap
// the transport (metrics) pass it as the next round tripper.
func SharedTransport() *http.Transport {
	sharedOnce.Do(func() {
		shared = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          2 * MaxConcurrency,
			MaxIdleConnsPerHost:   MaxConcurrency,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	})
	return shared
}

// gzipPool reuses gzip writers: a new writer allocates its compressor state (hundreds
// of kilobytes), which made compressing request bodies a fifth of the server's CPU
// per diagnose. BestSpeed: the bodies are small JSON and the network is not the cost.
var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// compressionKey is the request option kiota's own compression handler reads, so a
// caller that turns compression off for a request (CompressionOptions) still can.
var compressionKey = abs.RequestOptionKey{Key: "CompressionHandler"}

// compressionHandler is kiota's CompressionHandler with pooled writers, in the same
// place in the pipeline (outside retry, so a retry resends the compressed body): it
// gzips every request body, labels it Content-Encoding: gzip, and resends it plain if
// the server answers 415.
type compressionHandler struct{}

func (compressionHandler) Intercept(pipeline khttp.Pipeline, index int, req *http.Request) (*http.Response, error) {
	if opt, ok := req.Context().Value(compressionKey).(interface{ ShouldCompress() bool }); ok && !opt.ShouldCompress() {
		return pipeline.Next(req, index)
	}
	if req.Body == nil || req.Body == http.NoBody || req.Header.Get("Content-Encoding") != "" ||
		strings.Contains(strings.ToLower(req.Header.Get("Content-Range")), "bytes") {
		return pipeline.Next(req, index)
	}
	plain, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read request body to compress: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(len(plain)/2 + 64)
	zw := gzipPool.Get().(*gzip.Writer)
	zw.Reset(&buf)
	_, err = zw.Write(plain)
	if err == nil {
		err = zw.Close()
	}
	zw.Reset(io.Discard) // drop the reference to buf before pooling
	gzipPool.Put(zw)
	if err != nil {
		return nil, fmt.Errorf("compress request body: %w", err)
	}
	zipped := buf.Bytes()
	req.Header.Set("Content-Encoding", "gzip")
	// Seekable: the retry handler inside rewinds the body to resend it.
	req.Body = khttp.NopCloser(bytes.NewReader(zipped))
	req.ContentLength = int64(len(zipped))
	resp, err := pipeline.Next(req, index)
	if err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		return resp, err
	}
	// The server refuses gzip: send the body as it was.
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	req.Header.Del("Content-Encoding")
	req.Body = khttp.NopCloser(bytes.NewReader(plain))
	req.ContentLength = int64(len(plain))
	return pipeline.Next(req, index)
}
