package bot

import (
	"context"
	"sync"

	"github.com/mfadesk/mfadesk/approvals"
)

// CardStore remembers where each request's approval cards were posted, so they can be
// updated in place after a decision, an expiry or a restart.
type CardStore interface {
	AddCard(ctx context.Context, requestID string, ref CardRef) error
	Cards(ctx context.Context, requestID string) ([]CardRef, error)
}

// StoreCards keeps card references in the approvals store (approvals.CardIndex), so
// they survive restarts with the requests they belong to.
type StoreCards struct{ Store approvals.Store }

// AddCard records ref for requestID.
func (s StoreCards) AddCard(ctx context.Context, requestID string, ref CardRef) error {
	return approvals.CardIndex{Store: s.Store}.AddCard(ctx, requestID, approvals.CardRef{Platform: string(ref.Platform), Channel: ref.Channel, ID: ref.ID})
}

// Cards returns the cards posted for requestID.
func (s StoreCards) Cards(ctx context.Context, requestID string) ([]CardRef, error) {
	refs, err := approvals.CardIndex{Store: s.Store}.Cards(ctx, requestID)
	out := make([]CardRef, len(refs))
	for i, r := range refs {
		out[i] = CardRef{Platform: Platform(r.Platform), Channel: r.Channel, ID: r.ID}
	}
	return out, err
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
