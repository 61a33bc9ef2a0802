package approvals

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func sampleRequest(t testing.TB) Request {
	t.Helper()
	id, err := newID()
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.UTC)
	return Request{
		ID: id, Action: ActionReregister,
		Target:    Target{ObjectID: oidTarget, UPN: "alex@contoso.com", DisplayName: "Alex"},
		Methods:   []MethodRef{{ID: "m1", Type: "phone", Label: "+1 *** 0142"}},
		Requester: actor(oidRequester, "Riley"), Reason: "lost phone",
		Verification: Verification{Method: VerifyInPerson, Detail: "badge"}, Ticket: "INC-1",
		Created: created, Expires: created.Add(30 * time.Minute), State: StateExecuting,
		Protection: Protection{Protected: true, Reasons: []string{"role"}}, ApprovalsNeeded: 2,
		Decisions: []Decision{{By: actor(oidApprover1, "Avery"), At: created, Verdict: VerdictApprove}},
		Attempts:  1, Steps: []Step{{Name: "delete_method", Outcome: "ok", At: created}}, Updated: created,
	}
}

// FuzzDecodeRequest feeds the stored-record decoder arbitrary bytes: it must never
// panic, must refuse what is not a valid record, and what it accepts must encode
// back to a record it accepts again, byte-identical on the second round.
func FuzzDecodeRequest(f *testing.F) {
	// The seeds edit the record's JSON (a version 1 record, still read as such); the
	// packed form is a seed too.
	valid, err := json.Marshal(sampleRequest(f))
	if err != nil {
		f.Fatal(err)
	}
	packed, err := encodeRequest(sampleRequest(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(packed)
	f.Add(packed[:len(packed)/2])
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(append(bytes.Clone(valid), []byte(` {}`)...))
	f.Add(bytes.Replace(valid, []byte(`"executing"`), []byte(`"exploded"`), 1))
	f.Add(bytes.Replace(valid, []byte(`"approvals_needed":2`), []byte(`"approvals_needed":1e400`), 1))
	f.Add(bytes.Replace(valid, []byte(`"ticket"`), []byte(`"extra":1,"ticket"`), 1))
	for _, s := range []string{"", "null", "{}", "[]", `"R-AAAA"`, `{"id":1}`, "\xff\xfe", `{"created":"2025-13-45T99:99:99Z"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRequest(data)
		if err != nil {
			return
		}
		if err := r.check(); err != nil {
			t.Fatalf("accepted a record that fails its own check: %v", err)
		}
		b1, err := encodeRequest(r)
		if err != nil {
			t.Fatalf("accepted record does not encode: %v", err)
		}
		r2, err := decodeRequest(b1)
		if err != nil {
			t.Fatalf("re-encoded record is refused: %v\n%s", err, b1)
		}
		b2, err := encodeRequest(r2)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", b1, b2)
		}
	})
}

func TestDecodeRequestRefusesGarbage(t *testing.T) {
	// The cases edit the record's JSON; each is refused as stored by version 1
	// (plain) and as stored now (packed).
	valid, err := json.Marshal(sampleRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	packed, err := encodeRequest(sampleRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, ok := range [][]byte{valid, packed} {
		if _, err := decodeRequest(ok); err != nil {
			t.Fatalf("valid record refused: %v", err)
		}
	}
	for name, data := range map[string][]byte{
		"empty":           nil,
		"null":            []byte("null"),
		"truncated":       valid[:len(valid)-1],
		"trailing data":   append(bytes.Clone(valid), '{', '}'),
		"unknown field":   bytes.Replace(valid, []byte(`"ticket"`), []byte(`"admin":true,"ticket"`), 1),
		"unknown state":   bytes.Replace(valid, []byte(`"executing"`), []byte(`"exploded"`), 1),
		"upper-case oid":  bytes.Replace(valid, []byte(oidTarget), []byte("00000000-0000-4000-8000-00000000010A"), 1),
		"three approvals": bytes.Replace(valid, []byte(`"approvals_needed":2`), []byte(`"approvals_needed":3`), 1),
	} {
		if _, err := decodeRequest(data); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
		p, err := packRecord(data)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeRequest(p); err == nil {
			t.Errorf("%s, packed: decoded without error", name)
		}
	}
}
