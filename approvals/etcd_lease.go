package approvals

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// bucketRunners holds one key per live replica, "runners/<lease id in hex>", attached
// to that replica's etcd lease: etcd deletes it when the replica stops renewing the
// lease (it died, or lost etcd for longer than the TTL). A request claimed for
// execution records its runner, so recovery on another replica can tell a request
// that is still being run from one whose runner is gone, inside the transaction that
// re-claims it.
const bucketRunners = "runners"

// replicaLease keeps this replica's etcd lease (and its runners key) alive, and
// starts a new one when it is lost.
type replicaLease struct {
	s      *EtcdStore
	ttl    int
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	sess    *concurrency.Session // nil while there is no live lease
	id      string               // sess's lease id in hex
	renewed chan struct{}        // closed when a new session starts

	leading atomic.Bool
}

func startLease(ctx context.Context, s *EtcdStore, ttl int) (*replicaLease, error) {
	lctx, cancel := context.WithCancel(context.Background())
	l := &replicaLease{s: s, ttl: ttl, ctx: lctx, cancel: cancel, done: make(chan struct{}), renewed: make(chan struct{})}
	sess, id, err := l.newSession(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	l.set(sess, id)
	go l.keep(sess)
	return l, nil
}

// newSession grants a lease (bounded by ctx), keeps it alive for as long as the
// store is open, and registers this replica under it.
func (l *replicaLease) newSession(ctx context.Context) (*concurrency.Session, string, error) {
	gctx, cancel := l.s.opCtx(ctx)
	defer cancel()
	g, err := l.s.cli.Grant(gctx, int64(l.ttl))
	if err != nil {
		return nil, "", l.s.storeErr(ctx, err, false)
	}
	id := strconv.FormatInt(int64(g.ID), 16)
	host, _ := os.Hostname()
	info, _ := json.Marshal(map[string]any{"host": host, "pid": os.Getpid(), "since": time.Now().UTC()})
	if _, err := l.s.cli.Put(gctx, l.s.key(bucketRunners, []byte(id)), string(info), clientv3.WithLease(g.ID)); err != nil {
		return nil, "", l.s.storeErr(ctx, err, false)
	}
	sess, err := concurrency.NewSession(l.s.cli, concurrency.WithLease(g.ID), concurrency.WithTTL(l.ttl), concurrency.WithContext(l.ctx))
	if err != nil {
		return nil, "", fmt.Errorf("keep lease %s alive: %w", id, err)
	}
	return sess, id, nil
}

func (l *replicaLease) set(sess *concurrency.Session, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sess, l.id = sess, id
	if sess != nil {
		close(l.renewed)
		l.renewed = make(chan struct{})
	}
}

// keep waits for the lease to be lost and starts a new one, until stop.
func (l *replicaLease) keep(sess *concurrency.Session) {
	defer close(l.done)
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-sess.Done():
		}
		old := l.current()
		l.set(nil, "")
		l.s.log.Warn("etcd lease lost: this replica stops leading and takes a new lease when etcd answers again", "replica", old)
		for delay := 250 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
			var (
				id  string
				err error
			)
			if sess, id, err = l.newSession(l.ctx); err == nil {
				l.set(sess, id)
				l.s.log.Info("etcd lease renewed", "replica", id)
				break
			}
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(delay):
			}
		}
	}
}

// live returns the current session and its id, or nil while there is none.
func (l *replicaLease) live() (*concurrency.Session, string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sess != nil {
		select {
		case <-l.sess.Done():
		default:
			return l.sess, l.id, nil
		}
	}
	return nil, "", l.renewed
}

func (l *replicaLease) current() string {
	_, id, _ := l.live()
	return id
}

// stop revokes the lease, so other replicas take over at once rather than after
// the TTL, and ends the keeper.
func (l *replicaLease) stop() {
	sess, _, _ := l.live()
	l.cancel()
	<-l.done
	if sess != nil {
		ctx, cancel := l.s.opCtx(context.Background())
		defer cancel()
		_, _ = l.s.cli.Revoke(ctx, sess.Lease())
	}
}

// runner implements sharedStore: this replica's id while its lease is live, "" when
// it has none (then claims are refused: see Service.runnerFor).
func (s *EtcdStore) runner() string { return s.lease.current() }

// Replica returns this replica's id (its lease in hex), "" while it holds no lease.
func (s *EtcdStore) Replica() string { return s.lease.current() }

// Leading reports whether this replica is the leader now.
func (s *EtcdStore) Leading() bool { return s.lease.leading.Load() }

// Lead runs work while this replica is the leader, chosen by an etcd election tied to
// its lease, and again each time it wins after losing; it returns when ctx ends. The
// context work gets is cancelled the moment the lease is lost (or ctx ends), and work
// must return then. onChange, if not nil, is told each change of leadership.
func (s *EtcdStore) Lead(ctx context.Context, onChange func(leading bool, replica string), work func(context.Context)) {
	notify := func(v bool, id string) {
		s.lease.leading.Store(v)
		if onChange != nil {
			onChange(v, id)
		}
	}
	for ctx.Err() == nil {
		sess, id, renewed := s.lease.live()
		if sess == nil {
			select {
			case <-ctx.Done():
				return
			case <-renewed:
			}
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-sess.Done():
				cancel()
			case <-lctx.Done():
			}
		}()
		el := concurrency.NewElection(sess, s.prefix+"/leader")
		if err := el.Campaign(lctx, id); err != nil {
			cancel()
			if ctx.Err() == nil {
				s.log.Warn("campaign for leadership", "replica", id, "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		notify(true, id)
		work(lctx)
		cancel()
		notify(false, id)
		rctx, rcancel := s.opCtx(context.Background())
		_ = el.Resign(rctx)
		rcancel()
	}
}
