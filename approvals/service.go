package approvals

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
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
	// BulkWork carries out a bulk reregister for one user; without it bulk
	// requests are refused.
	BulkWork BulkWork
	// OnBulkProgress is called with a running bulk request and its count so far
	// (BulkRun), at most every few seconds, for the card.
	OnBulkProgress func(Request)
	// Background is the context bulk runs live under (the process's); default
	// context.Background(). Shutdown ends them.
	Background context.Context
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

	// Bulk runs: started by an approval, a Continue or Recover, owned here.
	bulk           *BulkRunner
	bulkWork       BulkWork
	onBulkProgress func(Request)
	bgMu           sync.Mutex
	bgCtx          context.Context
	bgCancel       context.CancelFunc
	bg             sync.WaitGroup
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
	bg := opts.Background
	if bg == nil {
		bg = context.Background()
	}
	s.bulk, s.bulkWork, s.onBulkProgress = NewBulkRunner(s.store), opts.BulkWork, opts.OnBulkProgress
	s.bgCtx, s.bgCancel = context.WithCancel(bg)
	if err := ensureSchema(ctx, s.store); err != nil {
		return nil, err
	}
	return s, nil
}

// Policy returns the effective policy, defaults filled in.
func (s *Service) Policy() Policy { return s.policy }

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
// state. It is the only write of a request, so it checks the move from the stored
// state against the state machine (transitions) and writes nothing on an illegal one.
func (w *wtx) save(r *Request) error {
	var from State
	if old := w.tx.Get(bucketRequests, []byte(r.ID)); old != nil {
		prev, err := decodeRequest(old)
		if err != nil {
			return fmt.Errorf("save request %s: read its stored state: %w", r.ID, err)
		}
		from = prev.State
	}
	if err := checkTransition(r.ID, from, r.State); err != nil {
		return err
	}
	r.Updated = w.now
	b, err := encodeRequest(*r)
	if err != nil {
		return err
	}
	if err := w.tx.Put(bucketRequests, []byte(r.ID), b); err != nil {
		return fmt.Errorf("store request %s: %w", r.ID, err)
	}
	// A bulk request holds every user of its set, so that no other request about
	// one of them is filed while it is open.
	for _, oid := range r.subjects() {
		key := []byte(oid)
		if r.State.Open() {
			err = w.tx.Put(bucketOpen, key, []byte(r.ID))
		} else if bytes.Equal(w.tx.Get(bucketOpen, key), []byte(r.ID)) {
			err = w.tx.Delete(bucketOpen, key)
		}
		if err != nil {
			return fmt.Errorf("index open request %s: %w", r.ID, err)
		}
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

func joinDetail(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
