package slack

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// HTTPHandler serves Slack's request URLs: POST /slack/commands (slash commands) and
// POST /slack/interactions (buttons and modals). Mount it on the server's mux, e.g.
// mux.Handle("/slack/", a.HTTPHandler()). In Socket Mode it answers 404: payloads
// then arrive only over the WebSocket, and a request URL would be an unguarded door.
func (a *Adapter) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slack/commands", func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, true) })
	mux.HandleFunc("POST /slack/interactions", func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, false) })
	return mux
}

// serve checks a request completely before anything in it is used: content type,
// size, signature and timestamp, replay. Then the one handling path answers, the ack
// is written and flushed, and only then does the slow work start, so an answer
// through response_url cannot overtake the ack.
func (a *Adapter) serve(w http.ResponseWriter, r *http.Request, command bool) {
	if a.mode != ModeHTTP {
		http.NotFound(w, r)
		return
	}
	if a.closing.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		http.Error(w, "unsupported content type", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "could not read the request", http.StatusBadRequest)
		return
	}
	now := a.now()
	sig, err := verifySignature(a.signingSecret, r.Header.Get(headerSignature), r.Header.Get(headerTimestamp), body, now)
	if err != nil {
		a.log.Warn("refused unverified request", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err)
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return
	}
	if err := a.replay.add(sig.mac, sig.expires, now); err != nil {
		a.log.Warn("refused request", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err)
		status := http.StatusConflict
		if errors.Is(err, errReplayFull) {
			status = http.StatusServiceUnavailable
		}
		http.Error(w, "request refused", status)
		return
	}
	var rep reply
	if command {
		cmd, err := parseSlashCommand(body)
		if err != nil {
			a.log.Warn("refused slash command", "err", err)
			http.Error(w, "malformed slash command", http.StatusBadRequest)
			return
		}
		rep = a.onSlash(cmd)
	} else {
		ic, err := parseInteraction(body)
		if err != nil {
			a.log.Warn("refused interaction", "err", err)
			http.Error(w, "malformed interaction", http.StatusBadRequest)
			return
		}
		rep = a.onInteraction(ic)
	}
	writeAck(w, rep.ack)
	_ = http.NewResponseController(w).Flush()
	if rep.follow != nil {
		a.spawn(rep.what, rep.follow)
	}
}

// writeAck writes an ack: an empty 200 (which also closes a modal), or JSON.
func writeAck(w http.ResponseWriter, ack any) {
	if ack == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	b, err := json.Marshal(ack)
	if err != nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
