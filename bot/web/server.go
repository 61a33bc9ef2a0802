package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/mfadesk/mfadesk/bot"
)

//go:embed static/index.html
var indexHTML string

// Persona is someone the demo user can act as.
type Persona struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	ObjectID string `json:"-"`
	UPN      string `json:"upn"`
}

// Handler is the router the web chat needs.
type Handler interface {
	Handle(ctx context.Context, ev bot.Event) bot.Message
}

// Server is the web chat.
type Server struct {
	h        Handler
	personas []Persona
	token    string
	page     *template.Template
	log      *slog.Logger
}

// New builds the web chat for h with the given personas.
func New(h Handler, personas []Persona, log *slog.Logger) (*Server, error) {
	if len(personas) == 0 {
		return nil, errors.New("web chat: no personas")
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("web chat token: %w", err)
	}
	page, err := template.New("index").Parse(indexHTML)
	if err != nil {
		return nil, fmt.Errorf("web chat page: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Server{h: h, personas: personas, token: hex.EncodeToString(b), page: page, log: log}, nil
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /api/personas", s.api(s.listPersonas))
	mux.HandleFunc("POST /api/command", s.api(s.command))
	return securityHeaders(mux)
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

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.page.Execute(w, map[string]string{"Token": s.token}); err != nil {
		s.log.Error("render web chat", "err", err)
	}
}

// api checks the page token and decodes/encodes JSON.
func (s *Server) api(fn func(r *http.Request, body []byte) (any, int)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Mfadesk-Token")), []byte(s.token)) != 1 {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "missing or wrong page token; reload the page"})
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "could not read the request"})
			return
		}
		v, status := fn(r, body)
		writeJSON(w, status, v)
	}
}

func (s *Server) listPersonas(*http.Request, []byte) (any, int) { return s.personas, http.StatusOK }

type commandRequest struct {
	Persona string `json:"persona"`
	Text    string `json:"text"`
}

func (s *Server) persona(id string) (Persona, bool) {
	for _, p := range s.personas {
		if p.ID == id {
			return p, true
		}
	}
	return Persona{}, false
}

func (s *Server) command(r *http.Request, body []byte) (any, int) {
	var req commandRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return map[string]string{"error": "the request is not JSON"}, http.StatusBadRequest
	}
	p, ok := s.persona(req.Persona)
	if !ok {
		return map[string]string{"error": "unknown persona"}, http.StatusBadRequest
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	msg := s.h.Handle(ctx, bot.Event{Caller: caller(p), Text: req.Text})
	return msg, http.StatusOK
}

func caller(p Persona) bot.Caller {
	return bot.Caller{Platform: "web", ChatID: p.ID, Name: p.Name, ObjectID: p.ObjectID}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
