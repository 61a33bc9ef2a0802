package bot

// The approvals hooks: what the bot does when a request changes state (cards updated
// in place, the requester and approvers told) and when an audit event is written.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mfadesk/mfadesk/approvals"
)

// OnChange is the approvals hook: it updates every posted card of the request in
// place and, once the request is over, tells the requester.
func (r *Router) OnChange(req approvals.Request) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	card := r.updateCards(ctx, req)
	if !req.State.Open() {
		if n, ok := r.notifiers[Platform(req.Requester.Platform)]; ok {
			to := Caller{Platform: Platform(req.Requester.Platform), ChatID: req.Requester.ChatID, ObjectID: req.Requester.ObjectID, Name: req.Requester.DisplayName}
			msg := OutcomeMessage(req, card)
			if err := n.Tell(ctx, to, msg); err != nil {
				r.log.ErrorContext(ctx, "tell requester", "request", req.ID, "err", err)
			}
		}
		if req.Bulk == nil { // the users of a bulk run are not told one by one
			r.noticeTarget(ctx, req)
		}
	}
}

// updateCards updates every posted card of the request in place and returns the card.
func (r *Router) updateCards(ctx context.Context, req approvals.Request) Message {
	refs, err := r.cards.Cards(ctx, req.ID)
	if err != nil {
		r.log.ErrorContext(ctx, "read approval cards", "request", req.ID, "err", err)
	}
	card := r.render(req)
	for _, ref := range refs {
		n, ok := r.notifiers[ref.Platform]
		if !ok {
			continue
		}
		if err := n.UpdateApproval(ctx, ref, card); err != nil {
			r.log.ErrorContext(ctx, "update approval card", "request", req.ID, "platform", ref.Platform, "err", err)
		}
	}
	return card
}

// OutcomeMessage tells the requester how their request ended. The headline says it
// (Teams and Slack show a card's title, not its summary text) and so does the text,
// which is all the web chat's inbox and a notification show: for a denial, who denied
// it and why, as the deny box promises the approver.
func OutcomeMessage(req approvals.Request, card Message) Message {
	is := "is " + stateWords(req)
	if req.State == approvals.StateFailed {
		is = "failed"
	}
	text := fmt.Sprintf("Your request %s (%s for %s) %s", req.ID, req.Action, req.Target.String(), is)
	switch req.State {
	case approvals.StateDenied:
		for _, d := range req.Decisions {
			if d.Verdict == approvals.VerdictDeny {
				text += " by " + d.By.String()
				if j := strings.TrimSpace(d.Justification); j != "" {
					text += ": " + strings.TrimSuffix(maskPhones(j), ".")
				}
			}
		}
	case approvals.StateExpired:
		text += " (no approver decided by " + fmtTime(req.Expires) + "); nothing ran"
	case approvals.StateCancelled:
		if req.NotMe {
			text += " (at " + fmtTime(req.Updated) + ", because " + req.Target.String() + " said they did not ask for it); nothing ran"
			break
		}
		text += " (cancelled by " + req.Requester.String() + " at " + fmtTime(req.Updated) + "); nothing ran"
	case approvals.StateFailed:
		if req.Error != "" {
			text += ": " + strings.TrimSuffix(req.Error, ".")
		}
	}
	return Message{
		Private:   true,
		Title:     fmt.Sprintf("Your request %s %s", req.ID, is),
		Text:      text + ".",
		Sections:  card.Sections,
		RequestID: req.ID,
	}
}

// OnAudit is the approvals hook that posts every audit event, with the chain head, to
// the audit channel of every platform: the chat history then witnesses the chain. A
// method registered after a reset (the watch) also goes to the security channel,
// where one is configured: it is the moment an impersonator who got the reset through
// would take the account, and the people who act on that read that channel.
func (r *Router) OnAudit(ev approvals.Event, head approvals.Head) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	line := AuditLine(ev, head)
	for p, n := range r.notifiers {
		if err := n.PostAudit(ctx, line); err != nil {
			r.log.ErrorContext(ctx, "post audit event", "platform", p, "seq", ev.Seq, "err", err)
		}
		if ev.Kind != approvals.EventWatchRegistration {
			continue
		}
		if sp, ok := n.(SecurityPoster); ok {
			if err := sp.PostSecurity(ctx, line); err != nil {
				r.log.ErrorContext(ctx, "post watch alert to the security channel", "platform", p, "seq", ev.Seq, "err", err)
			}
		}
	}
}

// AuditLine renders one audit event for the audit channel.
func AuditLine(ev approvals.Event, head approvals.Head) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s %s", ev.Seq, fmtTime(ev.Time), ev.Kind)
	if ev.RequestID != "" {
		fmt.Fprintf(&b, " %s", ev.RequestID)
	}
	if ev.Action != "" {
		fmt.Fprintf(&b, " %s", ev.Action)
	}
	if ev.Target.ObjectID != "" || ev.Target.UPN != "" || ev.Target.DisplayName != "" { // a bulk request: "8 users (group …)"
		fmt.Fprintf(&b, " target %s", ev.Target.String())
	}
	if ev.Actor.ObjectID == "" && ev.Actor.ChatID == "" {
		b.WriteString(" by mfadesk")
	} else {
		fmt.Fprintf(&b, " by %s", ev.Actor.String())
		if ev.Actor.ObjectID != "" {
			fmt.Fprintf(&b, " (%s)", ev.Actor.ObjectID)
		}
	}
	if ev.State != "" {
		fmt.Fprintf(&b, " → %s", ev.State)
	}
	if ev.Code != "" {
		fmt.Fprintf(&b, " [%s]", string(ev.Code)) // not %s of the Code: its Error() adds "approvals: "
	}
	if ev.Detail != "" {
		fmt.Fprintf(&b, ": %s", clip(ev.Detail, 300))
	}
	h := head.Hash
	if len(h) > 16 {
		h = h[:16]
	}
	fmt.Fprintf(&b, " · chain head #%d %s", head.Seq, h)
	return b.String()
}
