package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	goslack "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// fatalSocketErrors are apps.connections.open errors that no retry can fix: slack-go
// stops on the first four itself, but retries the others forever, so
// the adapter stops on them too, with a message that says what to fix.
var fatalSocketErrors = map[string]string{
	"invalid_auth":           "the app-level token is not valid",
	"not_authed":             "no app-level token was sent",
	"account_inactive":       "the app-level token belongs to a deleted app or a deactivated workspace",
	"token_revoked":          "the app-level token was revoked",
	"missing_scope":          "the app-level token lacks the connections:write scope",
	"not_allowed_token_type": "the token given as app-level token is not one (it must start with xapp-)",
	"invalid_token":          "the app-level token is malformed",
}

// errorCode is the Slack error code in err ("invalid_auth"), or "".
func errorCode(err error) string {
	var se goslack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// fatalSocket turns an unrecoverable connection error into the message the process
// stops with.
func fatalSocket(err error) error {
	code := errorCode(err)
	if why, ok := fatalSocketErrors[code]; ok {
		return fmt.Errorf("slack socket mode: cannot connect: %s (%s); fix the token and restart", why, code)
	}
	var sc goslack.StatusCodeError
	if errors.As(err, &sc) && sc.Code == http.StatusNotFound {
		return fmt.Errorf("slack socket mode: cannot connect: apps.connections.open answered 404; check api_url: %w", err)
	}
	return nil
}

// socketLog sends slack-go's socketmode logging to slog at debug level. slack-go only
// logs there when its debug option is on, which stays off: it adds
// debug_reconnects=true to the WebSocket URL and logs message contents.
type socketLog struct{ log *slog.Logger }

func (l socketLog) Output(_ int, s string) error {
	l.log.Debug(strings.TrimSpace(s))
	return nil
}

// RunSocketMode connects to Slack over Socket Mode and serves until ctx ends (it then
// returns nil) or the connection fails for good (bad or revoked app-level token; it
// returns an error saying what to fix). slack-go reconnects with backoff on anything
// else. Every envelope is acknowledged before its slow work starts.
func (a *Adapter) RunSocketMode(ctx context.Context) error {
	if a.mode != ModeSocket {
		return errors.New("slack: RunSocketMode needs mode socket")
	}
	api := goslack.New(a.botToken,
		goslack.OptionAppLevelToken(a.appToken),
		goslack.OptionAPIURL(a.apiURL),
		goslack.OptionHTTPClient(a.httpClient),
	)
	client := socketmode.New(api,
		socketmode.OptionLog(socketLog{a.log}),
		socketmode.OptionPingInterval(a.pingInterval),
		// Our payloads are small; a cap stops a broken peer from making us buffer
		// without end. Slack's own acks are limited to 20 KB.
		socketmode.OptionReadLimit(4<<20),
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer a.ready.Store(false)

	runErr := make(chan error, 1)
	go func() { runErr <- client.RunContext(ctx) }()

	for {
		select {
		case err := <-runErr:
			if ctx.Err() != nil {
				a.log.Info("socket mode stopped")
				return nil
			}
			if f := fatalSocket(err); f != nil {
				a.log.Error("socket mode stopped", "err", f)
				return f
			}
			return fmt.Errorf("slack socket mode stopped: %w", err)
		case evt := <-client.Events:
			if err := a.onSocketEvent(ctx, client, evt); err != nil {
				a.log.Error("socket mode stopped", "err", err)
				cancel()
				<-runErr
				return err
			}
		}
	}
}

func (a *Adapter) onSocketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event) error {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		a.log.Debug("socket mode connecting")
	case socketmode.EventTypeConnected:
		a.ready.Store(true)
		a.log.Info("socket mode connected")
	case socketmode.EventTypeHello:
		if evt.Request != nil {
			a.log.Debug("socket mode hello", "connections", evt.Request.NumConnections)
		}
	case socketmode.EventTypeConnectionError:
		a.ready.Store(false)
		if ce, ok := evt.Data.(*goslack.ConnectionErrorEvent); ok {
			if f := fatalSocket(ce.ErrorObj); f != nil {
				return f
			}
			a.log.Warn("socket mode connection failed; retrying", "attempt", ce.Attempt, "backoff", ce.Backoff, "err", ce.ErrorObj)
		}
	case socketmode.EventTypeInvalidAuth:
		return errors.New("slack socket mode: cannot connect: the app-level token was refused; fix it and restart")
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
		a.log.Warn("socket mode i/o error", "type", evt.Type)
	case socketmode.EventTypeErrorBadMessage:
		a.ackMalformed(ctx, client, evt)
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(goslack.SlashCommand)
		if !ok || evt.Request == nil {
			return nil
		}
		go a.dispatch(ctx, client, evt.Request, func() reply { return a.onSlash(cmd) })
	case socketmode.EventTypeInteractive:
		ic, ok := evt.Data.(goslack.InteractionCallback)
		if !ok || evt.Request == nil {
			return nil
		}
		go a.dispatch(ctx, client, evt.Request, func() reply { return a.onInteraction(ic) })
	case socketmode.EventTypeEventsAPI:
		// mfadesk subscribes to no events; ack so Slack does not retry.
		if evt.Request != nil && evt.Request.EnvelopeID != "" {
			a.ack(ctx, client, evt.Request.EnvelopeID, nil)
		}
	}
	return nil
}

// dispatch handles one envelope: a duplicate (the same envelope delivered again, e.g.
// after a reconnect) is acked and dropped; otherwise the ack goes out first and the
// slow work starts after it. Each envelope gets its own goroutine so one form
// submission waiting for the router does not hold up the others.
func (a *Adapter) dispatch(ctx context.Context, client *socketmode.Client, req *socketmode.Request, handle func() reply) {
	if req.EnvelopeID == "" {
		return
	}
	now := a.now()
	if err := a.envelopes.add(req.EnvelopeID, now.Add(2*signatureWindow), now); err != nil {
		a.log.Warn("dropped envelope", "envelope", req.EnvelopeID, "reason", err)
		a.ack(ctx, client, req.EnvelopeID, nil)
		return
	}
	rep := handle()
	a.ack(ctx, client, req.EnvelopeID, rep.ack)
	if rep.follow != nil {
		a.spawn(rep.what, rep.follow)
	}
}

func (a *Adapter) ack(ctx context.Context, client *socketmode.Client, envelopeID string, payload any) {
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := client.AckCtx(actx, envelopeID, payload); err != nil {
		a.log.Warn("ack envelope", "envelope", envelopeID, "err", err)
		if payload != nil {
			// An ack too large for Socket Mode (20 KB) is dropped by Slack; an empty
			// ack at least stops the client's timeout error.
			_ = client.AckCtx(actx, envelopeID, nil)
		}
	}
}

// ackMalformed acks an envelope slack-go could not parse, if its id can be read,
// so Slack does not show a timeout for something that will never be handled.
func (a *Adapter) ackMalformed(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	bad, ok := evt.Data.(*socketmode.ErrorBadMessage)
	if !ok {
		return
	}
	var env struct {
		EnvelopeID string `json:"envelope_id"`
		Type       string `json:"type"`
	}
	if json.Unmarshal(bad.Message, &env) != nil || env.EnvelopeID == "" || len(env.EnvelopeID) > 100 {
		a.log.Warn("socket mode: unreadable message", "err", bad.Cause)
		return
	}
	a.log.Warn("socket mode: malformed envelope acked and dropped", "envelope", env.EnvelopeID, "type", env.Type, "err", bad.Cause)
	a.ack(ctx, client, env.EnvelopeID, nil)
}
