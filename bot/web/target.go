package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// The demo's target persona: a request's target who is a persona gets the
// confirmation and the notice in their inbox, and answers from there.

var _ chat.TargetNotifier = (*Server)(nil)

// TellTarget puts msg into the inbox of the persona whose directory user is to.
func (s *Server) TellTarget(ctx context.Context, to chat.TargetUser, msg chat.Message) error {
	for _, p := range s.personas {
		if p.ObjectID != "" && strings.EqualFold(p.ObjectID, to.ObjectID) {
			return s.Tell(ctx, chat.Caller{Platform: "web", ChatID: p.ID, ObjectID: p.ObjectID}, msg)
		}
	}
	name := to.DisplayName
	if name == "" {
		name = to.UPN
	}
	return &chat.UnreachableError{Platform: "web chat", Why: name + " is not a persona of this demo"}
}

// targetHandler is the optional part of the Handler that takes the target's clicks.
type targetHandler interface {
	TargetClick(ctx context.Context, c chat.Caller, tc chat.TargetClick) chat.Message
}

type targetRequest struct {
	Persona string `json:"persona"`
	Kind    string `json:"kind"`
	Value   string `json:"value"`
}

// target answers a number pick or "This is not me" from a persona's inbox; the
// answer goes into the same inbox.
func (a *api) target(r *http.Request, body []byte) (any, int) {
	var req targetRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return apiError{"the request is not JSON"}, http.StatusBadRequest
	}
	p, ok := a.s.persona(req.Persona)
	if !ok {
		return apiError{"unknown persona"}, http.StatusBadRequest
	}
	kind := chat.ButtonKind(req.Kind)
	th, ok := a.h.(targetHandler)
	if !ok || (kind != chat.ButtonPick && kind != chat.ButtonNotMe) || req.Value == "" || len(req.Value) > 80 {
		return apiError{"not a confirmation button"}, http.StatusBadRequest
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), writeTimeout)
	defer cancel()
	msg := th.TargetClick(ctx, caller(p), chat.TargetClick{Kind: kind, Value: req.Value})
	if err := a.s.Tell(ctx, caller(p), msg); err != nil {
		return apiError{err.Error()}, http.StatusInternalServerError
	}
	return msg, http.StatusOK
}
