package graph

import (
	"strings"
	"sync"
	"time"
)

// idCache remembers which object id a UPN or mail address resolved to, so that a
// lookup after the first (helpdesk agents run `user`, then `diagnose`) is one round
// trip instead of two. Object ids never change; a UPN can be given to someone else, so
// entries expire, and Gather checks that the user it fetched by id still carries the
// name it was asked for before trusting the entry.
type idCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	now     func() time.Time
	entries map[string]idEntry
}

type idEntry struct {
	id      string
	byMail  bool // the name was the user's mail address, not their UPN
	expires time.Time
}

func newIDCache(ttl time.Duration, max int) *idCache {
	if ttl == 0 {
		ttl = 10 * time.Minute
	}
	return &idCache{ttl: ttl, max: max, now: time.Now, entries: map[string]idEntry{}}
}

func (c *idCache) get(name string) (idEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[strings.ToLower(name)]
	if !ok || c.now().After(e.expires) {
		return idEntry{}, false
	}
	return e, true
}

func (c *idCache) put(name, id string, byMail bool) {
	if name == "" || id == "" || c.ttl < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Drop expired entries; if none, drop everything: a bounded cache that is
		// sometimes cold is better than one that grows with every name typed.
		now := c.now()
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.max {
			c.entries = map[string]idEntry{}
		}
	}
	c.entries[strings.ToLower(name)] = idEntry{id: id, byMail: byMail, expires: c.now().Add(c.ttl)}
}

func (c *idCache) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, strings.ToLower(name))
}
