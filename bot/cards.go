package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/mfadesk/mfadesk/approvals"
)

// CardStore remembers where each request's approval cards were posted, so they can be
// updated in place after a decision, an expiry or a restart.
type CardStore interface {
	AddCard(ctx context.Context, requestID string, ref CardRef) error
	Cards(ctx context.Context, requestID string) ([]CardRef, error)
}

// StoreCards keeps card references in the approvals store (its own bucket), so they
// survive restarts with the requests they belong to.
type StoreCards struct{ Store approvals.Store }

const cardsBucket = "cards"

// AddCard records ref for requestID.
func (s StoreCards) AddCard(ctx context.Context, requestID string, ref CardRef) error {
	err := s.Store.Update(ctx, func(tx approvals.Tx) error {
		var refs []CardRef
		if b := tx.Get(cardsBucket, []byte(requestID)); b != nil {
			if err := json.Unmarshal(b, &refs); err != nil {
				return fmt.Errorf("decode cards: %w", err)
			}
		}
		refs = append(refs, ref)
		b, err := json.Marshal(refs)
		if err != nil {
			return err
		}
		return tx.Put(cardsBucket, []byte(requestID), b)
	})
	if err != nil {
		return fmt.Errorf("record card of %s: %w", requestID, err)
	}
	return nil
}

// Cards returns the cards posted for requestID.
func (s StoreCards) Cards(ctx context.Context, requestID string) ([]CardRef, error) {
	var refs []CardRef
	err := s.Store.View(ctx, func(tx approvals.Tx) error {
		if b := tx.Get(cardsBucket, []byte(requestID)); b != nil {
			return json.Unmarshal(b, &refs)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read cards of %s: %w", requestID, err)
	}
	return refs, nil
}

// MemoryCards is a CardStore for tests.
type MemoryCards struct {
	mu   sync.Mutex
	refs map[string][]CardRef
}

// AddCard records ref for requestID.
func (m *MemoryCards) AddCard(_ context.Context, requestID string, ref CardRef) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refs == nil {
		m.refs = map[string][]CardRef{}
	}
	m.refs[requestID] = append(m.refs[requestID], ref)
	return nil
}

// Cards returns the cards posted for requestID.
func (m *MemoryCards) Cards(_ context.Context, requestID string) ([]CardRef, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]CardRef(nil), m.refs[requestID]...), nil
}
