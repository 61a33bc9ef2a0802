package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// Notifier is the outbound half of the adapter: it implements chat.Notifier with the
// bot token. It needs no Handler, so the router can be built with it before the
// adapter that feeds the router exists.
type Notifier struct {
	api         *goslack.Client
	approvals   string
	audit       string
	security    string // optional
	log         *slog.Logger
	callTimeout time.Duration
}

var _ chat.Notifier = (*Notifier)(nil)

// maxRateLimitWait is the longest Retry-After the notifier waits out: beyond that the
// post fails and the caller (the router) records the failure instead of hanging.
const maxRateLimitWait = 30 * time.Second

// call runs one Web API call with its own deadline, waiting out short rate limits
// (slack-go's own retry is off by default, and its fallback wait is 60 s).
func (n *Notifier) call(ctx context.Context, fn func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, n.callTimeout)
		err := fn(cctx)
		cancel()
		var rl *goslack.RateLimitedError
		if err == nil || !errors.As(err, &rl) || attempt >= 2 || rl.RetryAfter > maxRateLimitWait {
			return err
		}
		t := time.NewTimer(rl.RetryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (while waiting out a rate limit)", ctx.Err())
		case <-t.C:
		}
	}
}

func messageOptions(card chat.Message, buttons bool) []goslack.MsgOption {
	blocks := renderBlocks(card, renderOptions{maxBlocks: maxMessageBlocks, title: true, buttons: buttons})
	return []goslack.MsgOption{
		goslack.MsgOptionText(summaryText(card), false),
		goslack.MsgOptionBlocks(blocks...),
		goslack.MsgOptionDisableLinkUnfurl(),
		goslack.MsgOptionDisableMediaUnfurl(),
	}
}

// PostApproval posts an approval card to the approvals channel and returns where it
// is, so it can be updated in place.
func (n *Notifier) PostApproval(ctx context.Context, card chat.Message) (chat.CardRef, error) {
	var ch, ts string
	err := n.call(ctx, func(ctx context.Context) error {
		var err error
		ch, ts, err = n.api.PostMessageContext(ctx, n.approvals, messageOptions(card, true)...)
		return err
	})
	if err != nil {
		return chat.CardRef{}, fmt.Errorf("post approval card for %s to %s: %w", card.RequestID, n.approvals, err)
	}
	return chat.CardRef{Platform: chat.PlatformSlack, Channel: ch, ID: ts}, nil
}

// UpdateApproval replaces a posted card. chat.update replaces every block, so a card
// without buttons removes them.
func (n *Notifier) UpdateApproval(ctx context.Context, ref chat.CardRef, card chat.Message) error {
	if ref.Platform != chat.PlatformSlack || ref.Channel == "" || ref.ID == "" {
		return fmt.Errorf("update approval card for %s: not a Slack card reference (%q)", card.RequestID, ref.Platform)
	}
	err := n.call(ctx, func(ctx context.Context) error {
		_, _, _, err := n.api.UpdateMessageContext(ctx, ref.Channel, ref.ID, messageOptions(card, true)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("update approval card for %s in %s: %w", card.RequestID, ref.Channel, err)
	}
	return nil
}

// Tell sends msg to a person as a direct message from the bot.
func (n *Notifier) Tell(ctx context.Context, to chat.Caller, msg chat.Message) error {
	if to.Platform != chat.PlatformSlack || !validID(to.ChatID, "UW") {
		return fmt.Errorf("tell %q: not a Slack user", to.ChatID)
	}
	var dm string
	err := n.call(ctx, func(ctx context.Context) error {
		ch, _, _, err := n.api.OpenConversationContext(ctx, &goslack.OpenConversationParameters{Users: []string{to.ChatID}})
		if err == nil {
			if ch == nil || ch.ID == "" {
				return errors.New("conversations.open returned no channel")
			}
			dm = ch.ID
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("open a direct message with %s: %w", to.ChatID, err)
	}
	err = n.call(ctx, func(ctx context.Context) error {
		_, _, err := n.api.PostMessageContext(ctx, dm, messageOptions(msg, false)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("send a direct message to %s: %w", to.ChatID, err)
	}
	return nil
}

// PostAudit posts one audit line (with the audit chain's head hash, written by the
// router) to the audit channel.
var _ chat.SecurityPoster = (*Notifier)(nil)

// PostSecurity posts an alert to the security channel, if one is configured.
func (n *Notifier) PostSecurity(ctx context.Context, text string) error {
	if n.security == "" {
		return nil
	}
	msg := chat.Message{Text: text}
	err := n.call(ctx, func(ctx context.Context) error {
		_, _, err := n.api.PostMessageContext(ctx, n.security, messageOptions(msg, false)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("post alert to %s: %w", n.security, err)
	}
	return nil
}

func (n *Notifier) PostAudit(ctx context.Context, text string) error {
	msg := chat.Message{Text: text}
	err := n.call(ctx, func(ctx context.Context) error {
		_, _, err := n.api.PostMessageContext(ctx, n.audit, messageOptions(msg, false)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("post audit event to %s: %w", n.audit, err)
	}
	return nil
}
