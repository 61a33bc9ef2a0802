package approvals

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

// EventKind names what an audit event records.
type EventKind string

// Event kinds. The string values are stable: they are hashed into the chain.
const (
	EventCreated   EventKind = "request_created"
	EventApproved  EventKind = "request_approved" // one approval; State says whether more are needed
	EventDenied    EventKind = "request_denied"
	EventExecuting EventKind = "request_executing"
	EventSucceeded EventKind = "request_succeeded"
	EventFailed    EventKind = "request_failed"
	EventExpired   EventKind = "request_expired"
	EventCancelled EventKind = "request_cancelled"
	EventRefused   EventKind = "access_refused"
	// EventRetried: an approver sent a failed request back to approved to run again.
	EventRetried EventKind = "request_retried"
)

// Event is one entry of the hash-chained audit log. The field order is part of the
// canonical encoding (see doc.go): do not reorder, and add new fields only with
// omitempty and a schema version bump.
type Event struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Kind      EventKind `json:"kind"`
	RequestID string    `json:"request_id,omitempty"`
	Action    Action    `json:"action,omitempty"`
	// State is the request's state after the event.
	State State `json:"state,omitempty"`
	// Actor is who acted; zero for mfadesk itself (expiry, recovery).
	Actor  Actor  `json:"actor"`
	Target Target `json:"target"`
	// Code is the refusal code of an access_refused event.
	Code   Code   `json:"code,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Digest is the request digest, on request_created and request_approved events.
	Digest string `json:"digest,omitempty"`
	Prev   string `json:"prev"`
	Hash   string `json:"hash,omitempty"`
}

// Head identifies the end of the chain: the last event's sequence number and hash.
type Head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// VerifyReport is the outcome of checking the audit chain.
type VerifyReport struct {
	OK bool `json:"ok"`
	// Events is how many events, from the first, were found intact.
	Events uint64 `json:"events"`
	// Head is the head recorded in the database; compare it with the last head
	// posted to the audit channel to detect a rewritten tail.
	Head Head `json:"head"`
	// BadSeq is the first sequence number found wrong (0 when OK), and Problem says
	// what is wrong with it.
	BadSeq  uint64 `json:"bad_seq,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// String is a one-line summary for the CLI.
func (r VerifyReport) String() string {
	if r.OK {
		return fmt.Sprintf("audit log intact: %d events, head %d %s", r.Events, r.Head.Seq, r.Head.Hash)
	}
	return fmt.Sprintf("audit log NOT intact at event %d: %s (%d events before it are intact)", r.BadSeq, r.Problem, r.Events)
}

func seqKey(n uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	return k[:]
}

// encodeEvent returns canonical(e): see doc.go.
func encodeEvent(e Event) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("encode audit event: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// hashMember is how the hash member starts in a stored event; it is always the last
// member, so the hashed form is the stored form with `,"hash":"<64 hex>"` cut out.
const (
	hashMember  = `,"hash":"`
	storedTail  = len(hashMember) + sha256.Size*2 + len(`"}`)
	hashedClose = "}"
)

// sealEvent computes e's hash over canonical(e) and returns e with it, and the stored
// form: canonical(e) with the hash member appended. Encoding once guarantees the
// stored bytes and the hashed bytes differ only by that member.
func sealEvent(e Event) (Event, []byte, error) {
	e.Hash = ""
	body, err := encodeEvent(e)
	if err != nil {
		return Event{}, nil, err
	}
	sum := sha256.Sum256(body)
	e.Hash = hex.EncodeToString(sum[:])
	stored := make([]byte, 0, len(body)+storedTail)
	stored = append(stored, body[:len(body)-1]...)
	stored = append(stored, hashMember...)
	stored = append(stored, e.Hash...)
	stored = append(stored, `"}`...)
	return e, stored, nil
}

func eventHash(e Event) (string, error) {
	sealed, _, err := sealEvent(e)
	return sealed.Hash, err
}

// storedHash hashes the stored form of an event the way an outside tool would: the
// bytes without the trailing hash member. It returns the computed hash and the one
// the bytes claim, or ok=false if the bytes do not end with a hash member.
func storedHash(v []byte) (computed, claimed string, ok bool) {
	if len(v) < storedTail+2 || !bytes.HasSuffix(v, []byte(`"}`)) {
		return "", "", false
	}
	cut := len(v) - storedTail
	if !bytes.Equal(v[cut:cut+len(hashMember)], []byte(hashMember)) {
		return "", "", false
	}
	claimed = string(v[cut+len(hashMember) : len(v)-2])
	h := sha256.New()
	h.Write(v[:cut]) // v is bbolt's memory: hash it in place, never append to it
	h.Write([]byte(hashedClose))
	return hex.EncodeToString(h.Sum(nil)), claimed, true
}

func decodeEvent(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, err
	}
	return e, nil
}

func readHead(tx Tx) (Head, error) {
	var h Head
	b := tx.Get(bucketMeta, []byte(keyHead))
	if b == nil {
		return h, nil
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("read audit head: %w", err)
	}
	return h, nil
}

// appendEvent links e to the head of the chain and stores it, in tx, so the event
// commits or rolls back with the state change it records.
func appendEvent(tx Tx, e Event) (Event, error) {
	h, err := readHead(tx)
	if err != nil {
		return Event{}, err
	}
	e.Seq = h.Seq + 1
	e.Prev = h.Hash
	e.Time = e.Time.UTC()
	e, b, err := sealEvent(e)
	if err != nil {
		return Event{}, err
	}
	if err := tx.Put(bucketAudit, seqKey(e.Seq), b); err != nil {
		return Event{}, fmt.Errorf("append audit event %d: %w", e.Seq, err)
	}
	if e.RequestID != "" {
		if err := tx.Put(bucketAuditByReq, append([]byte(e.RequestID+"/"), seqKey(e.Seq)...), []byte{}); err != nil {
			return Event{}, fmt.Errorf("index audit event %d: %w", e.Seq, err)
		}
	}
	hb, err := json.Marshal(Head{Seq: e.Seq, Hash: e.Hash})
	if err != nil {
		return Event{}, fmt.Errorf("encode audit head: %w", err)
	}
	if err := tx.Put(bucketMeta, []byte(keyHead), hb); err != nil {
		return Event{}, fmt.Errorf("store audit head: %w", err)
	}
	return e, nil
}

// verifyChain checks every event in order; see VerifyReport.
func verifyChain(ctx context.Context, tx Tx) (VerifyReport, error) {
	var rep VerifyReport
	fail := func(seq uint64, format string, args ...any) {
		rep.BadSeq = seq
		rep.Problem = fmt.Sprintf(format, args...)
	}
	head, err := readHead(tx)
	if err != nil {
		fail(1, "the recorded head of the log is unreadable: %v", err)
		return rep, nil
	}
	rep.Head = head
	want := uint64(1)
	prev := ""
	err = tx.Scan(bucketAudit, nil, func(k, v []byte) (bool, error) {
		if want%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
		}
		if len(k) != 8 {
			fail(want, "event %d is missing: the log holds a key that is not a sequence number (%x)", want, k)
			return false, nil
		}
		if got := binary.BigEndian.Uint64(k); got != want {
			fail(want, "event %d is missing (the next stored event is %d): events were deleted", want, got)
			return false, nil
		}
		// Only the chain fields are decoded: the hash covers every other byte, so
		// decoding the rest would only slow down verifying a long log.
		var e struct {
			Seq  *uint64 `json:"seq"`
			Prev *string `json:"prev"`
			Hash string  `json:"hash"`
		}
		if err := json.Unmarshal(v, &e); err != nil || e.Seq == nil || e.Prev == nil {
			fail(want, "event %d is not a readable event: it was edited", want)
			return false, nil
		}
		if *e.Seq != want {
			fail(want, "the event stored as %d says it is event %d: events were reordered, inserted or moved", want, *e.Seq)
			return false, nil
		}
		computed, claimed, ok := storedHash(v)
		if !ok || claimed != e.Hash {
			fail(want, "event %d does not end with its hash member: its bytes were edited", want)
			return false, nil
		}
		if computed != claimed {
			fail(want, "event %d does not match its own hash: its content was edited", want)
			return false, nil
		}
		if *e.Prev != prev {
			fail(want, "event %d does not link to event %d (its prev hash differs): an event was edited, inserted, removed or reordered here", want, want-1)
			return false, nil
		}
		prev = e.Hash
		rep.Events = want
		want++
		return true, nil
	})
	if err != nil {
		return VerifyReport{}, fmt.Errorf("verify audit log: %w", err)
	}
	if rep.Problem == "" {
		switch {
		case head.Seq > rep.Events:
			fail(rep.Events+1, "the log ends at event %d but its recorded head is event %d: events were removed from the end", rep.Events, head.Seq)
		case head.Seq < rep.Events:
			fail(head.Seq+1, "the log continues past its recorded head (event %d): events were added outside mfadesk", head.Seq)
		case head.Hash != prev:
			fail(head.Seq, "event %d does not match the recorded head hash: the end of the log was replaced", head.Seq)
		}
	}
	rep.OK = rep.Problem == ""
	return rep, nil
}

func verifyStore(ctx context.Context, st Store) (VerifyReport, error) {
	var rep VerifyReport
	err := st.View(ctx, func(tx Tx) error {
		var err error
		rep, err = verifyChain(ctx, tx)
		return err
	})
	return rep, err
}

// exportEvents writes the stored events at or after since as JSON lines: exactly the
// stored canonical bytes, so the export can be verified without mfadesk.
func exportEvents(ctx context.Context, st Store, w io.Writer, since time.Time) error {
	bw := bufio.NewWriter(w)
	n := 0
	err := st.View(ctx, func(tx Tx) error {
		return tx.Scan(bucketAudit, nil, func(k, v []byte) (bool, error) {
			n++
			if n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return false, err
				}
			}
			if !since.IsZero() {
				var t struct {
					Time time.Time `json:"time"`
				}
				if err := json.Unmarshal(v, &t); err != nil {
					return false, fmt.Errorf("event at key %x is unreadable: %w", k, err)
				}
				if t.Time.Before(since) {
					return true, nil
				}
			}
			if _, err := bw.Write(v); err != nil {
				return false, err
			}
			return true, bw.WriteByte('\n')
		})
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("export audit log: %w", err)
	}
	return nil
}

// recentEvents returns up to limit of the newest events at or after since, oldest
// first. It reads backwards from the head, so it costs O(limit), not O(log).
func recentEvents(ctx context.Context, st Store, since time.Time, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []Event
	err := st.View(ctx, func(tx Tx) error {
		return tx.ScanReverse(bucketAudit, func(k, v []byte) (bool, error) {
			e, err := decodeEvent(v)
			if err != nil {
				return false, fmt.Errorf("event at key %x is unreadable: %w", k, err)
			}
			if e.Time.Before(since) {
				return false, nil
			}
			out = append(out, e)
			return len(out) < limit, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read recent audit events: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// requestEvents returns the events of one request in order.
func requestEvents(tx Tx, id string) ([]Event, error) {
	var out []Event
	prefix := []byte(id + "/")
	err := scanPrefix(tx, bucketAuditByReq, prefix, func(k, _ []byte) (bool, error) {
		seq := k[len(prefix):]
		b := tx.Get(bucketAudit, seq)
		if b == nil {
			return false, fmt.Errorf("audit event %x of %s is missing", seq, id)
		}
		e, err := decodeEvent(b)
		if err != nil {
			return false, fmt.Errorf("audit event %x of %s is unreadable: %w", seq, id, err)
		}
		out = append(out, e)
		return true, nil
	})
	return out, err
}

// checkIntegrity refuses a request whose stored record no longer matches the digest
// its request_created event committed to the chain, and returns that digest.
func checkIntegrity(tx Tx, r Request) (string, error) {
	var created *Event
	prefix := []byte(r.ID + "/")
	err := scanPrefix(tx, bucketAuditByReq, prefix, func(k, _ []byte) (bool, error) {
		b := tx.Get(bucketAudit, k[len(prefix):])
		if b == nil {
			return false, nil
		}
		e, err := decodeEvent(b)
		if err != nil {
			return false, nil
		}
		created = &e
		return false, nil
	})
	if err != nil {
		return "", fmt.Errorf("find the creation event of %s: %w", r.ID, err)
	}
	if created == nil || created.Kind != EventCreated || created.RequestID != r.ID {
		return "", tamperedError(r)
	}
	d, err := requestDigest(r)
	if err != nil {
		return "", err
	}
	if d != created.Digest {
		return "", tamperedError(r)
	}
	return d, nil
}

func tamperedError(r Request) *Error {
	return &Error{Code: ErrTampered, Msg: fmt.Sprintf(
		"Request %s no longer matches what was filed, so it cannot be decided or carried out; file a new request and tell the operator.", r.ID)}
}

// chainApproval is what the audit chain says about a request about to run.
type chainApproval struct {
	approvers  []string  // distinct object ids whose approval counts
	approvedAt time.Time // when the last counted approval was recorded
}

// checkChain derives the approval of r from its audit events instead of trusting the
// record: the last event that set a state must have set r's state, and the approvals
// that count are request_approved events carrying the request's digest, by distinct
// directory users who are neither the requester nor the target. A record whose
// decisions name other approvers, or fewer than it needs, is refused as tampered:
// the events are hash-chained and anchored in the audit channel, the record is not.
func checkChain(tx Tx, r Request, digest string) (chainApproval, error) {
	events, err := requestEvents(tx, r.ID)
	if err != nil {
		return chainApproval{}, fmt.Errorf("read the audit events of %s: %w", r.ID, err)
	}
	var (
		ca        chainApproval
		lastState State
	)
	seen := map[string]bool{}
	for _, e := range events {
		if e.State != "" {
			lastState = e.State
		}
		if e.Kind != EventApproved || e.Digest != digest {
			continue
		}
		oid, ok := normOID(e.Actor.ObjectID)
		if !ok || seen[oid] || sameOID(oid, r.Requester.ObjectID) || r.concerns(oid) {
			continue
		}
		seen[oid] = true
		ca.approvers = append(ca.approvers, oid)
		if e.Time.After(ca.approvedAt) {
			ca.approvedAt = e.Time
		}
	}
	recorded := map[string]bool{}
	for _, d := range r.Approvals() {
		oid, _ := normOID(d.By.ObjectID)
		recorded[oid] = true
	}
	if lastState != r.State || len(recorded) != len(seen) || len(seen) < r.ApprovalsNeeded {
		return ca, tamperedError(r)
	}
	for oid := range recorded {
		if !seen[oid] {
			return ca, tamperedError(r)
		}
	}
	return ca, nil
}
