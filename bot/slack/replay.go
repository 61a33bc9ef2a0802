package slack

import (
	"container/heap"
	"errors"
	"sync"
	"time"
)

var (
	errReplayed   = errors.New("replayed request: this exact signed request was already accepted")
	errReplayFull = errors.New("replay cache full: refusing new requests until older ones age out")
)

// replayCache remembers what was already accepted until a copy of it would be
// refused as stale anyway, so a signed request captured inside Slack's 5-minute
// window cannot be played again (the signature check alone allows that).
//
// Memory is bounded: when the cache is full of entries that have not expired, new
// requests are refused. Failing closed is deliberate: evicting a live entry would
// make that request replayable, and only genuinely signed traffic can fill the
// cache, which at helpdesk volumes means something is wrong.
type replayCache[K comparable] struct {
	mu   sync.Mutex
	max  int
	seen map[K]time.Time
	byT  expiryHeap[K]
}

func newReplayCache[K comparable](max int) *replayCache[K] {
	return &replayCache[K]{max: max, seen: make(map[K]time.Time)}
}

// add records key until expires. It fails if key is already recorded and not yet
// expired, or if the cache is full.
func (c *replayCache[K]) add(key K, expires, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.byT) > 0 && !c.byT[0].at.After(now) {
		e := heap.Pop(&c.byT).(expiry[K])
		if at, ok := c.seen[e.key]; ok && at.Equal(e.at) {
			delete(c.seen, e.key)
		}
	}
	if at, ok := c.seen[key]; ok && at.After(now) {
		return errReplayed
	}
	if len(c.seen) >= c.max {
		return errReplayFull
	}
	c.seen[key] = expires
	heap.Push(&c.byT, expiry[K]{key: key, at: expires})
	return nil
}

func (c *replayCache[K]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

type expiry[K comparable] struct {
	key K
	at  time.Time
}

// expiryHeap orders entries by expiry: timestamps may be up to 5 minutes in the
// future, so arrival order is not expiry order.
type expiryHeap[K comparable] []expiry[K]

func (h expiryHeap[K]) Len() int           { return len(h) }
func (h expiryHeap[K]) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap[K]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap[K]) Push(x any)        { *h = append(*h, x.(expiry[K])) }
func (h *expiryHeap[K]) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	*h = old[:n-1]
	return x
}
