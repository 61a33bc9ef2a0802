package approvals

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Store is the transactional key-value store under approvals: named buckets of keys
// kept in byte order, serialisable write transactions and consistent read
// transactions. bbolt implements it (BoltStore), and etcd (EtcdStore, etcd.go).
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction, committed if fn returns nil and
	// rolled back otherwise. Implementations may run fn more than once (optimistic
	// backends retry), so fn must not have effects outside the transaction.
	Update(ctx context.Context, fn func(Tx) error) error
	// Close releases the store.
	Close() error
}

// Tx is one transaction. Byte slices it returns are valid only until the
// transaction ends, and a bucket must not be written while it is being scanned.
type Tx interface {
	// Get returns the value of key, or nil if there is none.
	Get(bucket string, key []byte) []byte
	// Put stores value under key, creating the bucket if needed.
	Put(bucket string, key, value []byte) error
	// Delete removes key; removing a missing key is not an error.
	Delete(bucket string, key []byte) error
	// Scan calls fn for each key >= from in ascending order until fn returns false.
	Scan(bucket string, from []byte, fn func(k, v []byte) (bool, error)) error
	// ScanReverse calls fn for each key in descending order, starting with the last,
	// until fn returns false.
	ScanReverse(bucket string, fn func(k, v []byte) (bool, error)) error
}

// Buckets and meta keys. Keys within:
//
//	requests          request id → request record (JSON)
//	open              target object id → id of its open request
//	by_requester      requester object id "/" created (8-byte big-endian unix ns) id → ""
//	audit             sequence number (8-byte big-endian) → event (canonical JSON)
//	audit_by_request  request id "/" sequence number → ""
//	meta              "schema" → decimal version; "audit_head" → Head (JSON)
const (
	bucketRequests    = "requests"
	bucketOpen        = "open"
	bucketByRequester = "by_requester"
	bucketAudit       = "audit"
	bucketAuditByReq  = "audit_by_request"
	bucketMeta        = "meta"
	keySchema         = "schema"
	keyHead           = "audit_head"

	// schemaVersion is the layout above. A later layout bumps it and migrates older
	// files inside New's transaction.
	schemaVersion = 1

	// DefaultLockTimeout is how long OpenBolt waits for another process to let go of
	// the file before giving up.
	DefaultLockTimeout = time.Second
)

// BoltOptions configure OpenBolt.
type BoltOptions struct {
	// ReadOnly opens the file for reading only, for the audit and approvals CLI
	// commands. It still waits for a running server to release its lock.
	ReadOnly bool
	// LockTimeout bounds the wait for the file lock (default DefaultLockTimeout).
	LockTimeout time.Duration

	// noSync skips fsync; tests only, where thousands of commits would otherwise
	// measure the disk instead of the logic.
	noSync bool
}

// BoltStore is the bbolt implementation of Store.
type BoltStore struct {
	db   *bolt.DB
	path string
}

// OpenBolt opens (creating if needed, unless read-only) the bbolt file at path with
// mode 0600. If another process holds it, it fails after the lock timeout with an
// ErrLocked error: "database PATH is locked by another mfadesk process".
func OpenBolt(path string, opts BoltOptions) (*BoltStore, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:  opts.LockTimeout,
		ReadOnly: opts.ReadOnly,
		NoSync:   opts.noSync,
		PageSize: pageSize,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, &Error{Code: ErrLocked, Msg: fmt.Sprintf("database %s is locked by another mfadesk process", path)}
	}
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if !opts.ReadOnly {
		// The file holds names, reasons and the audit trail; a file created by an
		// older tool or copied with a loose umask is tightened rather than trusted.
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				_ = db.Close()
				return nil, fmt.Errorf("restrict permissions of %s to 0600: %w", path, err)
			}
		}
	}
	return &BoltStore{db: db, path: path}, nil
}

// Path returns the file the store was opened from.
func (s *BoltStore) Path() string { return s.path }

// View implements Store.
func (s *BoltStore) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

// Update implements Store. bbolt serialises writers, so fn runs exactly once.
func (s *BoltStore) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

// Close implements Store.
func (s *BoltStore) Close() error { return s.db.Close() }

type boltTx struct{ tx *bolt.Tx }

func (t boltTx) Get(bucket string, key []byte) []byte {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.Get(key)
}

func (t boltTx) Put(bucket string, key, value []byte) error {
	b, err := t.tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return fmt.Errorf("bucket %s: %w", bucket, err)
	}
	// bbolt splits a full page in half by default, which leaves pages that are only
	// ever appended to half empty for good. The fill percent is not stored: it is set
	// on the bucket in every write transaction.
	if fill, ok := fillPercent[bucket]; ok {
		b.FillPercent = fill
	}
	return b.Put(key, value)
}

// pageSize is the page size of a new file (an existing file keeps the one it was
// created with: bbolt reads it from the file). bbolt splits an overflowing page only
// so that the new page keeps at least three entries, so a 4 KiB page of ~600-byte
// audit events never holds more than about five of seven possible (60% full), and a
// ~1 KiB request record fills a page little better. 8 KiB pages hold about fourteen
// events, and a split leaves the first page ~80% full: measured by
// BenchmarkStoreSize, 6,380 bytes per request lifecycle on 4 KiB pages, 5,060 on 8 KiB
// (16 KiB pages: 4,880, but every small bucket and each copy-on-write costs 16 KiB).
const pageSize = 8192

// fillPercent is how full bbolt packs the pages of buckets whose keys arrive in order:
// the audit log (sequence numbers) is append-only. The indexes are not: their keys
// start with a random request id or a requester, and full pages there split again on
// the next insert into them (measured: emptier pages than bbolt's default).
var fillPercent = map[string]float64{
	bucketAudit: 1.0,
}

func (t boltTx) Delete(bucket string, key []byte) error {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.Delete(key)
}

func (t boltTx) Scan(bucket string, from []byte, fn func(k, v []byte) (bool, error)) error {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	c := b.Cursor()
	var k, v []byte
	if from == nil {
		k, v = c.First()
	} else {
		k, v = c.Seek(from)
	}
	for ; k != nil; k, v = c.Next() {
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func (t boltTx) ScanReverse(bucket string, fn func(k, v []byte) (bool, error)) error {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	c := b.Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// scanPrefix calls fn for each key that starts with prefix, in order.
func scanPrefix(tx Tx, bucket string, prefix []byte, fn func(k, v []byte) (bool, error)) error {
	return tx.Scan(bucket, prefix, func(k, v []byte) (bool, error) {
		if !bytes.HasPrefix(k, prefix) {
			return false, nil
		}
		return fn(k, v)
	})
}

// readSchema returns the stored schema version, 0 if none is stored.
func readSchema(tx Tx) (int, error) {
	v := tx.Get(bucketMeta, []byte(keySchema))
	if v == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 1 {
		return 0, &Error{Code: ErrSchema, Msg: fmt.Sprintf("the database has an unreadable schema version %q", clip(string(v), 20))}
	}
	if n > schemaVersion {
		return 0, &Error{Code: ErrSchema, Msg: fmt.Sprintf(
			"the database has schema version %d, newer than this mfadesk understands (%d); run the newer mfadesk that wrote it", n, schemaVersion)}
	}
	return n, nil
}

// ensureSchema stamps a new database with the current schema version and migrates an
// older one, in one transaction so a crash leaves either layout, never a mix.
func ensureSchema(ctx context.Context, st Store) error {
	err := st.Update(ctx, func(tx Tx) error {
		n, err := readSchema(tx)
		if err != nil {
			return err
		}
		switch n {
		case 0:
			if hasAny(tx, bucketRequests) || hasAny(tx, bucketAudit) {
				return &Error{Code: ErrSchema, Msg: "the database holds data but no schema version; it was not written by mfadesk"}
			}
			return tx.Put(bucketMeta, []byte(keySchema), []byte(strconv.Itoa(schemaVersion)))
		case schemaVersion:
			return nil
		}
		// No older layouts exist yet; each future version adds its step here.
		return &Error{Code: ErrSchema, Msg: fmt.Sprintf("no migration from schema version %d", n)}
	})
	if err != nil {
		return fmt.Errorf("check database schema: %w", err)
	}
	return nil
}

// checkSchema is ensureSchema for read-only use: it never writes.
func checkSchema(ctx context.Context, st Store) error {
	err := st.View(ctx, func(tx Tx) error {
		n, err := readSchema(tx)
		if err != nil {
			return err
		}
		if n == 0 {
			return &Error{Code: ErrSchema, Msg: "the database has no schema version; it is empty or was not written by mfadesk"}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check database schema: %w", err)
	}
	return nil
}

func hasAny(tx Tx, bucket string) bool {
	found := false
	_ = tx.Scan(bucket, nil, func(_, _ []byte) (bool, error) {
		found = true
		return false, nil
	})
	return found
}
