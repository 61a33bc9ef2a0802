package web

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/mfadesk/mfadesk/bot/chat"
)

type clickRequest struct {
	Persona string          `json:"persona"`
	Kind    chat.ButtonKind `json:"kind"`
	Value   string          `json:"value"`
}

// click runs a File or Cancel button as the persona's own command (chat.ClickCommand):
// the conversation shows the command it stands for and the router's answer, as if it
// had been typed, so a click is checked and audited exactly like the words.
func (a *api) click(r *http.Request, body []byte) (any, int) {
	var req clickRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return apiError{"the request is not JSON"}, http.StatusBadRequest
	}
	p, ok := a.s.persona(req.Persona)
	if !ok {
		return apiError{"unknown persona"}, http.StatusBadRequest
	}
	text, err := chat.ClickCommand(req.Kind, req.Value)
	if err != nil {
		msg := chat.Refuse(chat.ClickRefusal)
		a.s.say(p.ID, &Entry{From: "mfadesk", Message: &msg})
		return msg, http.StatusOK
	}
	// A cancel is a write: it runs to its end even if the page goes.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), writeTimeout)
	defer cancel()
	msg := a.h.Handle(ctx, chat.Event{Caller: caller(p), Text: text})
	a.s.say(p.ID, &Entry{From: "you", Text: text}, &Entry{From: "mfadesk", Message: &msg})
	return msg, http.StatusOK
}
