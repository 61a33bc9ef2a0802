package graphtest

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Faults are injected into the fake's answers. The zero value injects nothing.
type Faults struct {
	// Latency is added before every answer (each $batch counts once).
	Latency time.Duration
	// ThrottleEvery answers every Nth request with 429 and Retry-After (0 = never).
	ThrottleEvery int
	// RetryAfter is the Retry-After sent with injected 429s (whole seconds on the wire; default 1).
	RetryAfter time.Duration
	// Forbidden answers 403 Authorization_RequestDenied for request paths containing any of these.
	Forbidden []string
	// Unavailable answers 503 for request paths containing any of these.
	Unavailable []string
}

// Server is the fake Graph. It is an http.Handler; serve it with httptest.NewServer or
// Listen. Use BaseURL+"/v1.0" as the SDK's base URL.
type Server struct {
	mu     sync.Mutex
	tenant *Tenant
	faults Faults

	requests atomic.Int64 // every HTTP request, $batch counted once
	mux      *http.ServeMux
}

// NewServer serves t. The server owns t from then on.
func NewServer(t *Tenant) *Server {
	s := &Server{tenant: t, mux: http.NewServeMux()}
	s.routes()
	return s
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Requests returns how many HTTP requests the fake has answered (a $batch counts once).
func (s *Server) Requests() int64 { return s.requests.Load() }

// Tenant runs fn with the tenant locked, for tests that inspect or change it.
func (s *Server) Tenant(fn func(t *Tenant)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.tenant)
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /v1.0/users/{id}", s.getUser)
	s.mux.HandleFunc("GET /v1.0/users", s.listUsers)
	s.mux.HandleFunc("GET /v1.0/users/{id}/transitiveMemberOf", s.transitiveMemberOf)
	s.mux.HandleFunc("POST /v1.0/users/{id}/checkMemberGroups", s.checkMemberGroups)
}

// checkMemberGroups answers which of the posted group ids the user is a member of.
// Graph limits the list to 20 ids.
func (s *Server) checkMemberGroups(w http.ResponseWriter, r *http.Request) {
	var body struct {
		GroupIDs []string `json:"groupIds"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "Invalid request body: "+err.Error())
		return
	}
	if len(body.GroupIDs) == 0 || len(body.GroupIDs) > 20 {
		writeError(w, http.StatusBadRequest, "Request_BadRequest", "The groupIds parameter must contain between 1 and 20 values.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.tenant.FindUser(r.PathValue("id"))
	if u == nil {
		notFound(w, r.PathValue("id"))
		return
	}
	out := []any{}
	for _, want := range body.GroupIDs {
		for _, have := range u.MemberOf {
			if strings.EqualFold(want, have) {
				out = append(out, want)
				break
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": baseURL(r) + "/v1.0/$metadata#Collection(Edm.String)", "value": out})
}

// ServeHTTP applies the wire rules every Graph endpoint shares, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	s.mu.Lock()
	f := s.faults
	s.mu.Unlock()
	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-r.Context().Done():
			return
		}
	}
	if f.ThrottleEvery > 0 && n%int64(f.ThrottleEvery) == 0 {
		ra := f.RetryAfter
		if ra <= 0 {
			ra = time.Second
		}
		w.Header().Set("Retry-After", fmt.Sprint(int(ra/time.Second)))
		writeError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
		return
	}
	for _, p := range f.Forbidden {
		if strings.Contains(r.URL.Path, p) {
			writeError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
			return
		}
	}
	for _, p := range f.Unavailable {
		if strings.Contains(r.URL.Path, p) {
			writeError(w, http.StatusServiceUnavailable, "serviceNotAvailable", "The service is temporarily unavailable.")
			return
		}
	}
	// The SDK gzips every request body (kiota's CompressionHandler).
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "BadRequest", "The request body is not valid gzip.")
			return
		}
		r.Body = io.NopCloser(zr)
		r.Header.Del("Content-Encoding")
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	u := s.tenant.FindUser(id)
	if u == nil {
		notFound(w, id)
		return
	}
	writeJSON(w, http.StatusOK, withContext(r, "users/$entity", selectFields(u.User, r.URL.Query().Get("$select"))))
}

// listUsers supports the one filter shape mfadesk sends: mail or UPN equality.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	conds, err := parseEqFilter(r.URL.Query().Get("$filter"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause: "+err.Error())
		return
	}
	var out []any
	for _, u := range s.tenant.Users {
		for _, c := range conds {
			if v, _ := u.User[c.field].(string); strings.EqualFold(v, c.value) {
				out = append(out, selectFields(u.User, r.URL.Query().Get("$select")))
				break
			}
		}
	}
	writeCollection(w, r, "users", out)
}

func (s *Server) transitiveMemberOf(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.tenant.FindUser(r.PathValue("id"))
	if u == nil {
		notFound(w, r.PathValue("id"))
		return
	}
	var out []any
	for _, id := range u.MemberOf {
		item, typ, ok := s.tenant.item(id)
		if !ok {
			continue
		}
		out = append(out, map[string]any{"@odata.type": typ, "id": item.ID, "displayName": item.DisplayName})
	}
	writeCollection(w, r, "directoryObjects", out)
}

type eqCond struct{ field, value string }

// parseEqFilter parses `a eq 'x' or b eq 'y'` with OData quoting (” inside a literal).
func parseEqFilter(f string) ([]eqCond, error) {
	var out []eqCond
	rest := strings.TrimSpace(f)
	for rest != "" {
		field, after, ok := strings.Cut(rest, " eq ")
		if !ok {
			return nil, fmt.Errorf("expected 'field eq value' in %q", f)
		}
		field = strings.TrimSpace(field)
		after = strings.TrimSpace(after)
		if !strings.HasPrefix(after, "'") {
			return nil, fmt.Errorf("expected a quoted literal after %s eq", field)
		}
		var val strings.Builder
		i := 1
		for ; i < len(after); i++ {
			if after[i] == '\'' {
				if i+1 < len(after) && after[i+1] == '\'' {
					val.WriteByte('\'')
					i++
					continue
				}
				break
			}
			val.WriteByte(after[i])
		}
		if i >= len(after) {
			return nil, fmt.Errorf("unterminated string literal")
		}
		out = append(out, eqCond{field, val.String()})
		rest = strings.TrimSpace(after[i+1:])
		if rest == "" {
			break
		}
		if !strings.HasPrefix(rest, "or ") {
			return nil, fmt.Errorf("only 'or' joins are supported")
		}
		rest = strings.TrimSpace(strings.TrimPrefix(rest, "or "))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty filter")
	}
	return out, nil
}

func selectFields(obj map[string]any, sel string) map[string]any {
	if sel == "" {
		return obj
	}
	out := map[string]any{}
	for _, f := range strings.Split(sel, ",") {
		f = strings.TrimSpace(f)
		if v, ok := obj[f]; ok {
			out[f] = v
		} else {
			out[f] = nil // Graph returns selected-but-unset properties as null
		}
	}
	return out
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func withContext(r *http.Request, ctx string, obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj)+1)
	for k, v := range obj {
		out[k] = v
	}
	out["@odata.context"] = baseURL(r) + "/v1.0/$metadata#" + ctx
	return out
}

// writeCollection pages with $top and an absolute @odata.nextLink, as Graph does.
func writeCollection(w http.ResponseWriter, r *http.Request, ctx string, items []any) {
	q := r.URL.Query()
	top := 100
	if t := q.Get("$top"); t != "" {
		if _, err := fmt.Sscan(t, &top); err != nil || top < 1 {
			writeError(w, http.StatusBadRequest, "BadRequest", "Invalid $top value.")
			return
		}
	}
	skip := 0
	if st := q.Get("$skiptoken"); st != "" {
		if _, err := fmt.Sscan(st, &skip); err != nil || skip < 0 {
			writeError(w, http.StatusBadRequest, "BadRequest", "Invalid $skiptoken.")
			return
		}
	}
	if skip > len(items) {
		skip = len(items)
	}
	page := items[skip:]
	body := map[string]any{"@odata.context": baseURL(r) + "/v1.0/$metadata#" + ctx}
	if len(page) > top {
		page = page[:top]
		next := *r.URL
		nq := next.Query()
		nq.Set("$skiptoken", fmt.Sprint(skip+top))
		next.RawQuery = nq.Encode()
		body["@odata.nextLink"] = baseURL(r) + next.Path + "?" + next.RawQuery
	}
	if page == nil {
		page = []any{}
	}
	body["value"] = page
	writeJSON(w, http.StatusOK, body)
}

func notFound(w http.ResponseWriter, id string) {
	writeError(w, http.StatusNotFound, "Request_ResourceNotFound",
		fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
}

// writeError writes Graph's error envelope; error.message is always present.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	id := uuid.NewString()
	w.Header().Set("request-id", id)
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"innerError": map[string]any{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": id, "client-request-id": id},
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
