package graph

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	khttp "github.com/microsoft/kiota-http-go"
)

// recordingPipeline answers each request with the next status and keeps what it got.
type recordingPipeline struct {
	statuses []int
	got      []struct{ encoding, body string }
}

func (p *recordingPipeline) Next(req *http.Request, _ int) (*http.Response, error) {
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	p.got = append(p.got, struct{ encoding, body string }{req.Header.Get("Content-Encoding"), string(b)})
	st := p.statuses[0]
	p.statuses = p.statuses[1:]
	return &http.Response{StatusCode: st, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}}, nil
}

func gunzipString(t *testing.T, s string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCompressionHandler keeps kiota's behaviour with pooled writers: gzip every body,
// resend it plain on 415, leave it alone when a request turns compression off, and
// never mix up bodies of requests that share pooled writers.
func TestCompressionHandler(t *testing.T) {
	body := `{"groupIds":["` + strings.Repeat("a", 300) + `"]}`
	newReq := func(ctx context.Context, b string) *http.Request {
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1/v1.0/x", strings.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	t.Run("gzip", func(t *testing.T) {
		for i := range 3 { // the same pooled writer, different bodies
			b := body + strings.Repeat(" ", i)
			p := &recordingPipeline{statuses: []int{200}}
			if _, err := (compressionHandler{}).Intercept(p, 0, newReq(context.Background(), b)); err != nil {
				t.Fatal(err)
			}
			if len(p.got) != 1 || p.got[0].encoding != "gzip" || gunzipString(t, p.got[0].body) != b {
				t.Fatalf("sent %+v", p.got)
			}
		}
	})
	t.Run("415 resends plain", func(t *testing.T) {
		p := &recordingPipeline{statuses: []int{415, 200}}
		resp, err := (compressionHandler{}).Intercept(p, 0, newReq(context.Background(), body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatal(resp, err)
		}
		if len(p.got) != 2 || p.got[1].encoding != "" || p.got[1].body != body {
			t.Fatalf("sent %+v", p.got)
		}
	})
	t.Run("turned off per request", func(t *testing.T) {
		p := &recordingPipeline{statuses: []int{200}}
		ctx := context.WithValue(context.Background(), compressionKey, khttp.NewCompressionOptionsReference(false))
		if _, err := (compressionHandler{}).Intercept(p, 0, newReq(ctx, body)); err != nil {
			t.Fatal(err)
		}
		if p.got[0].encoding != "" || p.got[0].body != body {
			t.Fatalf("sent %+v", p.got)
		}
	})
}

// BenchmarkCompress compares kiota's handler (a new gzip writer per request) with the
// pooled one on a $batch-sized body.
func BenchmarkCompress(b *testing.B) {
	body := bytes.Repeat([]byte(`{"id":"1","method":"GET","url":"/users/0c7a5e1e/authentication/methods","headers":{"accept":"application/json"}},`), 18)
	for _, h := range []struct {
		name string
		m    khttp.Middleware
	}{{"kiota", khttp.NewCompressionHandler()}, {"pooled", compressionHandler{}}} {
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p := &recordingPipeline{statuses: []int{200}}
				r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/v1.0/$batch", bytes.NewReader(body))
				if _, err := h.m.Intercept(p, 0, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestWrittenUser names the user a request writes, so the report cache can forget
// them; reads, including the POSTs that only read, name no one.
func TestWrittenUser(t *testing.T) {
	id := "5a1b0001-0000-4000-8000-000000000002"
	tests := []struct{ method, path, want string }{
		{http.MethodPost, "/v1.0/users/" + id + "/revokeSignInSessions", id},
		{http.MethodDelete, "/v1.0/users/" + id + "/authentication/phoneMethods/3179e48a-750b-4051-897c-87b9720928f7", id},
		{http.MethodPost, "/v1.0/users/" + id + "/authentication/temporaryAccessPassMethods", id},
		{http.MethodPatch, "/beta/users/" + id + "/authentication/signInPreferences", id},
		{http.MethodPost, "/v1.0/users/" + id + "/checkMemberGroups", ""},
		{http.MethodGet, "/v1.0/users/" + id + "/authentication/methods", ""},
		{http.MethodPost, "/v1.0/$batch", ""},
	}
	for _, tt := range tests {
		r, err := http.NewRequest(tt.method, "http://127.0.0.1"+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := writtenUser(r); got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}
