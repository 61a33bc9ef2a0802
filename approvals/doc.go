// Package approvals owns the two-person rule of mfadesk: request records, their
// state machine, the policy that decides who may file and who may decide, expiry,
// running an approved request exactly once, recovery after a crash, and the
// hash-chained audit log. It stores everything in bbolt behind the small Store
// interface, and knows nothing about chat platforms or Microsoft Graph: the
// directory is reached through Directory, and the approved action is carried out by
// an Executor the caller supplies.
//
// # State machine
//
//	pending ──approve (last needed)──▶ approved ──claim──▶ executing ──▶ succeeded | failed
//	pending ──deny / expire / cancel──▶ denied | expired | cancelled
//	approved | executing ──Recover, not resumed by policy──▶ failed
//
// Every transition is one Store.Update transaction that re-reads the record, checks
// its state and writes the new state together with the audit event that records it.
// Only the goroutine whose transaction moved a request from approved to executing
// runs the Executor, and the Service also remembers which requests it is running, so
// Recover never starts a second run of a request that is still running here.
//
// # Refusals
//
// A refused call returns an *Error whose Code says why (ErrSelfApproval, ErrExpired,
// ...) and whose Msg is one plain sentence for the chat user. Except for malformed
// input (ErrInvalid), every refusal of Submit, Decide or Cancel is appended to the
// audit log as an access_refused event in a transaction of its own, after the
// refused transaction was rolled back. The only refusal that changes state is a
// decision or cancellation that arrives after a pending request expired: the
// request is marked expired (and audited) in that transaction, and the caller gets
// ErrExpired.
//
// # Audit log and its canonical hash encoding
//
// Events live in the "audit" bucket under their sequence number as an 8-byte
// big-endian key, starting at 1 with no gaps. Each event carries Prev, the Hash of the
// event before it ("" for event 1), and Hash, its own hash:
//
//	Hash = lowercase hex( SHA-256( canonical(event with Hash = "") ) )
//
// canonical(e) is the JSON encoding of Event as written by Go's encoding/json with
// HTML escaping turned off and no trailing newline: one object, no insignificant
// white space, fields in this fixed order, fields marked "omitted when empty" left
// out when they hold their zero value, and hash left out because it is empty:
//
//	seq         number
//	time        string, RFC 3339 in UTC with up to nine fractional digits,
//	            trailing zeros dropped ("2025-03-01T10:04:05.5Z")
//	kind        string
//	request_id  string, omitted when empty
//	action      string, omitted when empty
//	state       string, omitted when empty
//	actor       object: platform, chat_id, object_id, display_name (each omitted when empty)
//	target      object: object_id, upn, display_name (each omitted when empty)
//	code        string, omitted when empty
//	detail      string, omitted when empty
//	digest      string, omitted when empty
//	prev        string (always present)
//	hash        string (omitted from the hashed form; present in the stored form)
//
// Strings are escaped as encoding/json does (quotes, backslash, control characters,
// U+2028 and U+2029; invalid UTF-8 becomes U+FFFD). The stored value of an event is
// canonical(e) with its hash filled in, so an export is exactly the stored bytes, one
// event per line, and any other tool can recompute each hash by removing the
// "hash" member and hashing the rest byte for byte.
//
// The request_created event carries digest: the SHA-256 (lowercase hex) of the JSON
// encoding of the request's immutable part (id, action, target, methods, requester,
// reason, verification, ticket, created, expires). A decision or an execution is
// refused with ErrTampered when the stored record no longer matches that digest, so
// what the approver approves is what the requester filed.
//
// Verify walks the chain and checks each event the way an outside tool would: its
// key is the next sequence number and equals its seq, the SHA-256 of its stored bytes
// without the trailing hash member equals its hash, and its prev equals the hash of
// the event before. It names the first event that is missing, out of place, edited or
// not linked to its predecessor, and compares the end of the chain with the head
// recorded beside it. Removing events from the end and rewriting the recorded
// head, or rewriting the whole tail of the chain, cannot be detected from the file
// alone: that is why OnAudit hands out the head after each commit, for the bot to
// publish in the audit channel where the chat history witnesses it.
//
// # Storage
//
// OpenBolt opens the bbolt file with mode 0600 and a lock timeout, so a second process
// gets "database FILE is locked by another mfadesk process" instead of hanging. The
// "meta" bucket holds the schema version; New refuses a newer version than it knows.
// The Store interface is small on purpose (buckets of ordered keys, read and write
// transactions). EtcdStore implements it on etcd for several replicas: reads at one
// revision, writes committed by a Txn that compares the mod revision of everything
// read (re-running the transaction when another replica got there first), and a
// lease per replica. A request being executed records the replica that claimed it,
// and recovery re-claims it only once that replica's lease has ended; Lead elects
// the one replica that runs the sweeper and recovery. An unreachable etcd makes
// calls fail with ErrStoreUnavailable. Migrate copies a bbolt file into etcd.
package approvals
