package teams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
)

// keySource is one issuer's OpenID metadata and its signing keys.
//
// The metadata and the first key set are read lazily (by the first request, or
// LoadKeys), so a start-up while the metadata host is unreachable is not fatal; a
// failed attempt is retried at most every retryWait. Once loaded, the key set is
// re-read every refreshEvery (the spec asks for at least daily).
//
// Key rollover: a token naming a key id the set does not hold makes the set be
// re-read, but at most once per unknownEvery, and every request waiting for a key
// shares the same fetch. Anyone can send a token with a made-up key id, so that limit
// must not be spendable against the genuine key: a forged token used to consume a
// refresh that then refused every token signed with a newly published key for the
// whole period (5 minutes). Here a request with an unknown key id always gets a fetch
// that starts after it asked — within unknownEvery — and waits up to unknownWait for
// it; a fetch still further away is scheduled anyway, so the new key is in the cache
// for the connector's next attempt. A flood of made-up key ids therefore costs the key
// host one fetch per unknownEvery and delays a genuine new key by at most that.
type keySource struct {
	name         string
	metadataURL  string
	client       *http.Client
	refreshEvery time.Duration
	unknownEvery time.Duration
	unknownWait  time.Duration
	retryWait    time.Duration
	bg           context.Context // ends the refresh goroutine
	now          func() time.Time
	log          *slog.Logger

	mu          sync.Mutex
	keys        keyfunc.Keyfunc
	store       jwkset.Storage
	algs        []string
	jwksURI     string
	endorse     map[string][]string // kid → channels the key may sign for (Bot Framework keys)
	lastAttempt time.Time
	lastUnknown time.Time     // when the last fetch for an unknown key id started (wall clock: it paces real timers)
	next        chan struct{} // closed when the next fetch for unknown key ids ends
	want        chan struct{} // asks the refresh goroutine for that fetch
}

type openIDMetadata struct {
	Issuer  string   `json:"issuer"`
	JWKSURI string   `json:"jwks_uri"`
	Algs    []string `json:"id_token_signing_alg_values_supported"`
}

// rsaFamily is what the adapter accepts whatever the metadata says: Bot Framework and
// Entra sign with RS256; the HMAC and "none" algorithms are never acceptable for
// tokens verified with published public keys.
var rsaFamily = []string{"RS256", "RS384", "RS512"}

// loaded reports whether the signing keys have been read.
func (s *keySource) loaded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys != nil
}

func (s *keySource) ready(ctx context.Context) (keyfunc.Keyfunc, []string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys != nil {
		return s.keys, s.algs, nil
	}
	if !s.lastAttempt.IsZero() && s.now().Sub(s.lastAttempt) < s.retryWait {
		return nil, nil, fmt.Errorf("%s metadata unavailable; retrying after %s", s.name, s.retryWait)
	}
	s.lastAttempt = s.now()
	meta, err := fetchMetadata(ctx, s.client, s.metadataURL)
	if err != nil {
		return nil, nil, err
	}
	if err := checkURL(meta.JWKSURI); err != nil {
		return nil, nil, fmt.Errorf("jwks_uri of %s: %w", s.metadataURL, err)
	}
	algs := rsaFamily[:1]
	if len(meta.Algs) > 0 {
		algs = nil
		for _, a := range meta.Algs {
			if slices.Contains(rsaFamily, a) {
				algs = append(algs, a)
			}
		}
		if len(algs) == 0 {
			return nil, nil, fmt.Errorf("metadata %s offers no RSA signing algorithm (%v)", s.metadataURL, meta.Algs)
		}
	}
	store := jwkset.NewMemoryStorage()
	set, endorse, err := s.fetchKeys(ctx, meta.JWKSURI)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s signing keys: %w", s.name, err)
	}
	if err := store.KeyReplaceAll(ctx, set); err != nil {
		return nil, nil, fmt.Errorf("load %s signing keys: %w", s.name, err)
	}
	keys, err := keyfunc.New(keyfunc.Options{Ctx: s.bg, Storage: store})
	if err != nil {
		return nil, nil, fmt.Errorf("load %s signing keys: %w", s.name, err)
	}
	s.keys, s.store, s.algs, s.jwksURI, s.endorse = keys, store, algs, meta.JWKSURI, endorse
	s.want = make(chan struct{}, 1)
	go s.refreshLoop()
	s.log.InfoContext(ctx, "teams: signing keys loaded", "source", s.name, "issuer", meta.Issuer, "jwks", meta.JWKSURI, "algs", algs, "keys", len(set))
	return keys, algs, nil
}

// await makes sure the key set has been re-read since kid was asked for, if kid is
// not in it: it asks for a fetch and waits for it up to unknownWait. It never fails:
// the key lookup that follows says whether the key is there.
func (s *keySource) await(ctx context.Context, kid string) {
	s.mu.Lock()
	if s.store == nil {
		s.mu.Unlock()
		return
	}
	if _, err := s.store.KeyRead(ctx, kid); err == nil {
		s.mu.Unlock()
		return
	}
	if s.next == nil {
		s.next = make(chan struct{})
	}
	done := s.next
	wait := s.unknownWait
	if due := time.Until(s.lastUnknown.Add(s.unknownEvery)); due > wait {
		// The fetch is further away than a request may wait: it is scheduled (below),
		// and this request is refused now rather than held.
		wait = 0
	}
	s.mu.Unlock()
	select {
	case s.want <- struct{}{}:
	default: // already asked
	}
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
}

// refreshLoop re-reads the key set every refreshEvery, and when await asks, at most
// once per unknownEvery; each fetch ends the wait of every request that asked before
// it started.
func (s *keySource) refreshLoop() {
	tick := time.NewTicker(s.refreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.bg.Done():
			return
		case <-tick.C:
			s.refresh()
		case <-s.want:
			s.mu.Lock()
			delay := time.Until(s.lastUnknown.Add(s.unknownEvery))
			s.mu.Unlock()
			if delay > 0 {
				t := time.NewTimer(delay)
				select {
				case <-s.bg.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			s.mu.Lock()
			s.lastUnknown = time.Now()
			done := s.next
			s.next = nil // requests from now on wait for the fetch after this one
			s.mu.Unlock()
			s.refresh()
			if done != nil {
				close(done)
			}
		}
	}
}

// refresh re-reads the key set. On failure the keys in the cache stay.
func (s *keySource) refresh() {
	ctx, cancel := context.WithTimeout(s.bg, 15*time.Second)
	defer cancel()
	set, endorse, err := s.fetchKeys(ctx, s.jwksURI)
	if err != nil {
		s.log.WarnContext(ctx, "teams: refresh signing keys", "source", s.name, "url", s.jwksURI, "err", err)
		return
	}
	// Endorsements first: a key is never usable before what it may sign for is known.
	s.mu.Lock()
	s.endorse = endorse
	s.mu.Unlock()
	if err := s.store.KeyReplaceAll(ctx, set); err != nil {
		s.log.WarnContext(ctx, "teams: refresh signing keys", "source", s.name, "err", err)
	}
}

// fetchKeys reads a JWK set with each key's "endorsements" (the channels a Bot
// Framework key may sign for), which jwkset's JWK type does not keep. Keys of types
// jwkset does not support are skipped; a malformed key fails the whole set, which
// then leaves the cached keys in place.
func (s *keySource) fetchKeys(ctx context.Context, u string) ([]jwkset.JWK, map[string][]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("read key set %s: %w", u, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("read key set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("read key set %s: HTTP %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read key set: %w", err)
	}
	if len(body) > maxMetadataBytes {
		return nil, nil, fmt.Errorf("key set larger than %d bytes", maxMetadataBytes)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("decode key set %s: %w", u, err)
	}
	var set []jwkset.JWK
	endorse := map[string][]string{}
	for _, raw := range doc.Keys {
		var m jwkset.JWKMarshal
		var extra struct {
			Endorsements []string `json:"endorsements"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, nil, fmt.Errorf("decode key set %s: %w", u, err)
		}
		_ = json.Unmarshal(raw, &extra)
		k, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		switch {
		case errors.Is(err, jwkset.ErrUnsupportedKey):
			continue
		case err != nil:
			return nil, nil, fmt.Errorf("key %q of %s: %w", clip(m.KID, 64), u, err)
		}
		set = append(set, k)
		if m.KID != "" {
			endorse[m.KID] = extra.Endorsements
		}
	}
	return set, endorse, nil
}

func (s *keySource) endorsements(kid string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endorse[kid]
}

func fetchMetadata(ctx context.Context, c *http.Client, u string) (openIDMetadata, error) {
	var m openIDMetadata
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return m, fmt.Errorf("read OpenID metadata %s: %w", u, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return m, fmt.Errorf("read OpenID metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("read OpenID metadata %s: HTTP %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxMetadataBytes)).Decode(&m); err != nil {
		return m, fmt.Errorf("decode OpenID metadata %s: %w", u, err)
	}
	if m.JWKSURI == "" {
		return m, fmt.Errorf("OpenID metadata %s has no jwks_uri", u)
	}
	return m, nil
}
