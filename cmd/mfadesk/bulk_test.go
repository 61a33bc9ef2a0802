package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/approvals"
)

// TestApprovalsShowResults: the per-user results of a bulk run, one JSON object a line.
func TestApprovalsShowResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mfadesk.db")
	st, err := approvals.OpenBolt(path, approvals.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := approvals.New(context.Background(), approvals.Options{Store: st, Directory: allMember{}, Executor: noExec{},
		Policy: approvals.Policy{HelpdeskGroupID: "00000000-0000-4000-8000-0000000000a1", ApproversGroupID: "00000000-0000-4000-8000-0000000000a2"}}); err != nil {
		t.Fatal(err)
	}
	const id = "R-AAAAAAAAAAAAAAAAAAAAAAAAAA"
	users := []approvals.BulkUser{
		{ObjectID: "00000000-0000-4000-8000-000000000101", UPN: "a@contoso.example"},
		{ObjectID: "00000000-0000-4000-8000-000000000102", UPN: "b@contoso.example"},
		{ObjectID: "00000000-0000-4000-8000-000000000103", UPN: "c@contoso.example"},
	}
	b := approvals.NewBulkRunner(st)
	_ = b.Continue(context.Background(), id)
	work := func(_ context.Context, u approvals.BulkUser) (approvals.BulkResult, error) {
		if u.UPN == "b@contoso.example" {
			return approvals.BulkResult{Outcome: approvals.BulkStale, Detail: "a method was added since approval"}, nil
		}
		return approvals.BulkResult{Outcome: approvals.BulkDone}, nil
	}
	if _, err := b.Run(context.Background(), id, users, work, approvals.BulkOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	var out, errb bytes.Buffer
	if err := cmdApprovals(context.Background(), []string{"show", "--db", path, "--results", strings.ToLower(id)}, &out, &errb, func(string) string { return "" }); err != nil {
		t.Fatalf("show --results: %v (%s)", err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	outcomes := map[string]string{}
	for _, l := range lines {
		var r approvals.BulkResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		outcomes[r.UPN] = r.Outcome
	}
	if len(lines) != 3 || outcomes["b@contoso.example"] != "stale" || outcomes["a@contoso.example"] != "done" {
		t.Errorf("results = %q", out.String())
	}
}
