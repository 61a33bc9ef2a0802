package graphtest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Faults are injected into the fake's answers. The zero value injects nothing.
// Faults other than Latency apply per call: a request outside a batch, or one item of a
// $batch (so a 403 on sign-ins inside a batch is that item's status, as in Graph).
type Faults struct {
	// Latency is added before every HTTP answer (a $batch counts once).
	Latency time.Duration
	// ThrottleEvery answers every Nth call with 429 and Retry-After (0 = never).
	ThrottleEvery int
	// ThrottleFirst answers the first N calls with 429 (then they pass).
	ThrottleFirst int
	// ThrottleAbove answers 429 to calls beyond this many per second (0 = no limit).
	ThrottleAbove int
	// ThrottleOnly limits throttling to calls whose path contains any of these.
	ThrottleOnly []string
	// RetryAfter is the Retry-After sent with 429s; 0 sends "Retry-After: 0".
	// Fractions are sent as Graph does ("2.5").
	RetryAfter time.Duration
	// ReportLimit is Graph's budget for the report endpoints (sign-ins, directory
	// audits, the registration report), which it documents as 5 requests per 10 s per
	// app per tenant: a report call beyond ReportLimit in the last ReportWindow
	// (default 10 s) is answered 429 TooManyRequests with a Retry-After of when the
	// oldest leaves the window. Batch items count one by one. 0 = no limit.
	ReportLimit  int
	ReportWindow time.Duration
	// Forbidden answers 403 Authorization_RequestDenied to calls whose path (and query)
	// contains any of these.
	Forbidden []string
	// Unavailable answers 503 to calls whose path contains any of these.
	Unavailable []string
	// UnavailableFirst limits Unavailable to the first N such calls (then they pass);
	// 0 answers 503 to all of them.
	UnavailableFirst int
}

// RequestRecord is one HTTP request as the fake received it, for tests that check the
// wire (e.g. that a retried POST is still valid gzip).
type RequestRecord struct {
	Method, Path    string
	ContentEncoding string
	RetryAttempt    string
	Body            []byte // decompressed; nil when the body was not valid gzip
	BodyValid       bool   // the body decoded (gzip, then JSON when present)
}

// Server is the fake Graph. It is an http.Handler; serve it with httptest.NewServer or
// net/http. Use its URL + "/v1.0" as the SDK's base URL; /beta is served too.
type Server struct {
	mu      sync.Mutex
	tenant  *Tenant
	faults  Faults
	calls   int64
	down    int64 // calls answered 503 under Faults.Unavailable
	recent  []time.Time
	records []RequestRecord
	now     func() time.Time
	reports []time.Time // report calls answered within the report window

	requests  atomic.Int64 // HTTP requests (round trips), a $batch counted once
	throttled atomic.Int64 // 429 answers, batch items included
	reportsIn atomic.Int64 // calls to the report endpoints, batch items included
	// counted counts what Graph's limits count: requests outside a batch and batch items.
	counted atomic.Int64
	mux     *http.ServeMux
}

// NewServer serves t, rebased so that its events are recent (see Tenant.AsOf). The
// server owns t from then on.
func NewServer(t *Tenant) *Server {
	s := &Server{tenant: t, mux: http.NewServeMux(), now: time.Now}
	t.Rebase(s.now())
	s.routes()
	return s
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.calls = 0
	s.down = 0
	s.recent = nil
	s.reports = nil
}

// SetClock replaces the fake's clock (tests with a virtual clock): throttling windows
// are measured with it and writes are stamped with it. Seeded events keep their times.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Throttled returns how many 429 answers the fake has sent, batch items included.
func (s *Server) Throttled() int64 { return s.throttled.Load() }

// ReportCalls returns how many calls the report endpoints received, batch items
// included: what a client spent of the report budget.
func (s *Server) ReportCalls() int64 { return s.reportsIn.Load() }

// reportPaths are the endpoints under Graph's report budget.
var reportPaths = []string{"/auditLogs/signIns", "/auditLogs/directoryAudits", "/reports/"}

// reportBudget applies Faults.ReportLimit to one call; it returns the Retry-After of a
// refused call, or 0. The caller holds s.mu.
func (s *Server) reportBudget(f Faults, path string) time.Duration {
	if !containsAny(path, reportPaths) {
		return 0
	}
	s.reportsIn.Add(1)
	if f.ReportLimit <= 0 {
		return 0
	}
	window := f.ReportWindow
	if window <= 0 {
		window = 10 * time.Second
	}
	now := s.now()
	kept := s.reports[:0]
	for _, t := range s.reports {
		if now.Sub(t) < window {
			kept = append(kept, t)
		}
	}
	s.reports = kept
	if len(kept) >= f.ReportLimit {
		return max(kept[0].Add(window).Sub(now), time.Millisecond)
	}
	s.reports = append(s.reports, now)
	return 0
}

// Requests returns how many HTTP requests the fake has answered (a $batch counts once):
// the round trips a client made.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Calls returns how many calls the fake answered as Graph's limits count them
// (requests outside a batch, and each batch item), and how many of them it throttled.
func (s *Server) Calls() (calls, throttled int64) { return s.counted.Load(), s.throttled.Load() }

// Records returns the last requests received (at most 200), oldest first.
func (s *Server) Records() []RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RequestRecord(nil), s.records...)
}

// Tenant runs fn with the tenant locked, for tests that inspect or change it.
func (s *Server) Tenant(fn func(t *Tenant)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.tenant)
}

var versions = []string{"v1.0", "beta"}

func (s *Server) routes() {
	for _, v := range versions {
		handle := func(pattern string, h func(http.ResponseWriter, *http.Request, string)) {
			method, path, _ := strings.Cut(pattern, " ")
			s.mux.HandleFunc(method+" /"+v+path, func(w http.ResponseWriter, r *http.Request) { h(w, r, v) })
		}
		handle("GET /users/{id}", s.getUser)
		handle("GET /groups/{id}", s.getGroup)
		handle("GET /groups", s.listGroups)
		handle("GET /directory/administrativeUnits/{id}", s.getAdministrativeUnit)
		handle("GET /directoryObjects/{id}", s.getDirectoryObject)
		handle("GET /groups/{id}/transitiveMembers/microsoft.graph.user", s.groupUsers)
		handle("GET /groups/{id}/transitiveMembers/graph.user", s.groupUsers) // the SDK's short cast
		handle("GET /roleManagement/directory/roleAssignments", s.roleAssignments(false))
		handle("GET /roleManagement/directory/roleEligibilityScheduleInstances", s.roleAssignments(true))
		handle("GET /identityGovernance/privilegedAccess/group/eligibilityScheduleInstances", s.groupEligibility)
		handle("GET /users", s.listUsers)
		handle("GET /users/{id}/manager", s.getManager)
		handle("GET /users/{id}/transitiveMemberOf", s.transitiveMemberOf)
		handle("POST /users/{id}/checkMemberGroups", s.checkMemberGroups)
		handle("GET /users/{id}/authentication/methods", s.listMethods)
		handle("DELETE /users/{id}/authentication/{coll}/{mid}", s.deleteMethod)
		handle("GET /users/{id}/authentication/temporaryAccessPassMethods", s.listTAPs)
		handle("POST /users/{id}/authentication/temporaryAccessPassMethods", s.createTAP)
		handle("POST /users/{id}/revokeSignInSessions", s.revokeSessions)
		handle("GET /reports/authenticationMethods/userRegistrationDetails/{id}", s.registration)
		handle("GET /auditLogs/signIns", s.signIns)
		handle("GET /auditLogs/directoryAudits", s.directoryAudits)
		handle("GET /domains", s.listDomains)
	}
	// Beta only: Graph v1.0 has neither.
	s.mux.HandleFunc("GET /beta/users/{id}/authentication/requirements", s.requirements)
	s.mux.HandleFunc("GET /beta/users/{id}/authentication/signInPreferences", s.signInPreferences)
	s.mux.HandleFunc("PATCH /beta/users/{id}/authentication/signInPreferences", s.patchSignInPreferences)
	s.mux.HandleFunc("/", s.noRoute)
}

// ServeHTTP applies the wire rules every Graph endpoint shares, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	latency := s.faults.Latency
	s.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	rec := RequestRecord{Method: r.Method, Path: r.URL.Path, ContentEncoding: r.Header.Get("Content-Encoding"), RetryAttempt: r.Header.Get("Retry-Attempt"), BodyValid: true}
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodDelete {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			writeError(w, http.StatusBadRequest, "BadRequest", "The request body could not be read.")
			return
		}
		body := raw
		// The SDK gzips every request body (kiota's CompressionHandler).
		if strings.EqualFold(rec.ContentEncoding, "gzip") {
			body, err = gunzip(raw)
			if err != nil {
				rec.BodyValid = false
				s.record(rec)
				writeError(w, http.StatusBadRequest, "BadRequest", "The request body is not valid gzip.")
				return
			}
			r.Header.Del("Content-Encoding")
		}
		if len(body) > 0 && !json.Valid(body) {
			rec.BodyValid = false
		}
		rec.Body = body
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	s.record(rec)
	for _, v := range versions {
		if r.URL.Path == "/"+v+"/$batch" {
			if r.Method != http.MethodPost {
				writeError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
				return
			}
			s.batch(w, r, v)
			return
		}
	}
	s.call(w, r)
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, 4<<20))
}

func (s *Server) record(rec RequestRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, rec)
	if len(s.records) > 200 {
		s.records = s.records[len(s.records)-200:]
	}
}

// call answers one call: a request outside a batch or one batch item.
func (s *Server) call(w http.ResponseWriter, r *http.Request) {
	if s.injectFault(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	s.counted.Add(1)
	target := r.URL.Path
	if q, err := url.QueryUnescape(r.URL.RawQuery); err == nil && q != "" {
		target += "?" + q
	}
	s.mu.Lock()
	f := s.faults
	throttle := false
	if wait := s.reportBudget(f, r.URL.Path); wait > 0 {
		throttle = true
		f.RetryAfter = wait
	}
	if len(f.ThrottleOnly) == 0 || containsAny(target, f.ThrottleOnly) {
		s.calls++
		if f.ThrottleEvery > 0 && s.calls%int64(f.ThrottleEvery) == 0 {
			throttle = true
		}
		if s.calls <= int64(f.ThrottleFirst) {
			throttle = true
		}
		if f.ThrottleAbove > 0 {
			now := s.now()
			kept := s.recent[:0]
			for _, t := range s.recent {
				if now.Sub(t) < time.Second {
					kept = append(kept, t)
				}
			}
			s.recent = append(kept, now)
			if len(s.recent) > f.ThrottleAbove {
				throttle = true
			}
		}
	}
	unavailable := containsAny(r.URL.Path, f.Unavailable)
	if unavailable && f.UnavailableFirst > 0 {
		s.down++
		unavailable = s.down <= int64(f.UnavailableFirst)
	}
	s.mu.Unlock()
	switch {
	case throttle:
		s.throttled.Add(1)
		w.Header().Set("Retry-After", strconv.FormatFloat(f.RetryAfter.Seconds(), 'f', -1, 64))
		writeError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
	case containsAny(target, f.Forbidden):
		writeError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	case unavailable:
		writeError(w, http.StatusServiceUnavailable, "serviceNotAvailable", "The service is temporarily unavailable.")
	default:
		return false
	}
	return true
}

func containsAny(s string, subs []string) bool {
	for _, p := range subs {
		if p != "" && strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// ---- $batch ----------------------------------------------------------------------

type batchItem struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

type batchAnswer struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// MaxBatch is Graph's limit of requests in one $batch.
const MaxBatch = 20

// batch runs a JSON batch: at most 20 requests with unique ids, item URLs relative to
// the batch's version, dependsOn honoured (a failed dependency gives 424), each item's
// own status, headers and body, and the answers in no particular order.
func (s *Server) batch(w http.ResponseWriter, r *http.Request, version string) {
	var req struct {
		Requests []batchItem `json:"requests"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "Invalid batch payload: "+err.Error())
		return
	}
	switch {
	case len(req.Requests) == 0:
		writeError(w, http.StatusBadRequest, "BadRequest", "Invalid batch payload: the batch contains no requests.")
		return
	case len(req.Requests) > MaxBatch:
		writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Number of requests in the batch (%d) exceeds the limit of %d.", len(req.Requests), MaxBatch))
		return
	}
	byID := map[string]*batchItem{}
	for i := range req.Requests {
		it := &req.Requests[i]
		if it.ID == "" || it.Method == "" || it.URL == "" {
			writeError(w, http.StatusBadRequest, "BadRequest", "Invalid batch payload: every request needs an id, a method and a url.")
			return
		}
		if byID[it.ID] != nil {
			writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid batch payload: the request id %q is not unique.", it.ID))
			return
		}
		byID[it.ID] = it
	}
	for _, it := range req.Requests {
		for _, d := range it.DependsOn {
			if byID[d] == nil || d == it.ID {
				writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid batch payload: request %q depends on unknown request %q.", it.ID, d))
				return
			}
		}
	}
	done := map[string]int{} // id → status
	var answers []batchAnswer
	for len(done) < len(req.Requests) {
		progressed := false
		for _, it := range req.Requests {
			if _, ok := done[it.ID]; ok {
				continue
			}
			ready, failed := true, ""
			for _, d := range it.DependsOn {
				st, ok := done[d]
				if !ok {
					ready = false
					break
				}
				if st >= 400 {
					failed = d
				}
			}
			if !ready {
				continue
			}
			progressed = true
			var a batchAnswer
			if failed != "" {
				a = batchAnswer{ID: it.ID, Status: http.StatusFailedDependency, Headers: map[string]string{"Content-Type": "application/json"},
					Body: errorBody("FailedDependency", fmt.Sprintf("The request depends on request %q, which failed.", failed))}
			} else {
				a = s.runItem(r, version, it)
			}
			done[it.ID] = a.Status
			answers = append(answers, a)
		}
		if !progressed {
			writeError(w, http.StatusBadRequest, "BadRequest", "Invalid batch payload: dependsOn forms a cycle.")
			return
		}
	}
	// Graph answers in any order; so does the fake, so clients cannot depend on it.
	rand.Shuffle(len(answers), func(i, j int) { answers[i], answers[j] = answers[j], answers[i] })
	writeJSON(w, http.StatusOK, map[string]any{"responses": answers})
}

func (s *Server) runItem(outer *http.Request, version string, it batchItem) batchAnswer {
	u := it.URL
	if !strings.HasPrefix(u, "/") {
		u = "/" + u
	}
	if strings.Contains(u, "$batch") {
		return batchAnswer{ID: it.ID, Status: http.StatusBadRequest, Headers: map[string]string{"Content-Type": "application/json"},
			Body: errorBody("BadRequest", "A batch cannot contain a batch.")}
	}
	var body io.Reader
	if len(it.Body) > 0 && string(it.Body) != "null" {
		body = bytes.NewReader(it.Body)
	}
	inner, err := http.NewRequestWithContext(outer.Context(), strings.ToUpper(it.Method), baseURL(outer)+"/"+version+u, body)
	if err != nil {
		return batchAnswer{ID: it.ID, Status: http.StatusBadRequest, Headers: map[string]string{"Content-Type": "application/json"},
			Body: errorBody("BadRequest", "Invalid request URL: "+err.Error())}
	}
	inner.Host = outer.Host
	inner.TLS = outer.TLS
	for k, v := range it.Headers {
		inner.Header.Set(k, v)
	}
	if body != nil && inner.Header.Get("Content-Type") == "" {
		inner.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	s.call(rec, inner)
	a := batchAnswer{ID: it.ID, Status: rec.Code, Headers: map[string]string{}}
	for k, v := range rec.Header() {
		// Item headers are strings in Graph's batch format (the SDK requires it).
		a.Headers[k] = strings.Join(v, ",")
	}
	if b := bytes.TrimSpace(rec.Body.Bytes()); len(b) > 0 {
		a.Body = json.RawMessage(b)
	}
	return a
}

func errorBody(code, msg string) json.RawMessage {
	b, _ := json.Marshal(errorEnvelope(code, msg, uuid.NewString()))
	return b
}

// ---- users ------------------------------------------------------------------------

// roleAssignments lists unifiedRoleAssignment (active: the roles in memberOf, scope
// "/") or unifiedRoleEligibilityScheduleInstance objects (PIM eligibility), filtered
// with $filter=principalId eq '…' and with roleDefinition expanded when asked.
func (s *Server) roleAssignments(eligible bool) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, v string) {
		var f *Filter
		if q := r.URL.Query().Get("$filter"); q != "" {
			var err error
			if f, err = ParseFilter(q); err != nil {
				writeError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause: "+err.Error())
				return
			}
		}
		expand := strings.Contains(r.URL.Query().Get("$expand"), "roleDefinition")
		s.mu.Lock()
		defer s.mu.Unlock()
		items := []any{}
		// Principals are users and role-assignable groups.
		type principal struct {
			id           string
			active, elig []string
			scoped       []ScopedRole
		}
		var ps []principal
		for _, u := range s.tenant.Users {
			ps = append(ps, principal{u.ID(), u.MemberOf, u.EligibleRoles, u.ScopedRoles})
		}
		for _, g := range s.tenant.Groups {
			if g.IsAssignableToRole {
				ps = append(ps, principal{g.ID, g.Roles, g.EligibleRoles, nil})
			}
		}
		for _, p := range ps {
			type held struct{ role, scope string }
			var hs []held
			ids := p.elig
			if !eligible {
				ids = p.active
			}
			for _, id := range ids {
				hs = append(hs, held{id, "/"})
			}
			for _, sr := range p.scoped {
				if sr.Eligible == eligible {
					hs = append(hs, held{sr.Role, sr.Scope})
				}
			}
			for _, h := range hs {
				role, typ, ok := s.tenant.item(h.role)
				if !ok || typ != "#microsoft.graph.directoryRole" {
					continue
				}
				id := p.id + "_" + role.ID
				if h.scope != "/" {
					id += "_" + strings.TrimPrefix(strings.ReplaceAll(h.scope, "/", "_"), "_")
				}
				obj := map[string]any{
					"id": id, "principalId": p.id, "roleDefinitionId": role.ID, "directoryScopeId": h.scope,
				}
				if eligible {
					obj["memberType"], obj["startDateTime"], obj["endDateTime"] = "Direct", "2026-01-01T00:00:00Z", nil
				}
				if f != nil {
					if ok, err := f.Match(obj); err != nil || !ok {
						continue
					}
				}
				if expand {
					obj["roleDefinition"] = map[string]any{"id": role.ID, "displayName": role.DisplayName, "isBuiltIn": true}
				}
				items = append(items, obj)
			}
		}
		ctx := "roleManagement/directory/roleAssignments"
		if eligible {
			ctx = "roleManagement/directory/roleEligibilityScheduleInstances"
		}
		writeCollection(w, r, v, ctx, items, 100)
	}
}

// groupEligibility lists privilegedAccessGroupEligibilityScheduleInstance objects (PIM
// for Groups: who may activate a membership). Graph requires a $filter on groupId or
// principalId.
func (s *Server) groupEligibility(w http.ResponseWriter, r *http.Request, v string) {
	q := r.URL.Query().Get("$filter")
	if !strings.Contains(q, "principalId") && !strings.Contains(q, "groupId") {
		writeError(w, http.StatusBadRequest, "BadRequest", "Filter on groupId or principalId is required.")
		return
	}
	f, ok := parseFilterParam(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	items := []any{}
	for _, u := range s.tenant.Users {
		for _, gid := range u.EligibleGroups {
			obj := map[string]any{
				"id": u.ID() + "_member_" + gid, "principalId": u.ID(), "groupId": gid, "accessId": "member", "memberType": "direct",
				"eligibilityScheduleId": u.ID() + "_member_" + gid, "startDateTime": "2026-01-01T00:00:00Z", "endDateTime": nil,
			}
			if match(f, obj) {
				items = append(items, obj)
			}
		}
	}
	writeCollection(w, r, v, "identityGovernance/privilegedAccess/group/eligibilityScheduleInstances", items, 100)
}

// pathUser finds the user the request path names, or answers 404 as Graph does and
// returns nil. The caller holds s.mu.
func (s *Server) pathUser(w http.ResponseWriter, r *http.Request) *TenantUser {
	u := s.tenant.FindUser(r.PathValue("id"))
	if u == nil {
		notFound(w, r.PathValue("id"))
	}
	return u
}

// getGroup answers GET /groups/{id} for the groups of the tenant.
func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	item, typ, ok := s.tenant.item(id)
	if !ok || typ != "#microsoft.graph.group" {
		notFound(w, id)
		return
	}
	obj := map[string]any{"id": item.ID, "displayName": item.DisplayName, "description": item.Description}
	writeJSON(w, http.StatusOK, withContext(r, v, "groups/$entity", selectFields(obj, r.URL.Query().Get("$select"))))
}

// listGroups answers GET /groups with $filter (displayName eq '…') and $select.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := parseFilterParam(w, r)
	if !ok {
		return
	}
	var out []any
	for _, g := range s.tenant.Groups {
		obj := map[string]any{"id": g.ID, "displayName": g.DisplayName, "description": g.Description}
		if match(f, obj) {
			out = append(out, selectFields(obj, r.URL.Query().Get("$select")))
		}
	}
	writeCollection(w, r, v, "groups", out, 100)
}

// getAdministrativeUnit answers GET /directory/administrativeUnits/{id}.
func (s *Server) getAdministrativeUnit(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	for _, au := range s.tenant.AdministrativeUnits {
		if strings.EqualFold(au.ID, id) {
			obj := map[string]any{"id": au.ID, "displayName": au.DisplayName, "description": au.Description, "visibility": nil}
			writeJSON(w, http.StatusOK, withContext(r, v, "directory/administrativeUnits/$entity", selectFields(obj, r.URL.Query().Get("$select"))))
			return
		}
	}
	notFound(w, id)
}

// getDirectoryObject answers GET /directoryObjects/{id}: any user, group, role or
// administrative unit of the tenant, with its @odata.type.
func (s *Server) getDirectoryObject(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	var obj map[string]any
	if u := s.tenant.FindUser(id); u != nil && strings.EqualFold(u.ID(), id) {
		obj = copyMap(u.User)
		obj["@odata.type"] = "#microsoft.graph.user"
	} else if item, typ, ok := s.tenant.item(id); ok {
		obj = map[string]any{"@odata.type": typ, "id": item.ID, "displayName": item.DisplayName}
	} else {
		for _, au := range s.tenant.AdministrativeUnits {
			if strings.EqualFold(au.ID, id) {
				obj = map[string]any{"@odata.type": "#microsoft.graph.administrativeUnit", "id": au.ID, "displayName": au.DisplayName}
			}
		}
	}
	if obj == nil {
		notFound(w, id)
		return
	}
	writeJSON(w, http.StatusOK, withContext(r, v, "directoryObjects/$entity", selectFields(obj, r.URL.Query().Get("$select"))))
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	u := s.tenant.FindUser(id)
	if u == nil {
		notFound(w, id)
		return
	}
	sel := r.URL.Query().Get("$select")
	if strings.Contains(sel, "signInActivity") && s.tenant.NoPremiumLicense {
		noLicence(w)
		return
	}
	writeJSON(w, http.StatusOK, withContext(r, v, "users/$entity", selectFields(u.User, sel)))
}

// getManager answers GET /users/{id}/manager: the manager as a directoryObject with
// its @odata.type, or 404 Request_ResourceNotFound when the user has none, as Graph
// does.
func (s *Server) getManager(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.pathUser(w, r)
	if u == nil {
		return
	}
	m := s.tenant.FindUser(u.Manager)
	if u.Manager == "" || m == nil {
		notFound(w, "manager")
		return
	}
	obj := selectFields(m.User, r.URL.Query().Get("$select"))
	obj["@odata.type"] = "#microsoft.graph.user"
	writeJSON(w, http.StatusOK, withContext(r, v, "directoryObjects/$entity", obj))
}

// listUsers answers $filter queries (mfadesk sends mail / UPN equality).
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []any
	f, ok := parseFilterParam(w, r)
	if !ok {
		return
	}
	for _, u := range s.tenant.Users {
		if match(f, u.User) {
			out = append(out, selectFields(u.User, r.URL.Query().Get("$select")))
		}
	}
	writeCollection(w, r, v, "users", out, 100)
}

// listDomains answers GET /domains with the tenant's one domain, default and verified.
func (s *Server) listDomains(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := map[string]any{"id": s.tenant.Domain, "authenticationType": "Managed", "isDefault": true, "isInitial": false, "isRoot": true, "isVerified": true, "supportedServices": []any{"Email", "OfficeCommunicationsOnline"}}
	writeCollection(w, r, v, "domains", []any{selectFields(d, r.URL.Query().Get("$select"))}, 100)
}

func parseFilterParam(w http.ResponseWriter, r *http.Request) (*Filter, bool) {
	fs := r.URL.Query().Get("$filter")
	if fs == "" {
		return nil, true
	}
	f, err := ParseFilter(fs)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause: "+err.Error())
		return nil, false
	}
	return f, true
}

func match(f *Filter, obj map[string]any) bool {
	if f == nil {
		return true
	}
	ok, err := f.Match(obj)
	return err == nil && ok
}

func (s *Server) transitiveMemberOf(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.pathUser(w, r)
	if u == nil {
		return
	}
	var out []any
	for _, id := range u.MemberOf {
		item, typ, ok := s.tenant.item(id)
		if !ok {
			continue
		}
		obj := map[string]any{"@odata.type": typ, "id": item.ID, "displayName": item.DisplayName}
		if typ == "#microsoft.graph.group" {
			obj["isAssignableToRole"] = item.IsAssignableToRole
		}
		out = append(out, obj)
	}
	writeCollection(w, r, v, "directoryObjects", out, 100)
}

// checkMemberGroups answers which of the posted group ids the user is a member of.
// Graph limits the list to 20 ids.
func (s *Server) checkMemberGroups(w http.ResponseWriter, r *http.Request, v string) {
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
	u := s.pathUser(w, r)
	if u == nil {
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
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": baseURL(r) + "/" + v + "/$metadata#Collection(Edm.String)", "value": out})
}

func (s *Server) revokeSessions(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.pathUser(w, r)
	if u == nil {
		return
	}
	u.User["signInSessionsValidFromDateTime"] = s.now().UTC().Format(time.RFC3339)
	// Graph documents 204 but answers 200 with a boolean (a known issue).
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": baseURL(r) + "/" + v + "/$metadata#Edm.Boolean", "value": true})
}

// ---- reports, logs, beta ------------------------------------------------------------

func (s *Server) registration(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tenant.NoPremiumLicense {
		noLicence(w)
		return
	}
	id := r.PathValue("id")
	var u *TenantUser
	for _, c := range s.tenant.Users {
		if strings.EqualFold(c.ID(), id) { // the report is keyed by object id only
			u = c
		}
	}
	if u == nil {
		notFound(w, id)
		return
	}
	row := map[string]any{
		"isMfaRegistered": false, "isMfaCapable": false, "isSsprRegistered": false, "isSsprEnabled": false,
		"isSsprCapable": false, "isPasswordlessCapable": false, "isSystemPreferredAuthenticationMethodEnabled": false,
		"systemPreferredAuthenticationMethods": []any{}, "userPreferredMethodForSecondaryAuthentication": "none",
		"methodsRegistered": []any{}, "lastUpdatedDateTime": s.now().UTC().Format(time.RFC3339),
	}
	for k, val := range u.Registration {
		row[k] = val
	}
	name, _ := u.User["displayName"].(string)
	row["id"], row["userPrincipalName"], row["userDisplayName"] = u.ID(), u.UPN(), name
	row["userType"] = strings.ToLower(fmt.Sprint(u.User["userType"]))
	isAdmin := false
	for _, m := range u.MemberOf {
		if _, typ, ok := s.tenant.item(m); ok && typ == "#microsoft.graph.directoryRole" {
			isAdmin = true
		}
	}
	row["isAdmin"] = isAdmin
	writeJSON(w, http.StatusOK, withContext(r, v, "reports/authenticationMethods/userRegistrationDetails/$entity", row))
}

// betaOnlySignInFields are the sign-in properties only /beta returns.
var betaOnlySignInFields = []string{"authenticationDetails", "authenticationRequirement", "authenticationMethodsUsed",
	"authenticationRequirementPolicies", "signInEventTypes", "mfaDetail"}

func (s *Server) signIns(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tenant.NoPremiumLicense {
		noLicence(w)
		return
	}
	f, ok := parseFilterParam(w, r)
	if !ok {
		return
	}
	items := s.logEvents(f, func(u *TenantUser) []map[string]any { return u.SignIns }, "createdDateTime")
	out := make([]any, 0, len(items))
	for _, e := range items {
		c := copyMap(e)
		if v == "v1.0" {
			for _, k := range betaOnlySignInFields {
				delete(c, k)
			}
		}
		out = append(out, c)
	}
	writeCollection(w, r, v, "auditLogs/signIns", out, 1000)
}

// logEvents collects one log (sign-ins or audits) across the tenant's users, filtered
// and newest first, as Graph's tenant-wide log endpoints answer. The caller holds s.mu.
func (s *Server) logEvents(f *Filter, log func(*TenantUser) []map[string]any, timeField string) []map[string]any {
	var items []map[string]any
	for _, u := range s.tenant.Users {
		for _, e := range log(u) {
			if match(f, e) {
				items = append(items, e)
			}
		}
	}
	sortByTime(items, timeField)
	return items
}

func (s *Server) directoryAudits(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := parseFilterParam(w, r)
	if !ok {
		return
	}
	items := s.logEvents(f, func(u *TenantUser) []map[string]any { return u.Audits }, "activityDateTime")
	out := make([]any, 0, len(items))
	for _, e := range items {
		out = append(out, copyMap(e))
	}
	writeCollection(w, r, v, "auditLogs/directoryAudits", out, 1000)
}

func (s *Server) requirements(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.pathUser(w, r)
	if u == nil {
		return
	}
	state := "disabled"
	if st, ok := u.Requirements["perUserMfaState"].(string); ok && st != "" {
		state = st
	}
	writeJSON(w, http.StatusOK, withContext(r, "beta", "users('"+u.ID()+"')/authentication/requirements", map[string]any{"perUserMfaState": state}))
}

func (s *Server) signInPreferences(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.pathUser(w, r)
	if u == nil {
		return
	}
	out := map[string]any{"isSystemPreferredAuthenticationMethodEnabled": false, "userPreferredMethodForSecondaryAuthentication": nil}
	for k, val := range u.SignInPreferences {
		out[k] = val
	}
	writeJSON(w, http.StatusOK, withContext(r, "beta", "users('"+u.ID()+"')/authentication/signInPreferences", out))
}

// noRoute answers what Graph answers for a path it does not know.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", segs[len(segs)-1]))
}

// ---- wire helpers -----------------------------------------------------------------

func selectFields(obj map[string]any, sel string) map[string]any {
	if sel == "" {
		out := copyMap(obj)
		delete(out, "signInActivity") // only returned when selected
		return out
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

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortByTime(items []map[string]any, field string) {
	parse := func(m map[string]any) time.Time {
		s, _ := m[field].(string)
		t, _ := time.Parse(time.RFC3339Nano, s)
		return t
	}
	// Newest first, as Graph returns logs.
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && parse(items[j]).After(parse(items[j-1])); j-- {
			items[j], items[j-1] = items[j-1], items[j]
		}
	}
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func withContext(r *http.Request, version, ctx string, obj map[string]any) map[string]any {
	out := copyMap(obj)
	out["@odata.context"] = baseURL(r) + "/" + version + "/$metadata#" + ctx
	return out
}

// writeCollection pages with $top and an absolute @odata.nextLink, as Graph does.
func writeCollection(w http.ResponseWriter, r *http.Request, version, ctx string, items []any, defaultTop int) {
	q := r.URL.Query()
	top := defaultTop
	if t := q.Get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > 999 && n > defaultTop {
			writeError(w, http.StatusBadRequest, "BadRequest", "Invalid $top value.")
			return
		}
		top = n
	}
	skip := 0
	if st := q.Get("$skiptoken"); st != "" {
		n, err := strconv.Atoi(st)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "BadRequest", "Invalid $skiptoken.")
			return
		}
		skip = n
	}
	if skip > len(items) {
		skip = len(items)
	}
	page := items[skip:]
	body := map[string]any{"@odata.context": baseURL(r) + "/" + version + "/$metadata#" + ctx}
	if len(page) > top {
		page = page[:top]
		next := *r.URL
		nq := next.Query()
		nq.Set("$skiptoken", strconv.Itoa(skip+top))
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

// noLicence is Graph's answer to reporting calls in a tenant without Entra ID P1.
func noLicence(w http.ResponseWriter) {
	writeError(w, http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Neither tenant is B2C or tenant doesn't have premium license")
}

func errorEnvelope(code, msg, id string) map[string]any {
	return map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"innerError": map[string]any{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": id, "client-request-id": id},
	}}
}

// writeError writes Graph's error envelope; error.message is always present (the SDK's
// ODataError.Error panics without it).
func writeError(w http.ResponseWriter, status int, code, msg string) {
	id := uuid.NewString()
	w.Header().Set("request-id", id)
	writeJSON(w, status, errorEnvelope(code, msg, id))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
