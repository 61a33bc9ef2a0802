package approvals

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mfadesk/mfadesk/actions"
	textclip "github.com/mfadesk/mfadesk/actions/clip"
	"github.com/mfadesk/mfadesk/actions/guid"
	"github.com/mfadesk/mfadesk/approvals/reqid"
)

// Action is what an approved request does to its target.
type Action string

// Actions. ActionTAP is reserved for the temporary-access-pass flow: records may name
// it, and it is accepted, but the Executor decides whether it can carry it out.
const (
	ActionReregister Action = "reregister"
	ActionRevoke     Action = "revoke"
	ActionTAP        Action = "tap"
)

func (a Action) valid() bool {
	switch a {
	case ActionReregister, ActionRevoke, ActionTAP:
		return true
	}
	return false
}

// needsVerification reports whether the action hands the target's account to
// whoever called the helpdesk, so the caller's identity must have been verified.
// Revoking sessions only forces everyone to sign in again, so it needs none.
func (a Action) needsVerification() bool { return a == ActionReregister || a == ActionTAP }

// State is where a request is in its life.
type State string

// States.
const (
	StatePending   State = "pending"
	StateApproved  State = "approved"
	StateExecuting State = "executing"
	// StatePaused: a bulk run did its canary users and waits for Continue or Stop.
	StatePaused    State = "paused"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
	StateDenied    State = "denied"
	StateExpired   State = "expired"
	StateCancelled State = "cancelled"
	// StateStopped: a bulk run someone stopped after its canary; the rest never ran.
	StateStopped State = "stopped"
)

// Open reports whether the request still blocks another request for its target.
func (s State) Open() bool {
	return s == StatePending || s == StateApproved || s == StateExecuting || s == StatePaused
}

// states lists every state, in the order of a request's life.
var states = []State{StatePending, StateApproved, StateExecuting, StatePaused, StateSucceeded, StateFailed, StateStopped, StateDenied, StateExpired, StateCancelled}

// States returns every state, in the order of a request's life (a copy).
func States() []State { return slices.Clone(states) }

func (s State) valid() bool { return slices.Contains(states, s) }

// stateWords are the words people read in chat where they differ from the stored
// name: a card says "done", the store, the audit log and the metrics say
// "succeeded". This is the one place the two vocabularies meet.
var stateWords = map[State]string{StateSucceeded: "done"}

// Word is how a person reads the state on a card or in a reply.
func (s State) Word() string {
	if w, ok := stateWords[s]; ok {
		return w
	}
	return string(s)
}

// ParseState reads a state as a person types it: its name or its word, in any case.
// Anything else is an ErrInvalid error naming the states.
func ParseState(s string) (State, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, st := range states {
		if t == string(st) || t == st.Word() {
			return st, nil
		}
	}
	names := make([]string, len(states))
	for i, st := range states {
		names[i] = string(st)
	}
	return "", refusef(ErrInvalid, "%q is not a request state; use one of %s.", clip(s, 40), strings.Join(names, ", "))
}

// VerificationMethod is how the helpdesk verified the identity of the person asking
// for the action. The list is fixed so that policy can reason about its strength.
type VerificationMethod string

// Verification methods, strongest first.
const (
	VerifyInPerson           VerificationMethod = "in_person_id"
	VerifyVideoWithID        VerificationMethod = "video_with_id"
	VerifyExistingFactor     VerificationMethod = "existing_factor_challenge"
	VerifyCallbackOnRecord   VerificationMethod = "callback_to_number_on_record"
	VerifyManagerAttestation VerificationMethod = "manager_attestation"
	// VerifyPhoneKBA (name, birth date, employee id over the phone) is the check the
	// 2023 help-desk attacks defeated with data from breaches and LinkedIn; policy
	// treats it as weak.
	VerifyPhoneKBA VerificationMethod = "phone_kba"
)

// VerificationMethods returns the accepted verification methods, strongest first,
// for the bot's form.
func VerificationMethods() []VerificationMethod {
	return []VerificationMethod{VerifyInPerson, VerifyVideoWithID, VerifyExistingFactor,
		VerifyCallbackOnRecord, VerifyManagerAttestation, VerifyPhoneKBA}
}

func (m VerificationMethod) valid() bool {
	for _, v := range VerificationMethods() {
		if m == v {
			return true
		}
	}
	return false
}

// Verification is the identity-verification evidence: a method and what was checked.
type Verification struct {
	Method VerificationMethod `json:"method,omitempty"`
	Detail string             `json:"detail,omitempty"`
}

// MethodRef names one authentication method of the target, as snapshotted when a
// reregister request was filed. approvals only stores it and hands it back.
type MethodRef struct {
	ID    string `json:"id"`
	Type  string `json:"type,omitempty"`
	Label string `json:"label,omitempty"`
}

// Target is the directory user a request acts on.
type Target struct {
	ObjectID    string `json:"object_id,omitempty"`
	UPN         string `json:"upn,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
}

// String names the target for messages: UPN, else display name, else object id.
func (t Target) String() string {
	switch {
	case t.UPN != "":
		return t.UPN
	case t.DisplayName != "":
		return t.DisplayName
	}
	return t.ObjectID
}

// Actor is a person acting through chat: the platform and chat user id they clicked
// from, and the directory user that chat account maps to. Policy compares ObjectID
// only; the rest is for people reading the record.
type Actor struct {
	Platform    string `json:"platform,omitempty"`
	ChatID      string `json:"chat_id,omitempty"`
	ObjectID    string `json:"object_id,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
}

// String names the actor for messages.
func (a Actor) String() string {
	if a.DisplayName != "" {
		return a.DisplayName
	}
	if a.ObjectID != "" {
		return a.ObjectID
	}
	if a.Platform == "" && a.ChatID == "" {
		// No person: a step mfadesk took itself (expiry, recovery, execution).
		return "mfadesk"
	}
	return "an unlinked " + a.Platform + " user " + a.ChatID
}

// Verdict is an approver's decision.
type Verdict string

// Verdicts.
const (
	VerdictApprove Verdict = "approve"
	VerdictDeny    Verdict = "deny"
)

// Decision is one approver's verdict on a request.
type Decision struct {
	By            Actor     `json:"by"`
	At            time.Time `json:"at"`
	Verdict       Verdict   `json:"verdict"`
	Justification string    `json:"justification,omitempty"`
}

// Step is one thing the Executor did (or failed to do), e.g. deleting one method.
// Steps are stored, audited and shown on cards: they must never hold secrets such as
// a temporary access pass or a full phone number.
type Step struct {
	Name    string    `json:"name"`
	Target  string    `json:"target,omitempty"`
	Outcome string    `json:"outcome"`
	Detail  string    `json:"detail,omitempty"`
	At      time.Time `json:"at"`
}

// Result is what an Executor reports after carrying out a request.
type Result struct {
	Steps []Step `json:"steps,omitempty"`
}

// NewRequest is what a helpdesk agent files.
type NewRequest struct {
	Action  Action
	Target  Target
	Methods []MethodRef // for reregister: the methods the request was made against
	TAP     *TAPOptions // for tap: the pass asked for
	// Bulk, for a bulk reregister, is the set of users (Target is then empty).
	Bulk         *BulkSet
	Requester    Actor
	Reason       string
	Verification Verification
	Ticket       string
	// Risk is what the approver should weigh (admin rights, recent failures), as
	// lines for the card. It is display data read at filing, kept so that every
	// rendering of the card shows it, and not part of what is approved (the digest).
	Risk []string
}

// Request is the stored record of one request. The fields from ID to Expires are
// fixed when it is filed (and covered by the digest in its request_created audit
// event); the rest changes as it moves through its states.
type Request struct {
	ID           string       `json:"id"`
	Action       Action       `json:"action"`
	Target       Target       `json:"target"`
	Methods      []MethodRef  `json:"methods,omitempty"`
	TAP          *TAPOptions  `json:"tap,omitempty"`
	Bulk         *BulkSet     `json:"bulk,omitempty"`
	Requester    Actor        `json:"requester"`
	Reason       string       `json:"reason"`
	Verification Verification `json:"verification"`
	Ticket       string       `json:"ticket,omitempty"`
	Created      time.Time    `json:"created"`
	Expires      time.Time    `json:"expires"`

	State State `json:"state"`
	// BulkRun is a bulk run's count, stored when it pauses and when it ends; not
	// digested (display data).
	BulkRun *BulkProgress `json:"bulk_run,omitempty"`
	// Protection is what the directory said about the target, at filing or, if it
	// became protected since, at the latest approval.
	Protection Protection `json:"protection"`
	// ApprovalsNeeded is 1, or 2 for a protected target under ProtectedTwoApprovers.
	ApprovalsNeeded int `json:"approvals_needed"`
	// Risk is the risk context read at filing (see NewRequest.Risk); not digested.
	Risk      []string   `json:"risk,omitempty"`
	Decisions []Decision `json:"decisions,omitempty"`
	// Attempts counts how often the Executor was started (more than 1 after a resume).
	Attempts int `json:"attempts,omitempty"`
	// Runner is the replica that claimed the latest attempt, on a store shared by
	// several replicas (etcd); empty on bbolt, which one process owns.
	Runner string `json:"runner,omitempty"`
	Steps  []Step `json:"steps,omitempty"`
	// Error says why a failed request failed.
	Error string `json:"error,omitempty"`
	// Retryable is set on a failed request when the failure was temporary (the
	// executor said so, or the directory could not be asked at execution) and
	// trying again is safe: an approver may then Retry it while the approval is
	// still valid.
	Retryable bool `json:"retryable,omitempty"`
	// Performed is the evidence mfadesk gathered itself (the target confirmed);
	// Unreachable says why the target could not be asked. The audit chain, not
	// these fields, is what the evidence rule checks.
	Performed   []Performed `json:"performed,omitempty"`
	Unreachable string      `json:"unreachable,omitempty"`
	Updated     time.Time   `json:"updated"`
	// NotMe is set on a request cancelled because its target said "This is not me"
	// (Service.NotMe), not by its requester: cards and notices must say who stopped it.
	NotMe bool `json:"not_me,omitempty"`
}

// Approvals returns the approving decisions so far.
func (r Request) Approvals() []Decision {
	var out []Decision
	for _, d := range r.Decisions {
		if d.Verdict == VerdictApprove {
			out = append(out, d)
		}
	}
	return out
}

const (
	idPrefix = reqid.Prefix
	idChars  = reqid.Chars
	// Limits keep one chat user from bloating the store and the audit channel.
	maxShort   = 256
	maxText    = 2000
	maxMethods = 100
	maxRisk    = 20
)

func idEncoding() *base32.Encoding { return reqid.Encoding() }

// newID returns a fresh, unguessable request id: "R-" and 128 random bits in base32.
// Buttons carry only this id, so guessing one must be infeasible.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate request id: %w", err)
	}
	return idPrefix + idEncoding().EncodeToString(b[:]), nil
}

// ParseID normalises an id as a person might type it (any case, with or without
// "R-", surrounding spaces, or in the groups SpokenID shows, joined by spaces or
// dashes) and returns it in canonical form, or an ErrInvalid error.
func ParseID(s string) (string, error) {
	if id, ok := reqid.Canonical(s); ok {
		return id, nil
	}
	shown := s
	if len(shown) > 40 || !utf8.ValidString(shown) {
		shown = "that"
	}
	return "", refusef(ErrInvalid, "%q is not a request id; ids look like R- followed by 26 letters and digits.", shown)
}

// normOID returns a directory object id in canonical (lower-case) form and whether
// it is a well-formed GUID. Policy compares only canonical ids, so "ABC…" and "abc…"
// are the same person.
func normOID(s string) (string, bool) { return guid.Canonical(s) }

// sameOID compares two directory object ids; an empty or malformed id is never the
// same as anything, so a missing id can't be mistaken for a match (or a mismatch
// that lets a self-approval through: callers refuse malformed ids first).
func sameOID(a, b string) bool {
	x, ok1 := normOID(a)
	y, ok2 := normOID(b)
	return ok1 && ok2 && x == y
}

// clip bounds a free-text field to a byte budget; it cuts on a rune boundary.
func clip(s string, n int) string { return textclip.Bytes(s, n) }

func (a Actor) normalized() Actor {
	a.Platform = clip(strings.TrimSpace(a.Platform), maxShort)
	a.ChatID = clip(strings.TrimSpace(a.ChatID), maxShort)
	a.ObjectID, _ = normOID(clip(a.ObjectID, maxShort))
	a.DisplayName = clip(strings.TrimSpace(a.DisplayName), maxShort)
	return a
}

func (t Target) normalized() Target {
	t.ObjectID, _ = normOID(clip(t.ObjectID, maxShort))
	t.UPN = clip(strings.TrimSpace(t.UPN), maxShort)
	t.DisplayName = clip(strings.TrimSpace(t.DisplayName), maxShort)
	return t
}

func (in NewRequest) normalized() NewRequest {
	in.Action = Action(clip(strings.ToLower(strings.TrimSpace(string(in.Action))), maxShort))
	in.Target = in.Target.normalized()
	in.Requester = in.Requester.normalized()
	if in.Bulk != nil {
		in.Bulk = in.Bulk.normalized()
	}
	in.Reason = strings.TrimSpace(in.Reason)
	in.Ticket = strings.TrimSpace(in.Ticket)
	in.Verification.Method = VerificationMethod(strings.TrimSpace(string(in.Verification.Method)))
	in.Verification.Detail = strings.TrimSpace(in.Verification.Detail)
	if len(in.Risk) > maxRisk {
		in.Risk = in.Risk[:maxRisk]
	}
	risk := make([]string, 0, len(in.Risk))
	for _, l := range in.Risk {
		if l = clip(strings.TrimSpace(l), maxShort); l != "" {
			risk = append(risk, l)
		}
	}
	in.Risk = risk
	return in
}

// masked masks phone numbers in the free text of a validated NewRequest, before it
// is stored or hashed into the audit chain, which cannot be edited later.
func (in NewRequest) masked() NewRequest {
	in.Reason = actions.MaskPhones(in.Reason)
	in.Verification.Detail = actions.MaskPhones(in.Verification.Detail)
	return in
}

// validate checks the form fields of a normalised NewRequest. Identity and policy
// checks come later; these are the mistakes a person can fix by editing the form.
func (in NewRequest) validate(p Policy) *Error {
	if !in.Action.valid() {
		return refusef(ErrInvalid, "%q is not an action that needs approval; use reregister or revoke.", clip(string(in.Action), 40))
	}
	if in.Bulk != nil {
		if e := in.validateBulk(p); e != nil {
			return e
		}
	} else if _, ok := normOID(in.Target.ObjectID); !ok {
		return refusef(ErrInvalid, "The target user has no valid directory object id, so no request was filed.")
	}
	if in.Reason == "" {
		return refusef(ErrInvalid, "A reason is required.")
	}
	if len(in.Reason) > maxText {
		return refusef(ErrInvalid, "The reason is longer than %d characters.", maxText)
	}
	if in.Ticket == "" && !p.TicketOptional {
		return refusef(ErrInvalid, "A ticket id is required.")
	}
	if len(in.Ticket) > maxShort {
		return refusef(ErrInvalid, "The ticket id is longer than %d characters.", maxShort)
	}
	v := in.Verification
	if v.Method != "" || v.Detail != "" || in.Action.needsVerification() {
		if !v.Method.valid() {
			return refusef(ErrInvalid, "Say how the caller's identity was verified: one of %s.", methodList())
		}
		if v.Detail == "" {
			return refusef(ErrInvalid, "Describe the identity check in a few words (what was seen or who attested).")
		}
		if len(v.Detail) > maxText {
			return refusef(ErrInvalid, "The verification detail is longer than %d characters.", maxText)
		}
	}
	if in.Action != ActionReregister && len(in.Methods) > 0 {
		return refusef(ErrInvalid, "Only a reregister request carries a snapshot of methods.")
	}
	if e := in.validateTAP(); e != nil {
		return e
	}
	if len(in.Methods) > maxMethods {
		return refusef(ErrInvalid, "The method snapshot has more than %d entries.", maxMethods)
	}
	for _, m := range in.Methods {
		if m.ID == "" || len(m.ID) > maxShort || len(m.Type) > maxShort || len(m.Label) > maxShort {
			return refusef(ErrInvalid, "The method snapshot has an entry without an id or with an over-long field.")
		}
	}
	return nil
}

func methodList() string {
	var names []string
	for _, m := range VerificationMethods() {
		names = append(names, string(m))
	}
	return strings.Join(names, ", ")
}

// requestCore is the part of a request fixed at filing; its digest binds approvals to
// exactly what was filed.
type requestCore struct {
	ID           string       `json:"id"`
	Action       Action       `json:"action"`
	Target       Target       `json:"target"`
	Methods      []MethodRef  `json:"methods,omitempty"`
	TAP          *TAPOptions  `json:"tap,omitempty"`  // absent for other actions: their digests are unchanged
	Bulk         *BulkSet     `json:"bulk,omitempty"` // the whole set, each user's snapshot included
	Requester    Actor        `json:"requester"`
	Reason       string       `json:"reason"`
	Verification Verification `json:"verification"`
	Ticket       string       `json:"ticket,omitempty"`
	Created      time.Time    `json:"created"`
	Expires      time.Time    `json:"expires"`
}

// requestDigest is the lowercase hex SHA-256 of the JSON encoding of the immutable
// part of r (see doc.go).
func requestDigest(r Request) (string, error) {
	b, err := json.Marshal(requestCore{
		ID: r.ID, Action: r.Action, Target: r.Target, Methods: r.Methods, TAP: r.TAP, Bulk: r.Bulk,
		Requester: r.Requester, Reason: r.Reason, Verification: r.Verification,
		Ticket: r.Ticket, Created: r.Created, Expires: r.Expires,
	})
	if err != nil {
		return "", fmt.Errorf("digest request %s: %w", r.ID, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func encodeRequest(r Request) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode request %s: %w", r.ID, err)
	}
	return packRecord(b) // see pack.go
}

// decodeRequest parses a stored record strictly: one JSON object, no unknown fields,
// no trailing data, and the invariants every stored request satisfies. A record that
// fails is treated as corrupt rather than half-trusted.
func decodeRequest(b []byte) (Request, error) {
	b, err := unpackRecord(b)
	if err != nil {
		return Request{}, fmt.Errorf("decode request record: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Request
	if err := dec.Decode(&r); err != nil {
		return Request{}, fmt.Errorf("decode request record: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Request{}, errors.New("decode request record: trailing data after the record")
	}
	if err := r.check(); err != nil {
		return Request{}, fmt.Errorf("decode request record: %w", err)
	}
	return r, nil
}

// check verifies the invariants of a stored record.
func (r Request) check() error {
	if id, err := ParseID(r.ID); err != nil || id != r.ID {
		return errors.New("bad id")
	}
	if !r.Action.valid() {
		return fmt.Errorf("unknown action %q", clip(string(r.Action), 40))
	}
	if !r.State.valid() {
		return fmt.Errorf("unknown state %q", clip(string(r.State), 40))
	}
	if r.Bulk != nil {
		if err := r.Bulk.check(r.Action, r.Target); err != nil {
			return err
		}
	} else if oid, ok := normOID(r.Target.ObjectID); !ok || oid != r.Target.ObjectID {
		return errors.New("bad target object id")
	}
	if oid, ok := normOID(r.Requester.ObjectID); !ok || oid != r.Requester.ObjectID {
		return errors.New("bad requester object id")
	}
	if r.Created.IsZero() || !r.Expires.After(r.Created) {
		return errors.New("bad created or expires time")
	}
	if r.ApprovalsNeeded != 1 && r.ApprovalsNeeded != 2 {
		return fmt.Errorf("approvals needed is %d, not 1 or 2", r.ApprovalsNeeded)
	}
	if r.Attempts < 0 {
		return errors.New("negative attempts")
	}
	for i, d := range r.Decisions {
		if d.Verdict != VerdictApprove && d.Verdict != VerdictDeny {
			return fmt.Errorf("decision %d has verdict %q", i, clip(string(d.Verdict), 40))
		}
		if _, ok := normOID(d.By.ObjectID); !ok {
			return fmt.Errorf("decision %d has a bad object id", i)
		}
	}
	if r.TAP != nil && r.Action != ActionTAP {
		return errors.New("pass options on a request that is not tap")
	}
	if r.Verification.Method != "" && !r.Verification.Method.valid() {
		return errors.New("unknown verification method")
	}
	return nil
}
