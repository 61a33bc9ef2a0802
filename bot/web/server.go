package web

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mfadesk/mfadesk/bot/chat"
)

//go:embed static
var static embed.FS

// Persona is someone the demo user can act as.
type Persona struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	ObjectID string `json:"-"`
	UPN      string `json:"upn"`
}

// Handler is the inbound chat contract every adapter calls; *bot.Router implements it.
type Handler = chat.Handler

// Server is the web chat: the state of its panes, the chat.Notifier that fills them,
// and (through Handler) the page and its API.
type Server struct {
	personas []Persona
	token    string
	page     []byte // index.html with this process's token in it
	log      *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	version uint64
	seq     uint64
	cardSeq uint64
	convo   map[string][]*Entry
	inbox   map[string][]*Entry
	notes   map[string]map[string]Entry // persona → request id → last answer to their click
	cards   []*Card
	audit   []AuditPost
}

// New builds the web chat for the given personas. It is a chat.Notifier from the start,
// so it can be handed to bot.Assemble before the router exists; Handler then serves
// it with that router.
func New(personas []Persona, log *slog.Logger) (*Server, error) {
	if len(personas) == 0 {
		return nil, errors.New("web chat: no personas")
	}
	seen := map[string]bool{}
	for _, p := range personas {
		if p.ID == "" || seen[p.ID] {
			return nil, fmt.Errorf("web chat: persona id %q is empty or repeated", p.ID)
		}
		seen[p.ID] = true
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("web chat token: %w", err)
	}
	token := hex.EncodeToString(b)
	page, err := fillPage(token)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &Server{
		personas: personas, token: token, page: page, log: log, now: time.Now, version: 1,
		convo: map[string][]*Entry{}, inbox: map[string][]*Entry{}, notes: map[string]map[string]Entry{},
	}, nil
}

// Handler returns the HTTP handler of the page and its API, answering through h.
func (s *Server) Handler(h Handler) http.Handler {
	a := &api{s: s, h: h}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.Handle("GET /static/", staticFiles())
	mux.HandleFunc("GET /api/personas", s.api(a.listPersonas))
	mux.HandleFunc("GET /api/state", s.api(a.state))
	mux.HandleFunc("POST /api/command", s.api(a.command))
	mux.HandleFunc("POST /api/submit", s.api(a.submit))
	mux.HandleFunc("POST /api/decide", s.api(a.decide))
	mux.HandleFunc("POST /api/click", s.api(a.click))
	mux.HandleFunc("POST /api/target", s.api(a.target))
	return loopbackHost(securityHeaders(mux))
}

// Listen binds addr, refusing anything but loopback: whoever reaches the page can act
// as any persona.
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("web chat address %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("web chat address %q: the demo chat listens only on loopback (127.0.0.1)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, nil
}

// loopbackHost refuses requests whose Host is not a loopback name. A loopback
// listener is not enough on its own: a site that re-points its own DNS name at
// 127.0.0.1 (DNS rebinding) becomes same-origin with the page and could read the
// token; its requests still carry its own name in Host.
func loopbackHost(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		host = strings.Trim(host, "[]")
		ip := net.ParseIP(host)
		if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, "the demo chat answers only on loopback addresses (127.0.0.1, localhost)", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// csp allows only the page's own script and style files: no inline script or style,
// no inline event handlers, no other origin, no forms posting anywhere.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// pageSlots are the placeholders of static/index.html and what fills them.
const (
	tokenSlot = "MFADESK-PAGE-TOKEN"
	linksSlot = "MFADESK-LINKS"
)

// fillPage puts the page token and the links the page may make clickable into
// index.html. It does not use html/template: any use of text/template's reflection
// keeps every exported method of every linked type alive, which triples the binary
// (msgraph-sdk-go alone has tens of thousands). The page has two attribute slots;
// both values are attribute-escaped all the same, and every other text reaches the
// page as JSON, set through textContent.
func fillPage(token string) ([]byte, error) {
	raw, err := static.ReadFile("static/index.html")
	if err != nil {
		return nil, fmt.Errorf("web chat page: %w", err)
	}
	page := string(raw)
	for _, slot := range []string{tokenSlot, linksSlot} {
		if n := strings.Count(page, slot); n != 1 {
			return nil, fmt.Errorf("web chat page: placeholder %s appears %d times, want once", slot, n)
		}
	}
	page = strings.NewReplacer(
		tokenSlot, html.EscapeString(token),
		linksSlot, html.EscapeString(strings.Join(chat.LinkURLs, " ")),
	).Replace(page)
	return []byte(page), nil
}

// staticFiles serves app.js and app.css (not index.html: it carries the token).
func staticFiles() http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/static/app.js", "/static/app.css":
			w.Header().Set("Cache-Control", "no-cache")
			files.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if _, err := w.Write(s.page); err != nil {
		s.log.Debug("write web chat page", "err", err)
	}
}

// api checks the page token and encodes the answer as JSON.
func (s *Server) api(fn func(r *http.Request, body []byte) (any, int)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Mfadesk-Token")), []byte(s.token)) != 1 {
			writeJSON(w, http.StatusForbidden, apiError{"missing or wrong page token; reload the page"})
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{"could not read the request"})
			return
		}
		v, status := fn(r, body)
		writeJSON(w, status, v)
	}
}

type apiError struct {
	Error string `json:"error"`
}

func (s *Server) persona(id string) (Persona, bool) {
	for _, p := range s.personas {
		if p.ID == id {
			return p, true
		}
	}
	return Persona{}, false
}

func caller(p Persona) chat.Caller {
	return chat.Caller{Platform: chat.PlatformWeb, ChatID: p.ID, Name: p.Name, ObjectID: p.ObjectID}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func parseUint(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}
