package approvals

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// EtcdOptions configure OpenEtcd.
type EtcdOptions struct {
	// Endpoints are the etcd client URLs ("http://10.0.0.5:2379", or https with TLS).
	Endpoints []string
	// Prefix is prepended to every key; several mfadesk installations can share a
	// cluster under different prefixes. Default DefaultEtcdPrefix.
	Prefix string
	// TLS, when set, is used for the client connection (server CA, client certificate).
	TLS *tls.Config
	// Username and Password authenticate to etcd when set.
	Username, Password string
	// DialTimeout bounds the first connection (default 5s).
	DialTimeout time.Duration
	// RequestTimeout bounds each etcd call; past it the store counts as unreachable
	// and the call is refused with ErrStoreUnavailable (default 5s).
	RequestTimeout time.Duration
	// LeaseTTL is how long, in seconds, a replica that died keeps its leadership and
	// its claim on the requests it was running before another replica takes over
	// (default DefaultLeaseTTL).
	LeaseTTL int
	// Logger receives lease losses and renewals. Default: discard.
	Logger *slog.Logger
}

const (
	// DefaultEtcdPrefix is the key prefix when EtcdOptions.Prefix is empty.
	DefaultEtcdPrefix = "/mfadesk"
	// DefaultLeaseTTL is the replica lease, in seconds.
	DefaultLeaseTTL = 10

	// etcdPage is how many keys one range read returns while scanning.
	etcdPage = 256
	// etcdMaxAttempts bounds how often Update re-runs a transaction that lost a race
	// with another writer before giving up.
	etcdMaxAttempts = 64
	// etcdMaxContention is how long an Update keeps retrying lost races (after
	// etcdMaxAttempts) before it reports the contention.
	etcdMaxContention = 30 * time.Second
)

// EtcdStore is the etcd implementation of Store, for several mfadesk replicas sharing
// one approvals database. A bucket is the key range "<prefix>/<bucket>/", so keys keep
// their byte order and a scan is a paged range read.
//
// Reads in a transaction are served at one revision (the revision of the first read),
// so a View is a consistent snapshot that takes no lock. Update buffers the writes
// and commits them with one etcd Txn guarded by the mod revision of every key it read
// (0 for a key it found absent) and, for each scanned range, by "nothing in the range
// changed after that revision". If another writer got there first the Txn does
// nothing and Update runs fn again on fresh data, so a transition always re-reads and
// compares before it writes, and two writers can never both append audit event N:
// both read the chain head, one commit moves it, the other is retried.
type EtcdStore struct {
	cli     *clientv3.Client
	prefix  string
	timeout time.Duration
	log     *slog.Logger

	// writer serialises this process's Updates: they would only conflict with each
	// other on the audit head, and waiting here is cheaper than a round trip that is
	// bound to fail. Conflicts with other processes are still resolved by the Txn.
	writer chan struct{}

	lease *replicaLease
}

// OpenEtcd connects to etcd, checks it answers, and starts this replica's lease.
func OpenEtcd(ctx context.Context, opts EtcdOptions) (*EtcdStore, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("open etcd: no endpoints")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultEtcdPrefix
	}
	if !strings.HasPrefix(opts.Prefix, "/") || strings.HasSuffix(opts.Prefix, "/") {
		return nil, fmt.Errorf("open etcd: prefix %q must start with / and not end with one", opts.Prefix)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: opts.Endpoints, TLS: opts.TLS, Username: opts.Username, Password: opts.Password,
		DialTimeout: opts.DialTimeout, Context: ctx,
		// A dead endpoint is detected by keepalive rather than a hung call.
		DialKeepAliveTime: 5 * time.Second, DialKeepAliveTimeout: 3 * time.Second,
		// etcd's own client logs through zap; mfadesk reports what matters itself.
		Logger: zap.NewNop(),
		// Reconnect within two seconds of etcd coming back, not gRPC's default of
		// up to two minutes: the store recovers by itself, soon.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 2 * time.Second,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("open etcd %s: %w", strings.Join(opts.Endpoints, ","), err)
	}
	s := &EtcdStore{cli: cli, prefix: opts.Prefix, timeout: opts.RequestTimeout, log: opts.Logger,
		writer: make(chan struct{}, 1)}
	pctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	if _, err := cli.Get(pctx, s.key(bucketMeta, []byte(keySchema))); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("open etcd %s: %w", strings.Join(opts.Endpoints, ","), s.storeErr(ctx, err, false))
	}
	if s.lease, err = startLease(pctx, s, opts.LeaseTTL); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("open etcd %s: start the replica lease: %w", strings.Join(opts.Endpoints, ","), err)
	}
	return s, nil
}

// Close stops the lease (other replicas take over at once) and the client.
func (s *EtcdStore) Close() error {
	s.lease.stop()
	return s.cli.Close()
}

// Prefix returns the key prefix the store lives under.
func (s *EtcdStore) Prefix() string { return s.prefix }

// Ping reads one key, for readiness checks: nil when etcd answers. It gives up after
// at most two seconds, within a probe's usual timeout.
func (s *EtcdStore) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(s.timeout, 2*time.Second))
	defer cancel()
	_, err := s.cli.Get(ctx, s.key(bucketMeta, []byte(keySchema)))
	if err != nil {
		return s.storeErr(ctx, err, false)
	}
	return nil
}

// bucketPrefix is "<prefix>/<bucket>/".
func (s *EtcdStore) bucketPrefix(bucket string) string { return s.prefix + "/" + bucket + "/" }

func (s *EtcdStore) key(bucket string, k []byte) string { return s.bucketPrefix(bucket) + string(k) }

// opCtx bounds one etcd call.
func (s *EtcdStore) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// View implements Store: fn reads at one revision and takes no lock.
func (s *EtcdStore) View(ctx context.Context, fn func(Tx) error) error {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := newEtcdTx(ctx, s, true)
		err := fn(t)
		if t.err != nil {
			// The revision was compacted under a long read: read again at a newer one.
			if errors.Is(t.cause, rpctypes.ErrCompacted) && attempt < 3 {
				continue
			}
			return t.err
		}
		return err
	}
}

// Update implements Store. fn runs again (at most etcdMaxAttempts times) when the
// commit finds that something it read has changed since.
func (s *EtcdStore) Update(ctx context.Context, fn func(Tx) error) error {
	select {
	case s.writer <- struct{}{}:
		defer func() { <-s.writer }()
	case <-ctx.Done():
		return ctx.Err()
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := newEtcdTx(ctx, s, false)
		err := fn(t)
		if t.err != nil {
			// A failed read made fn decide on missing data: whatever it returned is
			// not trusted, and nothing is written.
			if errors.Is(t.cause, rpctypes.ErrCompacted) && attempt < etcdMaxAttempts {
				continue
			}
			return t.err
		}
		if err != nil {
			return err
		}
		ok, err := t.commit()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		// Give up only after many attempts and some time: under a burst every writer
		// reads the audit head, so a slow transaction can lose many races in a row.
		if attempt >= etcdMaxAttempts && time.Since(start) > etcdMaxContention {
			return fmt.Errorf("etcd transaction lost %d races with other writers in %s; giving up", attempt, time.Since(start).Round(time.Millisecond))
		}
		// Another process won; after a few immediate retries, back off (exponential,
		// jittered, capped) so two busy replicas do not keep colliding.
		if attempt > 2 {
			d := time.Duration(rand.Int64N(int64(min(1<<min(attempt, 8), 250)) * int64(time.Millisecond)))
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// storeErr turns an etcd client error into what the Service reports. Unreachable or
// timed-out etcd is ErrStoreUnavailable; committing says whether the write might have
// landed (the request was sent and no answer came back).
func (s *EtcdStore) storeErr(ctx context.Context, err error, committing bool) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("etcd: %w", cerr) // the caller gave up; not the store's fault
	}
	if !unreachable(err) {
		return fmt.Errorf("etcd: %w", err)
	}
	msg := "The approvals database (etcd) cannot be reached, so requests and decisions are refused for now; lookups still work, try again in a minute."
	if committing {
		msg = "The approvals database (etcd) stopped answering while saving this change, so it may or may not have been saved; check the request with show before trying again."
	}
	return &Error{Code: ErrStoreUnavailable, Msg: msg, Err: err}
}

func unreachable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, clientv3.ErrNoAvailableEndpoints) ||
		errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrTimeout) ||
		errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail) || errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

// pendingWrite is a buffered Put (del false) or Delete.
type pendingWrite struct {
	val []byte
	del bool
}

type keyRange struct{ start, end string }

// etcdTx is one transaction: reads pinned at rev, writes buffered until commit.
type etcdTx struct {
	ctx      context.Context
	s        *EtcdStore
	readOnly bool

	rev    int64             // revision of every read; 0 until the first read pins it
	seen   map[string]int64  // key → mod revision, for keys read with Get (0: absent)
	cache  map[string]readKV // every key read, by Get or by a scan
	ranges []keyRange        // scanned ranges
	writes map[string]pendingWrite

	err   error // first failure; the transaction is void once set
	cause error // err's underlying etcd error
}

func newEtcdTx(ctx context.Context, s *EtcdStore, readOnly bool) *etcdTx {
	return &etcdTx{ctx: ctx, s: s, readOnly: readOnly, seen: map[string]int64{}, cache: map[string]readKV{},
		writes: map[string]pendingWrite{}}
}

func (t *etcdTx) fail(err error) {
	if t.err == nil {
		t.cause = err
		t.err = t.s.storeErr(t.ctx, err, false)
	}
}

// get reads from etcd at the transaction's revision.
func (t *etcdTx) get(key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, bool) {
	if t.err != nil {
		return nil, false
	}
	if t.rev > 0 {
		opts = append(opts, clientv3.WithRev(t.rev))
	}
	ctx, cancel := t.s.opCtx(t.ctx)
	defer cancel()
	resp, err := t.s.cli.Get(ctx, key, opts...)
	if err != nil {
		t.fail(err)
		return nil, false
	}
	if t.rev == 0 {
		t.rev = resp.Header.Revision
	}
	return resp, true
}

// readKV is a key as the transaction read it.
type readKV struct {
	val    []byte // nil: absent
	modRev int64
}

// note caches what was read; a key read by Get (byGet) is also guarded at commit.
// Keys seen only by a scan are guarded by the scan's range compare instead: one
// compare per scanned key would soon exceed what etcd accepts in one Txn.
func (t *etcdTx) note(key string, modRev int64, val []byte, byGet bool) {
	if _, ok := t.cache[key]; !ok {
		t.cache[key] = readKV{val: val, modRev: modRev}
	}
	if byGet {
		if _, ok := t.seen[key]; !ok {
			t.seen[key] = t.cache[key].modRev
		}
	}
}

func validBucket(bucket string) error {
	if bucket == "" || strings.Contains(bucket, "/") {
		return fmt.Errorf("bucket name %q is empty or holds a slash", bucket)
	}
	return nil
}

func (t *etcdTx) Get(bucket string, key []byte) []byte {
	if err := validBucket(bucket); err != nil {
		t.fail(err)
	}
	if t.err != nil {
		return nil
	}
	k := t.s.key(bucket, key)
	if w, ok := t.writes[k]; ok {
		if w.del {
			return nil
		}
		return w.val
	}
	if c, ok := t.cache[k]; ok {
		t.note(k, c.modRev, c.val, true)
		return c.val
	}
	resp, ok := t.get(k)
	if !ok {
		return nil
	}
	if len(resp.Kvs) == 0 {
		t.note(k, 0, nil, true)
		return nil
	}
	kv := resp.Kvs[0]
	t.note(k, kv.ModRevision, value(kv.Value), true)
	return value(kv.Value)
}

// value keeps an empty value apart from a missing key: etcd's client returns nil
// for both.
func value(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

func (t *etcdTx) write(bucket string, key []byte, w pendingWrite) error {
	if t.readOnly {
		return errors.New("write in a read-only transaction")
	}
	if err := validBucket(bucket); err != nil {
		return err
	}
	if t.err != nil {
		return t.err
	}
	t.writes[t.s.key(bucket, key)] = w
	return nil
}

func (t *etcdTx) Put(bucket string, key, value []byte) error {
	return t.write(bucket, key, pendingWrite{val: bytes.Clone(value)})
}

func (t *etcdTx) Delete(bucket string, key []byte) error {
	return t.write(bucket, key, pendingWrite{del: true})
}

// overlay returns the buffered writes in [start, end), sorted.
func (t *etcdTx) overlay(start, end string) []string {
	var ks []string
	for k := range t.writes {
		if k >= start && k < end {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

// Scan merges etcd's keys (paged range reads at the transaction's revision) with the
// transaction's own buffered writes, in key order.
func (t *etcdTx) Scan(bucket string, from []byte, fn func(k, v []byte) (bool, error)) error {
	if err := validBucket(bucket); err != nil {
		return err
	}
	bp := t.s.bucketPrefix(bucket)
	start, end := bp+string(from), clientv3.GetPrefixRangeEnd(bp)
	ov := t.overlay(start, end)
	covered := end // how far the scan looked, for the commit's guard
	defer func() { t.ranges = append(t.ranges, keyRange{start, covered}) }()
	// yield passes one key to fn; false stops the scan.
	yield := func(k string, v []byte) (bool, error) {
		more, err := fn([]byte(k[len(bp):]), v)
		if err != nil || !more {
			covered = k + "\x00"
			return false, err
		}
		return true, nil
	}
	oi := 0
	flushBefore := func(k string, inclusive bool) (bool, error) {
		for oi < len(ov) && (ov[oi] < k || (inclusive && ov[oi] == k)) {
			ok := ov[oi]
			oi++
			if w := t.writes[ok]; !w.del {
				if more, err := yield(ok, w.val); !more {
					return false, err
				}
			}
		}
		return true, nil
	}
	cursor := start
	for {
		resp, ok := t.get(cursor, clientv3.WithRange(end), clientv3.WithLimit(etcdPage),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
		if !ok {
			return t.err
		}
		for _, kv := range resp.Kvs {
			k := string(kv.Key)
			t.note(k, kv.ModRevision, value(kv.Value), false)
			if more, err := flushBefore(k, false); !more {
				return err
			}
			if oi < len(ov) && ov[oi] == k {
				// Written in this transaction: the buffered value (or deletion) wins.
				if more, err := flushBefore(k, true); !more {
					return err
				}
				continue
			}
			if more, err := yield(k, value(kv.Value)); !more {
				return err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		cursor = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	_, err := flushBefore(end, false)
	return err
}

// ScanReverse is Scan from the last key down.
func (t *etcdTx) ScanReverse(bucket string, fn func(k, v []byte) (bool, error)) error {
	if err := validBucket(bucket); err != nil {
		return err
	}
	bp := t.s.bucketPrefix(bucket)
	start, end := bp, clientv3.GetPrefixRangeEnd(bp)
	ov := t.overlay(start, end)
	slices.Reverse(ov)
	covered := start
	defer func() { t.ranges = append(t.ranges, keyRange{covered, end}) }()
	yield := func(k string, v []byte) (bool, error) {
		more, err := fn([]byte(k[len(bp):]), v)
		if err != nil || !more {
			covered = k
			return false, err
		}
		return true, nil
	}
	oi := 0
	flushAfter := func(k string, inclusive bool) (bool, error) {
		for oi < len(ov) && (ov[oi] > k || (inclusive && ov[oi] == k)) {
			ok := ov[oi]
			oi++
			if w := t.writes[ok]; !w.del {
				if more, err := yield(ok, w.val); !more {
					return false, err
				}
			}
		}
		return true, nil
	}
	cursor := end // exclusive upper bound of the next page
	for {
		resp, ok := t.get(start, clientv3.WithRange(cursor), clientv3.WithLimit(etcdPage),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
		if !ok {
			return t.err
		}
		for _, kv := range resp.Kvs {
			k := string(kv.Key)
			t.note(k, kv.ModRevision, value(kv.Value), false)
			if more, err := flushAfter(k, false); !more {
				return err
			}
			if oi < len(ov) && ov[oi] == k {
				if more, err := flushAfter(k, true); !more {
					return err
				}
				continue
			}
			if more, err := yield(k, value(kv.Value)); !more {
				return err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		cursor = string(resp.Kvs[len(resp.Kvs)-1].Key)
	}
	_, err := flushAfter(start, true)
	return err
}

// commit writes the buffered changes if nothing read has changed since the
// transaction's revision. false: another writer got there first.
func (t *etcdTx) commit() (bool, error) {
	if len(t.writes) == 0 {
		return true, nil
	}
	var cmps []clientv3.Cmp
	for _, k := range slices.Sorted(maps.Keys(t.seen)) {
		// A key read absent compares equal to mod revision 0 while it stays absent.
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", t.seen[k]))
	}
	for _, r := range t.ranges {
		if r.start < r.end && t.rev > 0 {
			// Catches keys added to (or changed in) a range the transaction scanned.
			// A key removed from the range is caught only if the transaction also
			// read it with Get: mfadesk deletes only from the "open" index, which
			// write transactions read by Get.
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(r.start).WithRange(r.end), "<", t.rev+1))
		}
	}
	ops := make([]clientv3.Op, 0, len(t.writes))
	for _, k := range slices.Sorted(maps.Keys(t.writes)) {
		if w := t.writes[k]; w.del {
			ops = append(ops, clientv3.OpDelete(k))
		} else {
			ops = append(ops, clientv3.OpPut(k, string(w.val)))
		}
	}
	ctx, cancel := t.s.opCtx(t.ctx)
	defer cancel()
	resp, err := t.s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if errors.Is(err, rpctypes.ErrTooManyOps) {
		return false, fmt.Errorf("etcd refused a transaction of %d compares and %d writes as too large: raise --max-txn-ops on the etcd servers: %w",
			len(cmps), len(ops), err)
	}
	if err != nil {
		return false, t.s.storeErr(t.ctx, err, true)
	}
	return resp.Succeeded, nil
}
