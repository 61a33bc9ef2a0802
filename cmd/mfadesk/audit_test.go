package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/approvals"
	"go.etcd.io/bbolt"
)

// seedDB files and cancels one request through the real service, leaving a small chain.
func seedDB(t *testing.T) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mfadesk.db")
	st, err := approvals.OpenBolt(path, approvals.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const hd, ap, agent, target = "00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000a2", "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000003"
	svc, err := approvals.New(context.Background(), approvals.Options{
		Store: st, Directory: allMember{}, Executor: noExec{},
		Policy: approvals.Policy{HelpdeskGroupID: hd, ApproversGroupID: ap},
	})
	if err != nil {
		t.Fatal(err)
	}
	req, err := svc.Submit(context.Background(), approvals.NewRequest{
		Action: approvals.ActionRevoke, Target: approvals.Target{ObjectID: target, UPN: "t@contoso.example"},
		Requester: approvals.Actor{Platform: "web", ChatID: "hana", ObjectID: agent}, Reason: "suspected compromise of the account",
		Verification: approvals.Verification{Method: approvals.VerifyInPerson, Detail: "badge checked at the desk"}, Ticket: "INC-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Cancel(context.Background(), req.ID, approvals.Actor{Platform: "web", ChatID: "hana", ObjectID: agent}); err != nil {
		t.Fatal(err)
	}
	return path, req.ID
}

type allMember struct{}

func (allMember) IsMember(context.Context, string, string) (bool, error) { return true, nil }
func (allMember) Protection(context.Context, string) (approvals.Protection, error) {
	return approvals.Protection{}, nil
}

type noExec struct{}

func (noExec) Execute(context.Context, approvals.Request, bool, func(context.Context, approvals.Step) error) (approvals.Result, error) {
	return approvals.Result{}, nil
}

func TestAuditCommands(t *testing.T) {
	path, id := seedDB(t)
	run1 := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, &out, &errb, func(string) string { return "" })
		return code, out.String(), errb.String()
	}
	code, out, _ := run1("audit", "export", "--db", path)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("export: %d %q", code, out)
	}
	var ev approvals.Event
	if err := json.Unmarshal([]byte(lines[1]), &ev); err != nil || ev.Kind != "request_cancelled" || ev.Prev == "" {
		t.Fatalf("export line: %v %+v", err, ev)
	}
	if code, out, _ := run1("audit", "verify", "--db", path); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("verify: %d %q", code, out)
	}
	// The posted head must match: a head from the future means the log was truncated.
	if code, _, errs := run1("audit", "verify", "--db", path, "--head", "3:"+ev.Hash[:16]); code != 1 || !strings.Contains(errs, "ends at event 2") {
		t.Fatalf("verify --head future: %d %q", code, errs)
	}
	if code, _, errs := run1("audit", "verify", "--db", path, "--head", "2:deadbeefdeadbeef"); code != 1 || !strings.Contains(errs, "differs") {
		t.Fatalf("verify --head wrong hash: %d %q", code, errs)
	}
	if code, out, _ := run1("approvals", "list", "--db", path); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "cancelled") {
		t.Fatalf("list: %d %q", code, out)
	}
	if code, out, _ := run1("approvals", "show", "--json", "--db", path, id); code != 0 || !strings.Contains(out, `"request_created"`) {
		t.Fatalf("show: %d %q", code, out)
	}
	if code, _, errs := run1("audit", "export"); code != 2 || !strings.Contains(errs, "--db FILE") {
		t.Fatalf("export without db: %d %q", code, errs)
	}

	// Tamper with the first event: verify names it and exits non-zero.
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		var done bool
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			if done || !strings.Contains(string(name), "audit") {
				return nil
			}
			k, v := b.Cursor().First()
			if k == nil {
				return nil
			}
			done = true
			return b.Put(k, bytes.Replace(v, []byte("suspected"), []byte("harmless!"), 1))
		})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run1("audit", "verify", "--db", path); code != 1 || !strings.Contains(errs, "NOT intact") {
		t.Fatalf("verify after tampering: %d %q", code, errs)
	}
}

// appendRequest files one more request in the database at path: one more event.
func appendRequest(t *testing.T, path string) {
	t.Helper()
	st, err := approvals.OpenBolt(path, approvals.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := approvals.New(context.Background(), approvals.Options{
		Store: st, Directory: allMember{}, Executor: noExec{},
		Policy: approvals.Policy{HelpdeskGroupID: "00000000-0000-4000-8000-0000000000a1", ApproversGroupID: "00000000-0000-4000-8000-0000000000a2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Submit(context.Background(), approvals.NewRequest{
		Action: approvals.ActionRevoke, Target: approvals.Target{ObjectID: "00000000-0000-4000-8000-000000000004", UPN: "u@contoso.example"},
		Requester: approvals.Actor{Platform: "web", ChatID: "hana", ObjectID: "00000000-0000-4000-8000-000000000001"}, Reason: "lost device",
		Ticket: "INC-2",
	})
	if err != nil {
		t.Fatal(err)
	}
}

// --head compares the event with the posted number wherever it is in the chain, and
// takes the head as the audit channel posts it.
func TestAuditVerifyHead(t *testing.T) {
	posted, _ := seedDB(t)
	rep, err := approvals.VerifyFile(context.Background(), posted)
	if err != nil || !rep.OK || rep.Head.Seq != 2 {
		t.Fatalf("seeded log: %+v, %v", rep, err)
	}
	h16 := rep.Head.Hash[:16]
	// The attacker's copy: a whole new chain, one event longer, intact on its own.
	rewritten, _ := seedDB(t)
	appendRequest(t, rewritten)

	tests := []struct {
		name, db, head string
		code           int
		out            string
	}{
		{"SEQ:HASH", posted, "2:" + h16, 0, "intact"},
		{"as posted in the audit channel", posted, "· chain head #2 " + h16, 0, "intact"},
		{"as posted, with the ellipsis", posted, "chain head #2 " + h16 + "…", 0, "intact"},
		{"#SEQ HASH", posted, "#2 " + strings.ToUpper(h16), 0, "intact"},
		{"the full hash", posted, "2:" + rep.Head.Hash, 0, "intact"},
		{"rewritten chain with one event appended", rewritten, "2:" + h16, 1, "event 2's hash differs"},
		{"pasted as #SEQ HASH against the rewritten chain", rewritten, "#2 " + h16, 1, "rewritten"},
		{"truncated: the posted event is past the end", posted, "3:" + h16, 1, "ends at event 2"},
		{"8 hex digits are not enough", posted, "2:" + h16[:8], 2, "at least 16"},
		{"not hex", posted, "2:" + strings.Repeat("z", 16), 2, "not hexadecimal"},
		{"no sequence number", posted, h16, 2, "not a chain head"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{"audit", "verify", "--db", tc.db, "--head", tc.head}, &out, &errb, func(string) string { return "" })
			if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.out) {
				t.Fatalf("exit %d (want %d)\nstdout %q\nstderr %q\nwant %q", code, tc.code, out.String(), errb.String(), tc.out)
			}
		})
	}
}
