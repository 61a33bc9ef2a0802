package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/approvals"
)

func runCLI(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	code := run(context.Background(), args, &out, &errb, getenv)
	return code, out.String(), errb.String()
}

// Operator messages say each thing once, in the operator's terms.
func TestCLIMessages(t *testing.T) {
	path, id := seedDB(t)
	cfgFile := filepath.Join(t.TempDir(), "mfadesk.yaml")
	// Three problems at once: a typo'd key, a bad group id, no approvals channel.
	bad := strings.Replace(baseConfig, "  client_id:", "  clientsecret: x\n  client_id:", 1)
	bad = strings.Replace(bad, "helpdesk: 33333333-3333-4333-8333-333333333333", "helpdesk: Helpdesk", 1)
	bad = strings.Replace(bad, "  approvals_channel: C0APPROVE\n", "", 1)
	if err := os.WriteFile(cfgFile, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string // in stdout+stderr
		not  []string
	}{
		{"verify says intact once", []string{"audit", "verify", "--db", path}, 0, []string{"audit log intact: 2 events"}, []string{"intact: audit log intact"}},
		{"show is readable by default", []string{"approvals", "show", "--db", path, id}, 0,
			[]string{"Request ", id, "State ", "cancelled", "Reason ", "suspected compromise", "History:", "request_created", "request_cancelled"}, []string{`"request"`, "{"}},
		{"show takes the id before the flags", []string{"approvals", "show", strings.ToLower(id), "--db", path}, 0, []string{"History:"}, nil},
		{"show --json", []string{"approvals", "show", "--json", "--db", path, id}, 0, []string{`"request":`, `"history":`}, nil},
		{"list --state bogus", []string{"approvals", "list", "--db", path, "--state", "bogus"}, 2,
			[]string{`--state "bogus" is not a request state`, "pending, approved, executing, paused, succeeded, failed, stopped, denied, expired, cancelled"}, nil},
		{"list --state in capitals", []string{"approvals", "list", "--db", path, "--state", "CANCELLED"}, 0, []string{id}, nil},
		{"validate reports every config problem once", []string{"validate", "--config", cfgFile}, 1,
			[]string{"FAIL config: graph.clientsecret: is not a known setting (line 6); did you mean graph.client_secret?",
				"FAIL config: groups.helpdesk: must be the object id", "FAIL config: slack.approvals_channel: is required", "3 problems"},
			[]string{"config: config:", "main.GraphConfig", "not found in type"}},
	}
	env := func(k string) string { return goodEnv[k] }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, env, tt.args...)
			all := out + errs
			if code != tt.code {
				t.Errorf("exit %d, want %d:\n%s", code, tt.code, all)
			}
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(all, w) {
					t.Errorf("output shows %q:\n%s", w, all)
				}
			}
		})
	}
}

// slack.response_url_hosts replaces Slack's hosts for a staging endpoint: entries must
// be bare host names, and validate warns whenever the list is set.
func TestResponseURLHostsConfig(t *testing.T) {
	withHosts := func(list string) string {
		return strings.Replace(baseConfig, "  audit_channel: C0AUDIT\n", "  audit_channel: C0AUDIT\n  response_url_hosts: "+list+"\n", 1)
	}
	for _, bad := range []string{`["https://hooks.example"]`, `["*.example.com"]`, `["hooks.example:8443"]`, `["hooks.example/x"]`} {
		_, err := ParseConfig([]byte(withHosts(bad)), env(goodEnv))
		if err == nil || !strings.Contains(err.Error(), "config: slack.response_url_hosts[0]: ") {
			t.Errorf("%s: err = %v, want it named slack.response_url_hosts[0]", bad, err)
		}
	}
	c, err := ParseConfig([]byte(withHosts(`[hooks.staging.example, 127.0.0.1]`)), env(goodEnv))
	if err != nil {
		t.Fatal(err)
	}
	c.Slack.APIURL = "http://127.0.0.1:1/" // nothing listens: auth.test fails, the warning stays
	var warned bool
	for _, ch := range (validateDeps{}).chatChecks(context.Background(), c) {
		if ch.name == "slack.response_url_hosts" {
			warned = ch.warn != "" && ch.err == nil && strings.Contains(ch.warn, "hooks.staging.example, 127.0.0.1") && strings.Contains(ch.warn, "slack.com")
		}
	}
	if !warned {
		t.Error("validate does not warn about slack.response_url_hosts")
	}
	c, err = ParseConfig([]byte(baseConfig), env(goodEnv))
	if err != nil {
		t.Fatal(err)
	}
	c.Slack.APIURL = "http://127.0.0.1:1/"
	for _, ch := range (validateDeps{}).chatChecks(context.Background(), c) {
		if ch.warn != "" {
			t.Errorf("warning without the setting: %+v", ch)
		}
	}
}

// backup writes a verified, private copy, never over an existing file, and refuses
// while serve holds the database.
func TestBackup(t *testing.T) {
	path, id := seedDB(t)
	out := filepath.Join(t.TempDir(), "copy.db")
	code, stdout, errs := runCLI(t, nil, "backup", "--db", path, "--out", out)
	if code != 0 || !strings.Contains(stdout, "audit log intact: 2 events") {
		t.Fatalf("backup: %d %q %q", code, stdout, errs)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("copy: %v %v", st, err)
	}
	// The copy is a working database with the same request.
	if code, stdout, _ := runCLI(t, nil, "approvals", "show", "--db", out, id); code != 0 || !strings.Contains(stdout, id) {
		t.Fatalf("show from the copy: %d %q", code, stdout)
	}
	if code, _, errs := runCLI(t, nil, "backup", "--db", path, "--out", out); code != 1 || !strings.Contains(errs, "exists") {
		t.Fatalf("backup over an existing file: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, nil, "backup", "--db", path); code != 2 || !strings.Contains(errs, "--out FILE") {
		t.Fatalf("backup without --out: %d %q", code, errs)
	}
	// While serve holds the file the backup fails fast and leaves nothing behind.
	st, err := approvals.OpenBolt(path, approvals.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	locked := filepath.Join(t.TempDir(), "locked.db")
	if code, _, errs := runCLI(t, nil, "backup", "--db", path, "--out", locked); code != 1 || !strings.Contains(errs, "locked") {
		t.Fatalf("backup of a locked database: %d %q", code, errs)
	}
	if _, err := os.Stat(locked); !os.IsNotExist(err) {
		t.Errorf("a failed backup left %s behind: %v", locked, err)
	}
}
