package approvals

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The *File helpers back the CLI sub-commands (mfadesk audit export|verify,
// mfadesk approvals list|show). They open the database read-only, with the lock
// timeout: while mfadesk serve holds the file they fail with ErrLocked ("database
// FILE is locked by another mfadesk process") rather than wait.

func openForReading(ctx context.Context, dbPath string) (*BoltStore, error) {
	st, err := OpenBolt(dbPath, BoltOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, st); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("%s: %w", dbPath, err)
	}
	return st, nil
}

func withFile(ctx context.Context, dbPath string, fn func(*BoltStore) error) (err error) {
	st, err := openForReading(ctx, dbPath)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	return fn(st)
}

// ExportFile writes the audit events at or after since (zero: all) from the database
// at dbPath to w as JSON lines.
func ExportFile(ctx context.Context, dbPath string, w io.Writer, since time.Time) error {
	return withFile(ctx, dbPath, func(st *BoltStore) error {
		return exportEvents(ctx, st, w, since)
	})
}

// VerifyFile checks the audit chain of the database at dbPath. The CLI should exit
// non-zero unless the report is OK.
func VerifyFile(ctx context.Context, dbPath string) (VerifyReport, error) {
	var rep VerifyReport
	err := withFile(ctx, dbPath, func(st *BoltStore) error {
		var err error
		rep, err = verifyStore(ctx, st)
		return err
	})
	return rep, err
}

// EventHashFile returns the hash of event seq in the database at dbPath, and false
// when the log holds no such event. With VerifyFile it lets the CLI compare a chain
// head posted to the audit channel with the event of that number, wherever it is in
// the chain now.
func EventHashFile(ctx context.Context, dbPath string, seq uint64) (string, bool, error) {
	var (
		hash  string
		found bool
	)
	err := withFile(ctx, dbPath, func(st *BoltStore) error {
		return st.View(ctx, func(tx Tx) error {
			b := tx.Get(bucketAudit, seqKey(seq))
			if b == nil {
				return nil
			}
			e, err := decodeEvent(b)
			if err != nil {
				return fmt.Errorf("audit event %d is unreadable: %w", seq, err)
			}
			hash, found = e.Hash, true
			return nil
		})
	})
	return hash, found, err
}

// ListFile returns the requests matching f from the database at dbPath, newest first.
func ListFile(ctx context.Context, dbPath string, f ListFilter) ([]Request, error) {
	var out []Request
	err := withFile(ctx, dbPath, func(st *BoltStore) error {
		var err error
		out, err = listRequests(ctx, st, f)
		return err
	})
	return out, err
}

// ShowFile returns one request and its audit events from the database at dbPath.
func ShowFile(ctx context.Context, dbPath, id string) (Request, []Event, error) {
	nid, err := ParseID(id)
	if err != nil {
		return Request{}, nil, err
	}
	var (
		r      Request
		events []Event
	)
	err = withFile(ctx, dbPath, func(st *BoltStore) error {
		return st.View(ctx, func(tx Tx) error {
			var err error
			if r, err = loadRequest(tx, nid); err != nil {
				return err
			}
			events, err = requestEvents(tx, nid)
			return err
		})
	})
	if err != nil {
		return Request{}, nil, fmt.Errorf("show %s: %w", nid, err)
	}
	return r, events, nil
}

// BackupFile writes a consistent copy of the database at dbPath to w, in one read
// transaction (bbolt's Tx.WriteTo), and returns its size. Like the other *File
// functions it opens the file read-only and so needs serve stopped.
func BackupFile(ctx context.Context, dbPath string, w io.Writer) (n int64, err error) {
	err = withFile(ctx, dbPath, func(st *BoltStore) error {
		return st.db.View(func(tx *bolt.Tx) error {
			n, err = tx.WriteTo(w)
			return err
		})
	})
	if err != nil {
		return n, fmt.Errorf("back up %s: %w", dbPath, err)
	}
	return n, nil
}
