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
//	approved | executing ──claim refused by the re-check──▶ failed
//	approved | executing ──Recover, not resumed by policy──▶ failed
//	failed (retryable) ──Retry by an approver──▶ approved
//	bulk: executing ──canary done──▶ paused ──Continue──▶ executing; paused ──Stop──▶ stopped
//	bulk: paused ──claim refused by the re-check after Continue──▶ failed
//
// The diagram is the table transitions (transitions.go); wtx.save, the one write of
// a request, refuses any move the table does not list, as a bug, writing nothing.
// Every transition is one Store.Update transaction that re-reads the record, checks
// its state and writes the new state together with the audit event that records it.
// Only the goroutine whose transaction moved a request from approved to executing
// (or, in Recover, re-claimed one left executing) runs the Executor, and the Service
// also remembers which requests it is running, so Recover never starts a second run
// of a request that is still running here.
//
// # Re-check at execution
//
// An approval is a judgement made earlier; the claim checks again what it rested on,
// and a request that fails a check moves to failed with a one-sentence reason and a
// request_failed event carrying the refusal code, without reaching the Executor:
//
//   - the record matches the digest of its request_created event (ErrTampered);
//   - the approval as the audit chain records it: the last event that set a state
//     set the record's state, and the request_approved events that carry the
//     request's digest, by distinct users who are neither the requester nor the
//     target, are exactly the record's approvals and at least as many as it needs
//     (ErrTampered: a record set to approved in the file is not an approval);
//   - an approved request is claimed within the policy TTL of its last approval,
//     which bounds Recover after a long outage and Retry ("approval too old; file it
//     again", ErrExpired);
//   - the requester is still a member of the helpdesk group and every approver of
//     the approvals that count still a member of the approvers group, asked now
//     through Directory.IsMember, which also applies the caller rule (the account
//     exists, is enabled, is a member and not a guest; an *IneligibleError names a
//     failed one) (ErrNotRequester, ErrNotApprover);
//   - the target's protection, read now, still allows the request with the approvals
//     it has (ErrProtectedTarget, ErrWeakVerification).
//
// The directory is asked outside any transaction, all questions as one (Assessor:
// one Graph $batch; otherwise concurrently). The last approval asks the claim's
// question itself, and the claim that follows at once reuses those answers only for
// the same request, people and target and for at most 5 s (shareFor); the
// checks of the record and its chain run again in the transaction that claims. When the directory cannot be asked,
// the request fails closed at once (ErrDirectoryUnavailable) rather than staying
// approved with nothing running it: it is marked Retryable, so an approver may Retry
// it when the directory answers, and the retry repeats every check.
//
// # Steps, resume and Retry
//
// The Executor records each step through the record function it is given, each in
// a transaction of its own, while the request stays executing. Saving the result is
// tried a few times; if it still fails the request stays executing, and the next
// start resumes it (Execute with resume true and the recorded steps in Request.Steps),
// and the Executor never repeats a step recorded done. A new request about a target
// whose request is approved or executing is refused with "being carried out".
//
// An Executor error wrapped with Transient (throttled, unavailable, a timeout) marks
// the failed request Retryable. Retry, by a member of the approvers group who is
// neither the requester nor the target, while the approval is within the policy TTL
// of its last approval and no other request about the target is open, moves it back
// to approved (a request_retried event) and claims it again, re-check included; the
// Executor resumes from the steps recorded by the failed run.
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
// encoding of the request's immutable part (id, action, target, methods, tap options
// when present, requester, reason, verification, ticket, created, expires), and each request_approved event
// carries the same digest, binding that approval to it. A decision or an execution is
// refused with ErrTampered when the stored record no longer matches that digest, so
// what the approver approves is what the requester filed. Phone numbers typed into
// the reason, the verification detail or a justification are masked before the
// record is stored and hashed, because the chain cannot be edited later.
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
