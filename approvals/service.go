package approvals

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/mfadesk/mfadesk/actions"
)

// Executor carries out an approved request; bot.Executor implements it with actions' writes.
type Executor interface {
	// Execute performs req's action. record appends one step to the stored record,
	// in a transaction of its own, while the request stays executing: call it as
	// soon as each step is done (or failed), so a crash or a failed save of the
	// result never loses what was already changed. When record returns an error,
	// stop and return it: a step that cannot be recorded must not be followed by
	// another.
	//
	// resume is true when an earlier run may have been interrupted part-way (a
	// restart while executing, or a Retry after a failed run): req.Steps then holds
	// the steps recorded so far, and the executor must never run again a step
	// recorded as done (a revoke, a temporary access pass); it re-lists what is
	// left and continues, never assuming a clean start.
	//
	// The returned steps are this run's steps; they are stored (after the steps
	// recorded before this run, without repeating those this run recorded) even
	// when err is non-nil. A non-nil err marks the request failed with err's text;
	// wrap it with Transient when trying again later may succeed and is safe.
	Execute(ctx context.Context, req Request, resume bool, record func(ctx context.Context, s Step) error) (Result, error)
}

// DefaultExecTimeout bounds one run of the Executor.
const DefaultExecTimeout = 5 * time.Minute

// Options configure New.
type Options struct {
	Store     Store     // required
	Directory Directory // required
	Executor  Executor  // required
	Policy    Policy    // the helpdesk and approvers groups are required

	// Clock returns the current time; default time.Now. Tests inject one.
	Clock func() time.Time
	// OnChange is called with the new version of each request a commit changed.
	OnChange func(Request)
	// OnAudit is called with each event a commit appended and the chain head after
	// that commit, for the audit channel (posting the head there anchors the chain).
	//
	// Hooks run synchronously after the commit, outside any transaction, in the
	// goroutine that committed; they may call the Service, but a slow hook delays
	// the caller. Hooks of concurrent commits may interleave: Event.Seq orders them.
	OnAudit func(Event, Head)
	// Logger receives the few things that cannot be returned (a failed refusal
	// audit, a recovered executor panic). Default: discard.
	Logger *slog.Logger
	// ExecTimeout bounds one run of the Executor; default DefaultExecTimeout.
	ExecTimeout time.Duration
}

// Service is the two-person rule over a Store. It is safe for concurrent use.
type Service struct {
	store       Store
	dir         Directory
	exec        Executor
	policy      Policy
	now         func() time.Time
	onChange    func(Request)
	onAudit     func(Event, Head)
	log         *slog.Logger
	execTimeout time.Duration

	// running holds the ids this process is executing between claiming a request
	// and recording its result, so Recover in this process never starts a second,
	// concurrent run. The store's lock keeps other processes out.
	mu      sync.Mutex
	running map[string]bool
}

// New checks the options and the database schema and returns a Service. It fails
// (so serve refuses to start) when the policy lacks either group, when a dependency
// is missing, or when the database was written by a newer mfadesk.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.Store == nil || opts.Directory == nil || opts.Executor == nil {
		return nil, errors.New("approvals: a store, a directory and an executor are required")
	}
	pol, err := opts.Policy.normalized()
	if err != nil {
		return nil, fmt.Errorf("approvals policy: %w", err)
	}
	s := &Service{
		store:       opts.Store,
		dir:         opts.Directory,
		exec:        opts.Executor,
		policy:      pol,
		now:         opts.Clock,
		onChange:    opts.OnChange,
		onAudit:     opts.OnAudit,
		log:         opts.Logger,
		execTimeout: opts.ExecTimeout,
		running:     map[string]bool{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.execTimeout <= 0 {
		s.execTimeout = DefaultExecTimeout
	}
	if err := ensureSchema(ctx, s.store); err != nil {
		return nil, err
	}
	return s, nil
}

// Policy returns the effective policy, defaults filled in.
func (s *Service) Policy() Policy { return s.policy }

// Submit files a request after checking the requester, the form, the target and the
// limits. A refusal is an *Error (audited unless ErrInvalid) and stores no request.
func (s *Service) Submit(ctx context.Context, in NewRequest) (Request, error) {
	in = in.normalized()
	r, err := s.submit(ctx, in)
	if err != nil {
		s.recordRefusal(ctx, "file a "+string(in.Action)+" request", in.Requester, "", in.Action, in.Target, err)
		return Request{}, fmt.Errorf("file %s request for %s: %w", in.Action, in.Target, err)
	}
	return r, nil
}

func (s *Service) submit(ctx context.Context, in NewRequest) (Request, error) {
	if err := in.validate(s.policy); err != nil {
		return Request{}, err
	}
	in = in.masked()
	prot, needed, err := s.checkFiling(ctx, in.Action, in.Requester, in.Target, in.Verification)
	if err != nil {
		return Request{}, err
	}
	id, err := newID()
	if err != nil {
		return Request{}, err
	}
	var r Request
	err = s.update(ctx, func(w *wtx) error {
		open, found, err := w.openFor(in.Target.ObjectID)
		if err != nil {
			return err
		}
		if found {
			return openRequestRefusal(open)
		}
		if err := s.checkRate(w.tx, w.now, in.Requester.ObjectID); err != nil {
			return err
		}
		if w.tx.Get(bucketRequests, []byte(id)) != nil {
			return fmt.Errorf("request id %s already exists", id) // 2^-128: a broken random source
		}
		r = Request{
			ID: id, Action: in.Action, Target: in.Target, Methods: in.Methods, TAP: in.TAP,
			Requester: in.Requester, Reason: in.Reason, Verification: in.Verification,
			Ticket: in.Ticket, Created: w.now, Expires: w.now.Add(s.policy.TTL),
			State: StatePending, Protection: prot, ApprovalsNeeded: needed, Risk: in.Risk,
		}
		if err := w.save(&r); err != nil {
			return err
		}
		if err := w.tx.Put(bucketByRequester, requesterKey(r.Requester.ObjectID, r.Created, r.ID), []byte{}); err != nil {
			return fmt.Errorf("index request %s: %w", r.ID, err)
		}
		digest, err := requestDigest(r)
		if err != nil {
			return err
		}
		detail := fmt.Sprintf("reason: %s; ticket: %s; approvals needed: %d", r.Reason, r.Ticket, r.ApprovalsNeeded)
		if r.Verification.Method != "" {
			// The free-text detail stays in the record (and under the digest): it may
			// hold a phone number, and audit lines go to a channel.
			detail += "; verified by " + string(r.Verification.Method)
		}
		if r.TAP != nil {
			detail += "; " + r.TAP.describe()
		}
		if len(r.Methods) > 0 {
			detail += fmt.Sprintf("; %d methods in snapshot", len(r.Methods))
		}
		return w.audit(Event{Kind: EventCreated, RequestID: r.ID, Action: r.Action, State: r.State,
			Actor: r.Requester, Target: r.Target, Detail: detail, Digest: digest})
	})
	if err != nil {
		return Request{}, err
	}
	return r, nil
}

// openRequestRefusal refuses a new request about a target that has an open one,
// saying what can be done about it: a pending one can be decided or cancelled, an
// approved or executing one is being carried out.
func openRequestRefusal(open Request) *Error {
	if open.State == StatePending {
		return refusef(ErrOpenRequestExists, "Request %s about %s is already pending; decide or cancel it before filing another.", open.ID, open.Target)
	}
	return refusef(ErrOpenRequestExists, "Request %s about %s is approved and being carried out; wait for its result before filing another.", open.ID, open.Target)
}

// checkRate counts the requester's requests filed within the window, from the stored
// index, so the limit holds across restarts.
func (s *Service) checkRate(tx Tx, now time.Time, requesterOID string) error {
	// A request filed exactly one window ago no longer counts, so "try again after
	// T" is true at T.
	since := now.Add(-s.policy.RateWindow + 1)
	prefix := []byte(requesterOID + "/")
	count := 0
	var oldest time.Time
	err := tx.Scan(bucketByRequester, requesterKey(requesterOID, since, ""), func(k, _ []byte) (bool, error) {
		if !bytes.HasPrefix(k, prefix) {
			return false, nil
		}
		if count == 0 && len(k) >= len(prefix)+8 {
			oldest = time.Unix(0, int64(binary.BigEndian.Uint64(k[len(prefix):])))
		}
		count++
		return count < s.policy.RateLimit, nil
	})
	if err != nil {
		return fmt.Errorf("count recent requests: %w", err)
	}
	if count >= s.policy.RateLimit {
		return refusef(ErrRateLimited, "You have filed %d requests in the last %s, which is the limit; try again after %s.",
			count, fmtWindow(s.policy.RateWindow), fmtTime(oldest.Add(s.policy.RateWindow)))
	}
	return nil
}

func requesterKey(oid string, created time.Time, id string) []byte {
	ns := created.UnixNano()
	if ns < 0 {
		ns = 0
	}
	k := append([]byte(oid+"/"), seqKey(uint64(ns))...)
	return append(k, id...)
}

// Decide records an approver's verdict. Approvers must be in the approvers group
// (asked now), and be neither the requester nor the target; a protected target is
// re-assessed on approval. When the last needed approval lands, Decide carries out
// the request before returning, through the Executor, exactly once however many
// approvers click at the same moment, and returns the final record (succeeded or
// failed). A refusal returns the current record, if there is one, and an *Error.
//
// Once approved, execution does not depend on ctx being alive: a chat handler's
// deadline must not strand an approved request half-done.
func (s *Service) Decide(ctx context.Context, id string, by Actor, verdict Verdict, justification string) (Request, error) {
	by = by.normalized()
	r, err := s.decide(ctx, id, by, verdict, justification)
	if err != nil {
		rid := r.ID
		if rid == "" {
			rid, _ = ParseID(id)
		}
		s.recordRefusal(ctx, string(verdict), by, rid, r.Action, r.Target, err)
		return r, fmt.Errorf("%s %s: %w", verdict, clip(id, 40), err)
	}
	return r, nil
}

func (s *Service) decide(ctx context.Context, rawID string, by Actor, verdict Verdict, justification string) (Request, error) {
	id, err := ParseID(rawID)
	if err != nil {
		return Request{}, err
	}
	if verdict != VerdictApprove && verdict != VerdictDeny {
		return Request{}, refusef(ErrInvalid, "A decision is approve or deny.")
	}
	justification = clip(justification, maxText+1)
	if len(justification) > maxText {
		return Request{}, refusef(ErrInvalid, "The justification is longer than %d characters.", maxText)
	}
	if justification == "" && s.policy.RequireJustification {
		return Request{}, refusef(ErrInvalid, "A justification is required with every decision.")
	}
	// Masked before it is stored or hashed into the chain, which cannot be edited later.
	justification = actions.MaskPhones(justification)
	pre, err := s.get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if _, ok := normOID(by.ObjectID); !ok {
		return pre, refusef(ErrNotApprover, "Your chat account is not linked to a directory user, so you cannot decide requests.")
	}
	// The cheap checks first: a double click or a late click must not cost a Graph call.
	if e := checkDecision(pre, by, s.now()); e != nil {
		if e.Code == ErrExpired && pre.State == StatePending {
			return s.expireLate(ctx, id, fmt.Sprintf("%s by %s arrived after it expired", verdict, by))
		}
		return pre, e
	}
	if err := s.requireMember(ctx, by.ObjectID, s.policy.ApproversGroupID, ErrNotApprover,
		"Only members of the approvers group can decide requests."); err != nil {
		return pre, err
	}
	var prot Protection
	needed := 1
	if verdict == VerdictApprove {
		// The target may have gained a role since the request was filed.
		if prot, needed, err = s.assessTarget(ctx, pre.Action, pre.Target, pre.Verification); err != nil {
			return pre, err
		}
	}
	r := pre
	err = s.update(ctx, func(w *wtx) error {
		cur, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		r = cur
		if cur.State == StatePending && !w.now.Before(cur.Expires) {
			r, err = w.expire(cur, fmt.Sprintf("%s by %s arrived after it expired", verdict, by))
			w.after = expiredError(cur)
			return err
		}
		if e := checkDecision(cur, by, w.now); e != nil {
			return e
		}
		digest, err := checkIntegrity(w.tx, cur)
		if err != nil {
			return err
		}
		cur.Decisions = append(cur.Decisions, Decision{By: by, At: w.now, Verdict: verdict, Justification: justification})
		ev := Event{RequestID: cur.ID, Action: cur.Action, Actor: by, Target: cur.Target, Detail: justification}
		switch verdict {
		case VerdictDeny:
			cur.State = StateDenied
			ev.Kind = EventDenied
		case VerdictApprove:
			if prot.Protected {
				cur.Protection = prot
				cur.ApprovalsNeeded = max(cur.ApprovalsNeeded, needed)
			}
			n := len(cur.Approvals())
			if n >= cur.ApprovalsNeeded {
				cur.State = StateApproved
			}
			ev.Kind = EventApproved
			// The digest binds this approval, in the chain, to exactly what was filed:
			// execution counts only approvals that carry it.
			ev.Digest = digest
			ev.Detail = joinDetail(fmt.Sprintf("approval %d of %d", n, cur.ApprovalsNeeded), justification)
		}
		ev.State = cur.State
		if err := w.save(&cur); err != nil {
			return err
		}
		r = cur
		return w.audit(ev)
	})
	if err != nil {
		return r, err
	}
	if r.State == StateApproved {
		return s.execute(ctx, r.ID, false)
	}
	return r, nil
}

// expireLate marks a pending request expired when a late click reveals it, so the
// card can say so at once instead of waiting for the sweeper.
func (s *Service) expireLate(ctx context.Context, id, detail string) (Request, error) {
	var r Request
	err := s.update(ctx, func(w *wtx) error {
		cur, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		r = cur
		switch {
		case cur.State == StatePending && !w.now.Before(cur.Expires):
			r, err = w.expire(cur, detail)
			w.after = expiredError(cur)
			return err
		case cur.State == StatePending:
			// The clock went back between the two reads; refuse rather than decide
			// without the checks this path skipped.
			return refusef(ErrExpired, "Request %s is about to expire; file a new request if it is still needed.", cur.ID)
		case cur.State == StateExpired:
			return expiredError(cur)
		}
		return alreadyDecided(cur)
	})
	return r, err
}

// Cancel withdraws a pending request; only its requester may.
func (s *Service) Cancel(ctx context.Context, id string, by Actor) (Request, error) {
	by = by.normalized()
	r, err := s.cancel(ctx, id, by)
	if err != nil {
		rid := r.ID
		if rid == "" {
			rid, _ = ParseID(id)
		}
		s.recordRefusal(ctx, "cancel", by, rid, r.Action, r.Target, err)
		return r, fmt.Errorf("cancel %s: %w", clip(id, 40), err)
	}
	return r, nil
}

func (s *Service) cancel(ctx context.Context, rawID string, by Actor) (Request, error) {
	id, err := ParseID(rawID)
	if err != nil {
		return Request{}, err
	}
	var r Request
	err = s.update(ctx, func(w *wtx) error {
		cur, err := loadRequest(w.tx, id)
		if err != nil {
			return err
		}
		r = cur
		if !sameOID(by.ObjectID, cur.Requester.ObjectID) {
			return refusef(ErrNotRequester, "Only the requester, %s, can cancel request %s.", cur.Requester, cur.ID)
		}
		switch {
		case cur.State == StatePending && !w.now.Before(cur.Expires):
			r, err = w.expire(cur, "cancellation arrived after it expired")
			w.after = expiredError(cur)
			return err
		case cur.State == StateExpired:
			return expiredError(cur)
		case cur.State != StatePending:
			return alreadyDecided(cur)
		}
		cur.State = StateCancelled
		if err := w.save(&cur); err != nil {
			return err
		}
		r = cur
		return w.audit(Event{Kind: EventCancelled, RequestID: cur.ID, Action: cur.Action, State: cur.State,
			Actor: by, Target: cur.Target})
	})
	return r, err
}

// Sweep marks every pending request past its expiry as expired and returns them, so
// the bot can update their cards.
func (s *Service) Sweep(ctx context.Context) ([]Request, error) {
	// Look first in a read transaction: most sweeps find nothing, and a write
	// transaction would take the writer lock and an fsync every interval for it.
	var due []string
	now := s.now()
	err := s.store.View(ctx, func(tx Tx) error {
		open, err := loadOpen(tx)
		if err != nil {
			return err
		}
		for _, r := range open {
			if r.State == StatePending && !now.Before(r.Expires) {
				due = append(due, r.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sweep expired requests: %w", err)
	}
	if len(due) == 0 {
		return nil, nil
	}
	var out []Request
	for len(due) > 0 {
		// A few per transaction: etcd caps the operations of one (--max-txn-ops,
		// 128 by default), and a sweep after downtime may find many.
		batch := due[:min(len(due), sweepBatch)]
		due = due[len(batch):]
		n := len(out)
		err = s.update(ctx, func(w *wtx) error {
			out = out[:n]
			for _, id := range batch {
				r, err := loadRequest(w.tx, id)
				if err != nil {
					return err
				}
				if r.State != StatePending || w.now.Before(r.Expires) {
					continue
				}
				if r, err = w.expire(r, "expired while pending"); err != nil {
					return err
				}
				out = append(out, r)
			}
			return nil
		})
		if err != nil {
			return out[:n], fmt.Errorf("sweep expired requests: %w", err)
		}
	}
	return out, nil
}

// sweepBatch is how many requests one sweep transaction expires at most.
const sweepBatch = 16

// Run sweeps expired requests at once and then every interval, until ctx ends. The
// bot learns of expiries through OnChange.
func (s *Service) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("sweep interval %s is not positive", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweep expired requests", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Get returns one request.
func (s *Service) Get(ctx context.Context, id string) (Request, error) {
	nid, err := ParseID(id)
	if err != nil {
		return Request{}, err
	}
	r, err := s.get(ctx, nid)
	if err != nil {
		return Request{}, fmt.Errorf("get %s: %w", nid, err)
	}
	return r, nil
}

func (s *Service) get(ctx context.Context, id string) (Request, error) {
	var r Request
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		r, err = loadRequest(tx, id)
		return err
	})
	return r, err
}

// loadOpen reads every open request in tx, oldest first.
func loadOpen(tx Tx) ([]Request, error) {
	ids, err := openIDs(tx)
	if err != nil {
		return nil, err
	}
	out := make([]Request, 0, len(ids))
	for _, id := range ids {
		r, err := loadRequest(tx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// OpenRequests returns the open (pending, approved or executing) requests, oldest
// first: what the bot's "pending" command filters for the caller.
func (s *Service) OpenRequests(ctx context.Context) ([]Request, error) {
	var out []Request
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = loadOpen(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list open requests: %w", err)
	}
	slices.SortFunc(out, func(a, b Request) int { return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}

// ListFilter selects requests for List; zero fields match everything.
type ListFilter struct {
	States            []State
	TargetObjectID    string
	RequesterObjectID string
	// Limit caps the result (newest first); 0 means no cap.
	Limit int
}

// List returns the requests matching f, newest first.
func (s *Service) List(ctx context.Context, f ListFilter) ([]Request, error) {
	return listRequests(ctx, s.store, f)
}

func listRequests(ctx context.Context, st Store, f ListFilter) ([]Request, error) {
	var out []Request
	err := st.View(ctx, func(tx Tx) error {
		return tx.Scan(bucketRequests, nil, func(k, v []byte) (bool, error) {
			r, err := decodeRequest(v)
			if err != nil {
				return false, fmt.Errorf("request %q: %w", clip(string(k), 40), err)
			}
			if (len(f.States) == 0 || slices.Contains(f.States, r.State)) &&
				(f.TargetObjectID == "" || sameOID(f.TargetObjectID, r.Target.ObjectID)) &&
				(f.RequesterObjectID == "" || sameOID(f.RequesterObjectID, r.Requester.ObjectID)) {
				out = append(out, r)
			}
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	slices.SortFunc(out, func(a, b Request) int { return cmp.Or(b.Created.Compare(a.Created), cmp.Compare(a.ID, b.ID)) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// History returns the audit events of one request, in order, for "show".
func (s *Service) History(ctx context.Context, id string) ([]Event, error) {
	nid, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	var out []Event
	err = s.store.View(ctx, func(tx Tx) error {
		out, err = requestEvents(tx, nid)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", nid, err)
	}
	return out, nil
}

// Export writes the audit events at or after since as JSON lines (see doc.go).
func (s *Service) Export(ctx context.Context, w io.Writer, since time.Time) error {
	return exportEvents(ctx, s.store, w, since)
}

// Verify checks the whole audit chain. Tampering is reported in the VerifyReport;
// the error is for failing to read at all.
func (s *Service) Verify(ctx context.Context) (VerifyReport, error) {
	return verifyStore(ctx, s.store)
}

// Head returns the current head of the audit chain.
func (s *Service) Head(ctx context.Context) (Head, error) {
	var h Head
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		h, err = readHead(tx)
		return err
	})
	return h, err
}

// Events returns up to limit (default 100) of the newest audit events at or after
// since, oldest first, for an audit pane.
func (s *Service) Events(ctx context.Context, since time.Time, limit int) ([]Event, error) {
	return recentEvents(ctx, s.store, since, limit)
}

// recordRefusal appends an access_refused event for err, in a transaction of its
// own because the refused transaction rolled back.
func (s *Service) recordRefusal(ctx context.Context, attempt string, by Actor, reqID string, action Action, target Target, err error) {
	var e *Error
	if !errors.As(err, &e) || !e.Code.audited() {
		return
	}
	// A refusal is worth recording even when the caller has stopped waiting.
	ctx = context.WithoutCancel(ctx)
	uerr := s.update(ctx, func(w *wtx) error {
		return w.audit(Event{Kind: EventRefused, RequestID: reqID, Action: Action(clip(string(action), maxShort)),
			Actor: by, Target: target, Code: e.Code, Detail: attempt + ": " + e.Msg})
	})
	if uerr != nil {
		s.log.Error("record refused access in the audit log", "request", reqID, "code", string(e.Code), "err", uerr)
	}
}

// wtx is one write transaction of the Service: it collects what changed so hooks
// can run after the commit.
type wtx struct {
	tx      Tx
	now     time.Time
	changed []Request
	events  []Event
	// after is returned by update after a successful commit: a refusal whose
	// transaction still had to write (a request found expired).
	after error
}

func (s *Service) update(ctx context.Context, fn func(*wtx) error) error {
	var w *wtx
	err := s.store.Update(ctx, func(tx Tx) error {
		w = &wtx{tx: tx, now: s.now().UTC()}
		return fn(w)
	})
	if err != nil {
		return err
	}
	s.notify(w.changed, w.events)
	return w.after
}

func (s *Service) notify(changed []Request, events []Event) {
	if s.onAudit != nil && len(events) > 0 {
		last := events[len(events)-1]
		head := Head{Seq: last.Seq, Hash: last.Hash}
		for _, e := range events {
			s.onAudit(e, head)
		}
	}
	if s.onChange != nil {
		for _, r := range changed {
			s.onChange(r)
		}
	}
}

func loadRequest(tx Tx, id string) (Request, error) {
	b := tx.Get(bucketRequests, []byte(id))
	if b == nil {
		return Request{}, refusef(ErrNotFound, "There is no request %s.", id)
	}
	r, err := decodeRequest(b)
	if err != nil {
		return Request{}, fmt.Errorf("load request %s: %w", id, err)
	}
	return r, nil
}

// save writes r (stamping Updated) and keeps the open-target index in step with its
// state.
func (w *wtx) save(r *Request) error {
	r.Updated = w.now
	b, err := encodeRequest(*r)
	if err != nil {
		return err
	}
	if err := w.tx.Put(bucketRequests, []byte(r.ID), b); err != nil {
		return fmt.Errorf("store request %s: %w", r.ID, err)
	}
	key := []byte(r.Target.ObjectID)
	if r.State.Open() {
		err = w.tx.Put(bucketOpen, key, []byte(r.ID))
	} else if bytes.Equal(w.tx.Get(bucketOpen, key), []byte(r.ID)) {
		err = w.tx.Delete(bucketOpen, key)
	}
	if err != nil {
		return fmt.Errorf("index open request %s: %w", r.ID, err)
	}
	for i := range w.changed {
		if w.changed[i].ID == r.ID {
			w.changed[i] = *r
			return nil
		}
	}
	w.changed = append(w.changed, *r)
	return nil
}

func (w *wtx) audit(e Event) error {
	e.Time = w.now
	stored, err := appendEvent(w.tx, e)
	if err != nil {
		return err
	}
	w.events = append(w.events, stored)
	return nil
}

// expire moves a pending request to expired and audits it as done by mfadesk.
func (w *wtx) expire(r Request, detail string) (Request, error) {
	r.State = StateExpired
	if err := w.save(&r); err != nil {
		return r, err
	}
	return r, w.audit(Event{Kind: EventExpired, RequestID: r.ID, Action: r.Action, State: r.State,
		Target: r.Target, Detail: joinDetail("expired at "+fmtTime(r.Expires), detail)})
}

// openFor returns the open request about a target, expiring it on the way if it is
// pending past its expiry (so a stale request does not block a new one until the
// sweeper comes by).
func (w *wtx) openFor(targetOID string) (Request, bool, error) {
	r, found, err := openRequest(w.tx, targetOID)
	if err != nil || !found {
		return Request{}, false, err
	}
	if stalePending(r, w.now) {
		_, err := w.expire(r, "noticed when a new request about the same user was filed")
		return Request{}, false, err
	}
	return r, true, nil
}

func openIDs(tx Tx) ([]string, error) {
	var ids []string
	err := tx.Scan(bucketOpen, nil, func(_, v []byte) (bool, error) {
		ids = append(ids, string(v))
		return true, nil
	})
	return ids, err
}

func joinDetail(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
