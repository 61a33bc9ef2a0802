package web

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// Deadlines of the calls into the router. Lookups may follow the page away; a
// submission or a decision runs to its end even if the page goes, so that a request
// is never left half-filed or an approval half-carried-out by a closed tab.
const (
	lookupTimeout = 30 * time.Second
	writeTimeout  = 60 * time.Second
)

// api serves the page's calls with the router h.
type api struct {
	s *Server
	h Handler
}

func (a *api) listPersonas(*http.Request, []byte) (any, int) { return a.s.personas, http.StatusOK }

func (a *api) state(r *http.Request, _ []byte) (any, int) {
	p, ok := a.s.persona(r.URL.Query().Get("persona"))
	if !ok {
		return apiError{"unknown persona"}, http.StatusBadRequest
	}
	return a.s.state(p.ID, parseUint(r.URL.Query().Get("since"))), http.StatusOK
}

type commandRequest struct {
	Persona string `json:"persona"`
	Text    string `json:"text"`
}

// command answers a typed command. The answer goes into the persona's conversation
// (where a form, if any, waits to be filed) and back to the page.
func (a *api) command(r *http.Request, body []byte) (any, int) {
	var req commandRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return apiError{"the request is not JSON"}, http.StatusBadRequest
	}
	p, ok := a.s.persona(req.Persona)
	if !ok {
		return apiError{"unknown persona"}, http.StatusBadRequest
	}
	ctx, cancel := context.WithTimeout(r.Context(), lookupTimeout)
	defer cancel()
	msg := a.h.Handle(ctx, chat.Event{Caller: caller(p), Text: req.Text})
	a.s.say(p.ID, &Entry{From: "you", Text: req.Text}, &Entry{From: "mfadesk", Message: &msg})
	return msg, http.StatusOK
}

type submitRequest struct {
	Persona string `json:"persona"`
	// Entry is the conversation entry holding the form; the action and the target come
	// from it, not from the page, so only what the router offered can be filed.
	Entry              uint64 `json:"entry"`
	Reason             string `json:"reason"`
	Verification       string `json:"verification"`
	VerificationDetail string `json:"verification_detail"`
	Ticket             string `json:"ticket"`
	Users              string `json:"users"` // a bulk form's pasted list
}

// submit files a request from a form. Field errors go back to the page only (they are
// shown beside the fields); any other answer also joins the conversation.
func (a *api) submit(r *http.Request, body []byte) (any, int) {
	var req submitRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return apiError{"the request is not JSON"}, http.StatusBadRequest
	}
	p, ok := a.s.persona(req.Persona)
	if !ok {
		return apiError{"unknown persona"}, http.StatusBadRequest
	}
	form, refusal := a.s.claimForm(p.ID, req.Entry)
	if refusal != nil {
		return *refusal, http.StatusOK
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), writeTimeout)
	defer cancel()
	msg := a.h.Submit(ctx, caller(p), chat.FormSubmission{
		Action:             form.Action,
		Target:             form.Target,
		Reason:             req.Reason,
		Verification:       req.Verification,
		VerificationDetail: req.VerificationDetail,
		Ticket:             req.Ticket,
		Users:              req.Users,
	})
	a.s.releaseForm(p.ID, req.Entry, msg)
	if len(msg.Errors) == 0 {
		a.s.say(p.ID, &Entry{From: "mfadesk", Message: &msg})
	}
	return msg, http.StatusOK
}

// claimForm finds an unfiled form in the persona's conversation and marks it busy, so
// a double click files it once.
func (s *Server) claimForm(persona string, seq uint64) (*chat.Form, *chat.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A form is in the conversation (a request form) or the inbox (a manager's
	// attestation, sent without being asked for).
	for _, e := range slices.Concat(s.convo[persona], s.inbox[persona]) {
		if e.Seq != seq || e.Message == nil || e.Message.Form == nil {
			continue
		}
		if e.Filed != "" {
			m := chat.Refuse("This form was already filed as request " + e.Filed + ".")
			return nil, &m
		}
		if e.busy {
			m := chat.Refuse("This form is being filed; wait for the answer.")
			return nil, &m
		}
		e.busy = true
		f := *e.Message.Form
		return &f, nil
	}
	m := chat.Refuse("That form is no longer open; start again with reregister or revoke.")
	return nil, &m
}

// releaseForm records the outcome of a submission on its form entry.
func (s *Server) releaseForm(persona string, seq uint64, msg chat.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range slices.Concat(s.convo[persona], s.inbox[persona]) {
		if e.Seq == seq {
			e.busy = false
			if !msg.Refusal && msg.RequestID != "" {
				e.Filed = msg.RequestID
				e.Rev++
				s.changed()
			}
			return
		}
	}
}

type decideRequest struct {
	Persona       string `json:"persona"`
	RequestID     string `json:"request_id"`
	CardID        string `json:"card_id"` // the card clicked on, as the pane shows it
	Approve       bool   `json:"approve"`
	Justification string `json:"justification"`
	Retry         bool   `json:"retry"`
	Bulk          string `json:"bulk"` // continue or stop, on a bulk run's card
}

// decide passes an Approve or Deny click to the router, with the card it was clicked
// on: the router counts it only if that card was posted for the request. The card does not have to
// show buttons any more: a late click must still get the router's reason (expired,
// already decided), not a guess by the page. The answer is private to the clicker:
// a note under the card, or in their conversation if the card is not in the pane;
// a missing justification goes back to the page only, to show beside its input.
func (a *api) decide(r *http.Request, body []byte) (any, int) {
	var req decideRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return apiError{"the request is not JSON"}, http.StatusBadRequest
	}
	p, ok := a.s.persona(req.Persona)
	if !ok {
		return apiError{"unknown persona"}, http.StatusBadRequest
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), writeTimeout)
	defer cancel()
	card := chat.CardRef{Platform: chat.PlatformWeb, Channel: approvalsChannel, ID: req.CardID}
	msg := a.h.Decide(ctx, caller(p), chat.Decision{RequestID: req.RequestID, Approve: req.Approve, Justification: req.Justification, Retry: req.Retry, Bulk: req.Bulk, Card: card})
	if len(msg.Errors) == 0 { // a field error is shown beside the field, not as a note
		a.s.noteDecision(p.ID, req.RequestID, msg)
	}
	return msg, http.StatusOK
}

func (s *Server) noteDecision(persona, requestID string, msg chat.Message) {
	s.mu.Lock()
	if s.cardFor(requestID) != nil {
		if s.notes[persona] == nil {
			s.notes[persona] = map[string]Entry{}
		}
		s.notes[persona][requestID] = Entry{Seq: s.nextSeq(), Time: s.now(), From: "mfadesk", Message: &msg, Rev: 1}
		s.changed()
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.say(persona, &Entry{From: "mfadesk", Message: &msg})
}
