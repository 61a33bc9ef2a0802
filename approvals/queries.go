package approvals

// Reading requests and the audit log; nothing here writes.

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"time"
)

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

func openIDs(tx Tx) ([]string, error) {
	var ids []string
	seen := map[string]bool{} // a bulk request is indexed once per user
	err := tx.Scan(bucketOpen, nil, func(_, v []byte) (bool, error) {
		if !seen[string(v)] {
			seen[string(v)] = true
			ids = append(ids, string(v))
		}
		return true, nil
	})
	return ids, err
}
