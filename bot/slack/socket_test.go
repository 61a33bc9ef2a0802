package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/bot/slack/slacktest"
)

// runSocket starts Socket Mode against the fake and returns the channel its result
// arrives on.
func runSocket(t *testing.T, h *harness) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() { errc <- h.a.RunSocketMode(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("socket mode did not stop")
		}
	})
	return errc
}

func envelope(id, typ string, payload any) string {
	raw, _ := json.Marshal(payload)
	if b, ok := payload.([]byte); ok {
		raw = b
	}
	return fmt.Sprintf(`{"envelope_id":%q,"type":%q,"accepts_response_payload":true,"payload":%s}`, id, typ, raw)
}

func TestSocketModeEnvelopes(t *testing.T) {
	h := newHarness(t, ModeSocket, nil)
	formRouter(h)
	runSocket(t, h)
	h.fake.WaitFor("a connection", func() bool { return h.fake.Conns == 1 })

	t.Run("documented slash envelope", func(t *testing.T) {
		h.fake.Envelopes <- string(mustRead(t, "socketmode-slash_commands-envelope-docs.json"))
		ack := h.fake.WaitAck("dbdd0ef3-1543-4f94-bfb4-133d0e6c1545")
		var m struct {
			ResponseType string `json:"response_type"`
			Text         string `json:"text"`
		}
		if err := json.Unmarshal(ack, &m); err != nil || m.ResponseType != "ephemeral" || !strings.Contains(m.Text, "answers only /mfa") {
			t.Fatalf("ack payload = %s", ack)
		}
	})
	t.Run("python-sdk slash envelope", func(t *testing.T) {
		h.fake.Envelopes <- string(mustRead(t, "socketmode-slash_commands-envelope-python-sdk.json"))
		ack := h.fake.WaitAck("1d3c79ab-0ffb-41f3-a080-d19e85f53649")
		if !strings.Contains(string(ack), "answers only /mfa") {
			t.Fatalf("ack payload = %s", ack)
		}
	})
	t.Run("documented block_actions in an envelope", func(t *testing.T) {
		h.fake.Envelopes <- envelope("env-block-actions", "interactive", mustRead(t, "block_actions-docs-message.json"))
		if ack := h.fake.WaitAck("env-block-actions"); len(ack) != 0 {
			t.Fatalf("ack payload = %s, want none", ack)
		}
	})
	t.Run("lookup", func(t *testing.T) {
		v, ru := h.slashForm(userHana, "user alice@contoso.com")
		payload := map[string]string{}
		for k := range v {
			payload[k] = v.Get(k)
		}
		h.fake.Envelopes <- envelope("env-lookup", "slash_commands", payload)
		ack := h.fake.WaitAck("env-lookup")
		if !strings.Contains(string(ack), "Looking that up") {
			t.Fatalf("ack payload = %s", ack)
		}
		if p := h.fake.WaitResponses(ru, 1)[0]; p["response_type"] != "ephemeral" {
			t.Fatalf("answer = %v", p)
		}
		// The same envelope again (a redelivery) is acked but not run twice.
		before, _, _ := h.h.counts()
		h.fake.Mu.Lock()
		delete(h.fake.Acks, "env-lookup")
		h.fake.Mu.Unlock()
		h.fake.Envelopes <- envelope("env-lookup", "slash_commands", payload)
		h.fake.WaitAck("env-lookup")
		if after, _, _ := h.h.counts(); after != before {
			t.Fatalf("a redelivered envelope ran again")
		}
	})
	t.Run("form errors in the ack", func(t *testing.T) {
		v, _ := h.slashForm(userHana, "reregister alice@contoso.com")
		payload := map[string]string{}
		for k := range v {
			payload[k] = v.Get(k)
		}
		h.fake.Envelopes <- envelope("env-form", "slash_commands", payload)
		if ack := h.fake.WaitAck("env-form"); len(ack) != 0 {
			t.Fatalf("ack of a form command = %s, want none", ack)
		}
		var fv *slacktest.View
		h.fake.WaitFor("the form", func() bool {
			for _, x := range h.fake.Views {
				if x.View["callback_id"] == callbackRequest {
					fv = x
					return true
				}
			}
			return false
		})
		ic := h.submitView(userHana, h.fake.View(fv.ID), map[string]string{fieldReason: "lost phone"})
		h.fake.Envelopes <- envelope("env-submit", "interactive", ic)
		ack := h.fake.WaitAck("env-submit")
		var r struct {
			Action string            `json:"response_action"`
			Errors map[string]string `json:"errors"`
		}
		if err := json.Unmarshal(ack, &r); err != nil || r.Action != "errors" || r.Errors[fieldTicket] == "" || r.Errors[fieldVerification] == "" {
			t.Fatalf("ack payload = %s", ack)
		}
	})
	t.Run("malformed envelope", func(t *testing.T) {
		h.fake.Envelopes <- `{"envelope_id":"env-bad","type":"slash_commands","payload":"not an object"}`
		h.fake.WaitAck("env-bad")
	})
	t.Run("disconnect and reconnect", func(t *testing.T) {
		h.fake.Disconnect <- struct{}{}
		h.fake.WaitFor("a second connection", func() bool { return h.fake.Conns == 2 })
		h.fake.Envelopes <- string(mustRead(t, "socketmode-slash_commands-envelope-docs.json"))
		// The documented envelope's id again, after a reconnect: acked, not re-run.
		h.fake.WaitFor("its ack", func() bool {
			n := 0
			for _, id := range h.fake.AckOrder {
				if id == "dbdd0ef3-1543-4f94-bfb4-133d0e6c1545" {
					n++
				}
			}
			return n == 2
		})
	})
	if !h.a.Ready() {
		t.Fatal("not ready while connected")
	}
}

func TestSocketModeConnectErrors(t *testing.T) {
	tests := []struct {
		name  string
		codes []string
		fatal string // "" = connects after retrying
	}{
		{"invalid auth", []string{"invalid_auth"}, "not valid"},
		{"revoked", []string{"token_revoked"}, "revoked"},
		{"inactive", []string{"account_inactive"}, "deactivated"},
		{"missing scope", []string{"missing_scope"}, "connections:write"},
		{"transient", []string{"internal_error", "ratelimited"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, ModeSocket, nil)
			h.fake.Mu.Lock()
			h.fake.ConnOpen = tt.codes
			h.fake.Mu.Unlock()
			errc := runSocket(t, h)
			if tt.fatal == "" {
				h.fake.WaitFor("a connection after retries", func() bool { return h.fake.Conns == 1 })
				if n := h.fake.Count("apps.connections.open"); n != len(tt.codes)+1 {
					t.Fatalf("apps.connections.open called %d times", n)
				}
				return
			}
			select {
			case err := <-errc:
				if err == nil || !strings.Contains(err.Error(), tt.fatal) || !strings.Contains(err.Error(), tt.codes[0]) {
					t.Fatalf("err = %v, want it to mention %q and %q", err, tt.fatal, tt.codes[0])
				}
				if strings.Contains(err.Error(), slacktest.AppToken) {
					t.Fatal("the error shows the token")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("socket mode kept retrying a fatal error")
			}
			if n := h.fake.Count("apps.connections.open"); n != 1 {
				t.Fatalf("apps.connections.open called %d times for a fatal error", n)
			}
		})
	}
}

func TestSocketModeWrongAppToken(t *testing.T) {
	h := newHarness(t, ModeSocket, func(o *Options) { o.AppToken = "xapp-wrong" })
	errc := runSocket(t, h)
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "invalid_auth") {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no error")
	}
}
