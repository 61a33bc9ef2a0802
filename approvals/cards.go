package approvals

import (
	"context"
	"encoding/json"
	"fmt"
)

// bucketCards holds, per request id, where its chat cards were posted.
const bucketCards = "cards"

// CardRef says where a chat card about a request was posted. approvals keeps it
// beside the request, so the cards can be updated in place after a restart, and
// does not interpret it. The JSON field names are the stored format.
type CardRef struct {
	Platform string
	Channel  string
	ID       string
}

// CardIndex stores the card references of requests in the approvals store.
type CardIndex struct{ Store Store }

// AddCard records ref for the request id.
func (c CardIndex) AddCard(ctx context.Context, requestID string, ref CardRef) error {
	id, err := ParseID(requestID)
	if err != nil {
		return fmt.Errorf("record card: %w", err)
	}
	err = c.Store.Update(ctx, func(tx Tx) error {
		refs, err := cardsIn(tx, id)
		if err != nil {
			return err
		}
		b, err := json.Marshal(append(refs, ref))
		if err != nil {
			return err
		}
		return tx.Put(bucketCards, []byte(id), b)
	})
	if err != nil {
		return fmt.Errorf("record card of %s: %w", id, err)
	}
	return nil
}

// Cards returns the cards recorded for the request id, oldest first.
func (c CardIndex) Cards(ctx context.Context, requestID string) ([]CardRef, error) {
	id, err := ParseID(requestID)
	if err != nil {
		return nil, fmt.Errorf("read cards: %w", err)
	}
	var refs []CardRef
	err = c.Store.View(ctx, func(tx Tx) error {
		refs, err = cardsIn(tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read cards of %s: %w", id, err)
	}
	return refs, nil
}

func cardsIn(tx Tx, id string) ([]CardRef, error) {
	var refs []CardRef
	if b := tx.Get(bucketCards, []byte(id)); b != nil {
		if err := json.Unmarshal(b, &refs); err != nil {
			return nil, fmt.Errorf("decode cards: %w", err)
		}
	}
	return refs, nil
}
