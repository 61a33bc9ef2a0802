package bot

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
)

// Reasons mfadesk itself skips a user of a bulk re-register, besides the rollback
// rule's (actions.Skip*).
const (
	SkipNotFound    = "not found in the directory"
	SkipProtected   = "protected target"
	SkipOpenRequest = approvals.BulkSkipOpenRequest
	SkipSelf        = "is the requester"
)

// DefaultBulkMax is the most users one bulk request may name (the policy's default).
const DefaultBulkMax = approvals.DefaultBulkMax

// BulkPlan is a bulk re-register checked user by user: who will be re-registered
// (each with the methods snapshot the approver approves) and who is skipped, and why.
type BulkPlan struct {
	Eligible []approvals.BulkUser
	// Skipped maps a reason to the users it skips (UPN, else what was given).
	Skipped map[string][]string
}

// Counts says in one line how many are eligible and how many each reason skips.
func (p BulkPlan) Counts() string {
	return approvals.BulkSet{Users: p.Eligible, Skipped: p.Skipped}.Counts()
}

// BulkCheck is what checking a bulk request needs.
type BulkCheck struct {
	Gather actions.Gatherer
	// Protection is the protected-target rule of single requests (ApprovalsDirectory).
	Protection func(ctx context.Context, objectID string) (approvals.Protection, error)
	// Open reports whether a target already has an open request.
	Open      func(objectID string) bool
	InScope   []actions.MethodType
	Requester string // object id
	// Max is the most users a request may name (default DefaultBulkMax).
	Max int
	// Concurrency bounds the users read at once (default 8).
	Concurrency int
}

// Check applies, to each user, mfadesk's rules (found, not the requester, not
// protected, no open request) and the rollback rule (methods to reset, per-user MFA
// off, not a guest). More than Max users is refused before any lookup.
func (c BulkCheck) Check(ctx context.Context, refs []actions.UserRef) (BulkPlan, error) {
	max := c.Max
	if max <= 0 {
		max = approvals.DefaultBulkMax
	}
	if len(refs) > max {
		return BulkPlan{}, errors.New(bulkTooMany(max, len(refs)))
	}
	conc := c.Concurrency
	if conc <= 0 {
		conc = 8
	}
	type answer struct {
		user   *approvals.BulkUser
		label  string
		reason string
	}
	answers := make([]answer, len(refs))
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			answers[i] = func() answer {
				ev, err := c.Gather.Gather(ctx, ref, actions.Query{Sources: actions.SourceUser | actions.SourceMethods | actions.SourcePerUserMFA})
				if err != nil {
					if actions.KindOf(err) == actions.KindNotFound {
						return answer{label: ref.Value, reason: SkipNotFound}
					}
					return answer{label: ref.Value, reason: actions.SkipUnreadable}
				}
				u := ev.User
				a := answer{label: u.UPN}
				switch {
				case strings.EqualFold(u.ID, c.Requester):
					a.reason = SkipSelf
					return a
				case c.Open != nil && c.Open(strings.ToLower(u.ID)):
					a.reason = SkipOpenRequest
					return a
				}
				if c.Protection != nil {
					p, err := c.Protection(ctx, u.ID)
					switch {
					case err != nil:
						a.reason = "protection could not be checked" // fail closed
						return a
					case p.Protected:
						a.reason = SkipProtected
						return a
					}
				}
				if a.reason = actions.ReregisterSkip(ev, c.InScope); a.reason != "" {
					return a
				}
				bu := approvals.BulkUser{ObjectID: strings.ToLower(u.ID), UPN: u.UPN, DisplayName: u.DisplayName}
				for _, m := range actions.Snapshot(ev.Methods) {
					if m.Type != actions.MethodPassword {
						bu.Methods = append(bu.Methods, approvals.MethodRef{ID: m.ID, Type: string(m.Type), Label: m.Label})
					}
				}
				a.user = &bu
				return a
			}()
		}()
	}
	wg.Wait()
	plan := BulkPlan{Skipped: map[string][]string{}}
	seen := map[string]bool{}
	for _, a := range answers {
		if a.user != nil {
			if seen[a.user.ObjectID] {
				continue // named twice (id and UPN): once is enough
			}
			seen[a.user.ObjectID] = true
			plan.Eligible = append(plan.Eligible, *a.user)
			continue
		}
		plan.Skipped[a.reason] = append(plan.Skipped[a.reason], a.label)
	}
	return plan, ctx.Err()
}

// BulkReregister is the work of a bulk re-register for one user: the single-user
// re-register against that user's approved snapshot. protection, if not nil, is asked
// again just before: a user who became protected since approval (or whose protection
// cannot be read) fails, alone, with nothing deleted. A stale snapshot fails that user
// only.
func BulkReregister(w actions.Writer, protection func(ctx context.Context, objectID string) (approvals.Protection, error)) approvals.BulkWork {
	return func(ctx context.Context, u approvals.BulkUser) (approvals.BulkResult, error) {
		if protection != nil {
			p, err := protection(ctx, u.ObjectID)
			switch {
			case err != nil && ctx.Err() != nil:
				return approvals.BulkResult{}, err
			case err != nil:
				return approvals.BulkResult{ObjectID: u.ObjectID, UPN: u.UPN, Outcome: approvals.BulkFailed,
					Detail: "Not re-registered: the user's protection could not be checked now."}, nil
			case p.Protected:
				return approvals.BulkResult{ObjectID: u.ObjectID, UPN: u.UPN, Outcome: approvals.BulkFailed,
					Detail: "Not re-registered: the user became a protected target since approval (" + strings.Join(p.Reasons, "; ") + ")."}, nil
			}
		}
		snap := make([]actions.MethodRef, 0, len(u.Methods))
		for _, m := range u.Methods {
			snap = append(snap, actions.MethodRef{ID: m.ID, Type: actions.MethodType(m.Type), Label: m.Label})
		}
		res, err := w.Reregister(ctx, u.ObjectID, snap, nil)
		r := approvals.BulkResult{ObjectID: u.ObjectID, UPN: u.UPN, Detail: res.Summary}
		for _, s := range res.Steps {
			r.Steps = append(r.Steps, approvals.Step{Name: s.Action, Target: s.Method.Label, Outcome: string(s.Outcome), Detail: s.Reason, At: s.At})
		}
		switch {
		case err != nil && actions.KindOf(err) == actions.KindStale:
			r.Outcome, r.Detail = approvals.BulkStale, actions.Explain(err)
			return r, nil
		case err != nil:
			return r, err
		case res.Failed():
			r.Outcome = approvals.BulkFailed
			return r, errors.New(res.Summary)
		}
		r.Outcome = approvals.BulkDone
		return r, nil
	}
}
