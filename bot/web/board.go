package web

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// Limits on what the chat keeps in memory: the demo may run for hours, and the page
// re-reads the lists every second. The audit log itself lives in bbolt, not here.
const (
	maxConversation = 200
	maxInbox        = 100
	maxCards        = 100
	maxAudit        = 500
)

// approvalsChannel is the CardRef.Channel of the #mfa-approvals pane.
const approvalsChannel = "approvals"

// Entry is one message in a persona's conversation with mfadesk or in their inbox.
type Entry struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// From is "you" (what the persona typed) or "mfadesk".
	From string `json:"from"`
	// Text is what the persona typed; mfadesk's answers are in Message.
	Text    string        `json:"text,omitempty"`
	Message *chat.Message `json:"message,omitempty"`
	// Rev changes when the entry changes (its form was filed), so the page redraws it.
	Rev int `json:"rev"`
	// Filed is the request id once the entry's form has been submitted: a form is
	// filed once, whatever the page sends again.
	Filed string `json:"filed,omitempty"`

	busy bool // a submission of this entry's form is under way
}

// Card is one approval card in the #mfa-approvals pane.
type Card struct {
	ID      string       `json:"id"`
	Rev     int          `json:"rev"`
	Posted  time.Time    `json:"posted"`
	Updated time.Time    `json:"updated"`
	Message chat.Message `json:"message"`
	// Note is the last private answer to the viewing persona's click on this card
	// (like a Slack ephemeral message under the card); only they see it.
	Note *Entry `json:"note,omitempty"`
}

// AuditPost is one line of the #mfa-audit pane.
type AuditPost struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Text string    `json:"text"`
	// Security marks a post to the security channel, which the demo shows in the
	// audit pane, marked.
	Security bool `json:"security,omitempty"`
}

// State is what one persona sees: their conversation and inbox, and the two channels.
type State struct {
	Version      uint64      `json:"version"`
	Unchanged    bool        `json:"unchanged,omitempty"`
	Persona      string      `json:"persona"`
	Conversation []Entry     `json:"conversation,omitempty"`
	Inbox        []Entry     `json:"inbox,omitempty"`
	Approvals    []Card      `json:"approvals,omitempty"`
	Audit        []AuditPost `json:"audit,omitempty"`
}

// PostApproval posts a card to the #mfa-approvals pane.
func (s *Server) PostApproval(_ context.Context, card chat.Message) (chat.CardRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cardSeq++
	now := s.now()
	c := &Card{ID: strconv.FormatUint(s.cardSeq, 10), Rev: 1, Posted: now, Updated: now, Message: card}
	s.cards = append(s.cards, c)
	if n := len(s.cards) - maxCards; n > 0 {
		for _, old := range s.cards[:n] { // their notes go with them
			for _, notes := range s.notes {
				delete(notes, old.Message.RequestID)
			}
		}
		s.cards = s.cards[n:]
	}
	s.changed()
	return chat.CardRef{Platform: chat.PlatformWeb, Channel: approvalsChannel, ID: c.ID}, nil
}

// UpdateApproval replaces a posted card in place.
func (s *Server) UpdateApproval(_ context.Context, ref chat.CardRef, card chat.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ref.Channel != approvalsChannel {
		return fmt.Errorf("update approval card %s: channel %q is not the web chat's approvals channel", ref.ID, ref.Channel)
	}
	c := s.card(ref.ID)
	if c == nil {
		// The panes live in memory: a card posted by an earlier demo process (same
		// --db) is gone, and inventing one would show a card that was never posted.
		return fmt.Errorf("update approval card %s: not in this web chat (it keeps its channels in memory; the card may be from an earlier run)", ref.ID)
	}
	c.Message = card
	c.Rev++
	c.Updated = s.now()
	s.changed()
	return nil
}

// Tell puts a direct message into a persona's inbox; Caller.ChatID is the persona id.
func (s *Server) Tell(_ context.Context, to chat.Caller, msg chat.Message) error {
	if to.Platform != "" && to.Platform != chat.PlatformWeb {
		return fmt.Errorf("tell %s: platform %q is not the web chat", to.ChatID, to.Platform)
	}
	if _, ok := s.persona(to.ChatID); !ok {
		return fmt.Errorf("tell %q: no such persona in the web chat", to.ChatID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := msg
	s.inbox[to.ChatID] = appendCapped(s.inbox[to.ChatID], &Entry{Seq: s.nextSeq(), Time: s.now(), From: "mfadesk", Message: &m}, maxInbox)
	s.changed()
	return nil
}

// PostAudit appends a line to the #mfa-audit pane.
func (s *Server) PostAudit(_ context.Context, text string) error {
	s.post(AuditPost{Text: text})
	return nil
}

var _ chat.SecurityPoster = (*Server)(nil)

// PostSecurity posts an alert to the demo's security channel: the audit pane, marked.
func (s *Server) PostSecurity(_ context.Context, text string) error {
	s.post(AuditPost{Text: text, Security: true})
	return nil
}

func (s *Server) post(p AuditPost) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.Seq, p.Time = s.nextSeq(), s.now()
	s.audit = append(s.audit, p)
	if len(s.audit) > maxAudit {
		s.audit = s.audit[len(s.audit)-maxAudit:]
	}
	s.changed()
}

var _ chat.Notifier = (*Server)(nil)

// card finds a card by id; s.mu must be held.
func (s *Server) card(id string) *Card {
	for _, c := range s.cards {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// cardFor finds the card of a request; s.mu must be held.
func (s *Server) cardFor(requestID string) *Card {
	for i := len(s.cards) - 1; i >= 0; i-- {
		if s.cards[i].Message.RequestID == requestID {
			return s.cards[i]
		}
	}
	return nil
}

// nextSeq numbers entries, notes and audit posts; s.mu must be held.
func (s *Server) nextSeq() uint64 { s.seq++; return s.seq }

// changed marks the state changed so polls with an older version get it; s.mu must be held.
func (s *Server) changed() { s.version++ }

func appendCapped(l []*Entry, e *Entry, limit int) []*Entry {
	l = append(l, e)
	if len(l) > limit {
		l = l[len(l)-limit:]
	}
	return l
}

// say appends entries to a persona's conversation.
func (s *Server) say(persona string, es ...*Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range es {
		e.Seq = s.nextSeq()
		e.Time = s.now()
		e.Rev = 1
		s.convo[persona] = appendCapped(s.convo[persona], e, maxConversation)
	}
	s.changed()
}

// state copies what persona sees. since is the version the page already has: when
// nothing changed the answer is a few bytes.
func (s *Server) state(persona string, since uint64) State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Version: s.version, Persona: persona}
	if since != 0 && since == s.version {
		st.Unchanged = true
		return st
	}
	for _, e := range s.convo[persona] {
		st.Conversation = append(st.Conversation, *e)
	}
	for _, e := range s.inbox[persona] {
		st.Inbox = append(st.Inbox, *e)
	}
	for _, c := range s.cards {
		cc := *c
		if n, ok := s.notes[persona][c.Message.RequestID]; ok {
			n := n
			cc.Note = &n
		}
		st.Approvals = append(st.Approvals, cc)
	}
	st.Audit = append(st.Audit, s.audit...)
	return st
}
