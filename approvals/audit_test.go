package approvals

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// auditFixture builds a database with 8 events and closes it:
//
//	1 created A  2 approved A  3 executing A  4 succeeded A
//	5 created B  6 denied B    7 created C    8 access_refused (self-approval of C)
func auditFixture(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	h := newHarness(t, nil)
	a := h.submit(nil)
	h.clock.Advance(time.Minute)
	if _, err := h.svc.Decide(ctx, a.ID, actor(oidApprover1, "Avery"), VerdictApprove, "video ok"); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	b := h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(1) })
	if _, err := h.svc.Decide(ctx, b.ID, actor(oidApprover2, "Blake"), VerdictDeny, "no ticket <script>&</script>"); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	c := h.submit(func(in *NewRequest) { in.Target.ObjectID = numberedOID(2) })
	if _, err := h.svc.Decide(ctx, c.ID, actor(oidRequester, "Riley"), VerdictApprove, ""); CodeOf(err) != ErrSelfApproval {
		t.Fatalf("self-approval: %v", err)
	}
	if rep := h.mustVerify(); rep.Events != 8 {
		t.Fatalf("fixture has %d events", rep.Events)
	}
	h.close()
	return h
}

func TestVerifyDetectsTampering(t *testing.T) {
	h := auditFixture(t)
	ctx := context.Background()

	get := func(tx *bolt.Tx, seq uint64) Event {
		e, err := decodeEvent(tx.Bucket([]byte(bucketAudit)).Get(seqKey(seq)))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	put := func(tx *bolt.Tx, e Event, rehash bool) {
		if rehash {
			var err error
			if e.Hash, err = eventHash(e); err != nil {
				t.Fatal(err)
			}
		}
		b, err := encodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Bucket([]byte(bucketAudit)).Put(seqKey(e.Seq), b); err != nil {
			t.Fatal(err)
		}
	}
	raw := func(tx *bolt.Tx, seq uint64) []byte {
		return bytes.Clone(tx.Bucket([]byte(bucketAudit)).Get(seqKey(seq)))
	}
	putRaw := func(tx *bolt.Tx, seq uint64, v []byte) {
		if err := tx.Bucket([]byte(bucketAudit)).Put(seqKey(seq), v); err != nil {
			t.Fatal(err)
		}
	}
	del := func(tx *bolt.Tx, seq uint64) {
		if err := tx.Bucket([]byte(bucketAudit)).Delete(seqKey(seq)); err != nil {
			t.Fatal(err)
		}
	}
	setHead := func(tx *bolt.Tx, hd Head) {
		b, _ := json.Marshal(hd)
		if err := tx.Bucket([]byte(bucketMeta)).Put([]byte(keyHead), b); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name    string
		tamper  func(tx *bolt.Tx)
		badSeq  uint64
		problem string
	}{
		{"edit a field", func(tx *bolt.Tx) {
			putRaw(tx, 2, bytes.Replace(raw(tx, 2), []byte(`"Avery"`), []byte(`"Mallory"`), 1))
		}, 2, "does not match its own hash"},
		{"edit a field and recompute its hash", func(tx *bolt.Tx) {
			e := get(tx, 2)
			e.Actor.ObjectID = oidOutsider
			put(tx, e, true)
		}, 3, "does not link to event 2"},
		{"edit the bytes without changing the content", func(tx *bolt.Tx) {
			putRaw(tx, 6, append([]byte("{ "), raw(tx, 6)[1:]...))
		}, 6, "does not match its own hash"},
		{"strip the hash member", func(tx *bolt.Tx) {
			v := raw(tx, 6)
			putRaw(tx, 6, append(v[:len(v)-storedTail], '}'))
		}, 6, "does not end with its hash member"},
		{"replace an event with garbage", func(tx *bolt.Tx) { putRaw(tx, 4, []byte("not json")) }, 4, "not a readable event"},
		{"replace an event with other JSON", func(tx *bolt.Tx) { putRaw(tx, 4, []byte(`{"seq":4}`)) }, 4, "not a readable event"},
		{"delete the first event", func(tx *bolt.Tx) { del(tx, 1) }, 1, "event 1 is missing"},
		{"delete an event in the middle", func(tx *bolt.Tx) { del(tx, 5) }, 5, "next stored event is 6"},
		{"delete the last event", func(tx *bolt.Tx) { del(tx, 8) }, 8, "removed from the end"},
		{"insert a forged event in the middle", func(tx *bolt.Tx) {
			for seq := uint64(8); seq >= 4; seq-- {
				putRaw(tx, seq+1, raw(tx, seq))
			}
			forged := Event{Seq: 4, Time: get(tx, 3).Time, Kind: EventApproved, RequestID: get(tx, 3).RequestID,
				Actor: actor(oidApprover2, "Blake"), Prev: get(tx, 3).Hash}
			put(tx, forged, true)
			setHead(tx, Head{Seq: 9, Hash: get(tx, 9).Hash})
		}, 5, "says it is event 4"},
		{"insert a forged event and renumber the rest", func(tx *bolt.Tx) {
			for seq := uint64(8); seq >= 4; seq-- {
				e := get(tx, seq)
				e.Seq++
				put(tx, e, false)
			}
			put(tx, Event{Seq: 4, Time: get(tx, 3).Time, Kind: EventApproved, Prev: get(tx, 3).Hash}, true)
		}, 5, "does not match its own hash"},
		{"append a forged event chained to the head", func(tx *bolt.Tx) {
			put(tx, Event{Seq: 9, Time: get(tx, 8).Time, Kind: EventCancelled, Prev: get(tx, 8).Hash}, true)
		}, 9, "continues past its recorded head"},
		{"swap two events", func(tx *bolt.Tx) {
			a, b := raw(tx, 3), raw(tx, 4)
			putRaw(tx, 3, b)
			putRaw(tx, 4, a)
		}, 3, "says it is event 4"},
		{"swap two events, renumbered and rehashed", func(tx *bolt.Tx) {
			a, b := get(tx, 3), get(tx, 4)
			a.Seq, b.Seq = 4, 3
			put(tx, a, true)
			put(tx, b, true)
		}, 3, "does not link to event 2"},
		{"replace the recorded head", func(tx *bolt.Tx) {
			setHead(tx, Head{Seq: 8, Hash: strings.Repeat("0", 64)})
		}, 8, "recorded head hash"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tampered.db")
			copyFile(t, h.path, path)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error { tc.tamper(tx); return nil }); err != nil {
				t.Fatal(err)
			}
			_ = db.Close()

			rep, err := VerifyFile(ctx, path)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if rep.OK || rep.BadSeq != tc.badSeq || !strings.Contains(rep.Problem, tc.problem) {
				t.Fatalf("report = %s\nwant bad event %d: …%s…", rep, tc.badSeq, tc.problem)
			}
		})
	}
	// Cutting the tail and rewriting the recorded head leaves a valid shorter chain:
	// only the head published outside the file (OnAudit → audit channel) shows it.
	t.Run("truncation with a rewritten head needs the published head", func(t *testing.T) {
		h.mu.Lock()
		published := h.heads[len(h.heads)-1]
		h.mu.Unlock()
		path := filepath.Join(t.TempDir(), "truncated.db")
		copyFile(t, h.path, path)
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = db.Update(func(tx *bolt.Tx) error {
			del(tx, 8)
			setHead(tx, Head{Seq: 7, Hash: get(tx, 7).Hash})
			return nil
		})
		_ = db.Close()
		rep, err := VerifyFile(ctx, path)
		if err != nil || !rep.OK || rep.Head == published || published.Seq != 8 {
			t.Fatalf("report %+v, published head %+v, %v", rep, published, err)
		}
	})
	t.Run("intact", func(t *testing.T) {
		rep, err := VerifyFile(ctx, h.path)
		if err != nil || !rep.OK || rep.Events != 8 || rep.Head.Seq != 8 || len(rep.Head.Hash) != 64 {
			t.Fatalf("report = %+v, %v", rep, err)
		}
		if !strings.HasPrefix(rep.String(), "audit log intact: 8 events") {
			t.Fatalf("summary = %q", rep)
		}
	})
}

// TestExportIsVerifiableWithoutMfadesk recomputes the chain from the exported lines
// the way doc.go tells an outside tool to: drop the hash member, SHA-256 the rest.
func TestExportIsVerifiableWithoutMfadesk(t *testing.T) {
	h := auditFixture(t)
	ctx := context.Background()
	var buf bytes.Buffer
	if err := ExportFile(ctx, h.path, &buf, time.Time{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 8 {
		t.Fatalf("exported %d lines", len(lines))
	}
	tail := regexp.MustCompile(`,"hash":"([0-9a-f]{64})"}$`)
	prev := ""
	for i, line := range lines {
		m := tail.FindStringSubmatchIndex(line)
		if m == nil {
			t.Fatalf("line %d does not end with its hash: %s", i+1, line)
		}
		body := line[:m[0]] + "}"
		hash := line[m[2]:m[3]]
		sum := sha256.Sum256([]byte(body))
		if hex.EncodeToString(sum[:]) != hash {
			t.Fatalf("line %d: hash does not match SHA-256 of the line without it", i+1)
		}
		var e struct {
			Seq  uint64 `json:"seq"`
			Prev string `json:"prev"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Seq != uint64(i+1) || e.Prev != prev {
			t.Fatalf("line %d: seq %d prev %q, want %d %q (%v)", i+1, e.Seq, e.Prev, i+1, prev, err)
		}
		prev = hash
	}
	if !strings.Contains(lines[5], `no ticket <script>&</script>`) {
		t.Fatalf("HTML characters were escaped: %s", lines[5])
	}

	// since keeps the events at or after the given time: the fixture's clock moved a
	// minute before each of events 2, 5 and 7.
	buf.Reset()
	since := newTestClock().Now().Add(2 * time.Minute)
	if err := ExportFile(ctx, h.path, &buf, since); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 4 {
		t.Fatalf("export since %s gave %d lines, want 4", since, n)
	}
}

func TestEventsHistoryAndFileHelpers(t *testing.T) {
	h := auditFixture(t)
	ctx := context.Background()
	h.open()
	last3, err := h.svc.Events(ctx, time.Time{}, 3)
	if err != nil || len(last3) != 3 || last3[0].Seq != 6 || last3[2].Seq != 8 {
		t.Fatalf("Events(limit 3) = %+v, %v", last3, err)
	}
	recent, err := h.svc.Events(ctx, newTestClock().Now().Add(3*time.Minute), 0)
	if err != nil || len(recent) != 2 || recent[0].Kind != EventCreated || recent[1].Kind != EventRefused {
		t.Fatalf("Events(since) = %+v, %v", recent, err)
	}
	all := h.allRequests()
	c := all[0]
	hist, err := h.svc.History(ctx, c.ID)
	if err != nil || len(hist) != 2 || hist[1].Kind != EventRefused || hist[1].Code != ErrSelfApproval {
		t.Fatalf("history of %s = %+v, %v", c.ID, hist, err)
	}
	h.close()

	listed, err := ListFile(ctx, h.path, ListFilter{})
	if err != nil || !reflect.DeepEqual(listed, all) {
		t.Fatalf("ListFile = %+v, %v", listed, err)
	}
	r, evs, err := ShowFile(ctx, h.path, strings.ToLower(c.ID))
	if err != nil || !reflect.DeepEqual(r, c) || !reflect.DeepEqual(evs, hist) {
		t.Fatalf("ShowFile = %+v %+v %v", r, evs, err)
	}
	if _, _, err := ShowFile(ctx, h.path, "R-AAAAAAAAAAAAAAAAAAAAAAAAAA"); CodeOf(err) != ErrNotFound {
		t.Fatalf("ShowFile of an unknown id: %v", err)
	}
}

// The stored form must be exactly canonical(e) with its hash: what encodeEvent of
// the sealed event gives, and what doc.go promises outside tools.
func TestSealedEventIsCanonical(t *testing.T) {
	e := Event{Seq: 7, Time: time.Date(2025, 3, 1, 10, 4, 5, 500_000_000, time.UTC), Kind: EventDenied,
		RequestID: "R-X", Actor: actor(oidApprover1, "Avery \"A\" <&> \u2028"), Detail: "nope\n", Prev: strings.Repeat("a", 64)}
	sealed, stored, err := sealEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	canon, err := encodeEvent(sealed)
	if err != nil || !bytes.Equal(canon, stored) {
		t.Fatalf("stored form differs from canonical encoding:\n%s\n%s", stored, canon)
	}
	computed, claimed, ok := storedHash(stored)
	if !ok || computed != sealed.Hash || claimed != sealed.Hash {
		t.Fatalf("storedHash = %s %s %v, want %s", computed, claimed, ok, sealed.Hash)
	}
	want := `{"seq":7,"time":"2025-03-01T10:04:05.5Z","kind":"request_denied","request_id":"R-X",` +
		`"actor":{"platform":"slack","chat_id":"UAVERY \"A\" <&> \u2028","object_id":"` + oidApprover1 +
		`","display_name":"Avery \"A\" <&> \u2028"},"target":{},"detail":"nope\n","prev":"` + strings.Repeat("a", 64) +
		`","hash":"` + sealed.Hash + `"}`
	if string(stored) != want {
		t.Fatalf("canonical form changed:\n got %s\nwant %s", stored, want)
	}
}
