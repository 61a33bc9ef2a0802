package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/approvals/etcdtest"
)

func TestEtcdDatabaseConfig(t *testing.T) {
	passFile := filepath.Join(t.TempDir(), "etcd-pass")
	if err := os.WriteFile(passFile, []byte("p4ss\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		wantKey string // "" for valid
	}{
		{"plain etcd on loopback", "database: etcd://127.0.0.1:2379,localhost:22379\n", nil, ""},
		{"TLS with a client certificate", "database: etcd://etcd-1:2379,etcd-2:2379\netcd: {ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem, prefix: /helpdesk}\n", nil, ""},
		{"password from a file over TLS", "database: etcd://etcd-1:2379\netcd: {ca_file: /ca.pem}\n",
			map[string]string{"MFADESK_ETCD_USERNAME": "mfadesk", "MFADESK_ETCD_PASSWORD_FILE": passFile}, ""},
		{"no port", "database: etcd://etcd-1\n", nil, "database"},
		{"empty host list", "database: etcd://\n", nil, "database"},
		{"password in clear text across the network", "database: etcd://etcd-1:2379\n",
			map[string]string{"MFADESK_ETCD_USERNAME": "mfadesk", "MFADESK_ETCD_PASSWORD": "p"}, "etcd.ca_file"},
		{"password without a user", "database: etcd://127.0.0.1:2379\n", map[string]string{"MFADESK_ETCD_PASSWORD": "p"}, "MFADESK_ETCD_USERNAME"},
		{"certificate without key", "database: etcd://etcd-1:2379\netcd: {cert_file: /c.pem}\n", nil, "etcd.cert_file"},
		{"prefix ending in a slash", "database: etcd://127.0.0.1:2379\netcd: {prefix: /mfadesk/}\n", nil, "etcd.prefix"},
		{"lease too short", "database: etcd://127.0.0.1:2379\netcd: {lease_ttl: 500ms}\n", nil, "etcd.lease_ttl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := maps.Clone(goodEnv)
			maps.Copy(e, tc.env)
			c, err := ParseConfig([]byte(baseConfig+tc.yaml), env(e))
			if tc.wantKey == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.env["MFADESK_ETCD_PASSWORD_FILE"] != "" && c.Etcd.Password != "p4ss" {
					t.Fatalf("password = %q", c.Etcd.Password)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key != tc.wantKey || strings.Contains(err.Error(), "p4ss") {
				t.Fatalf("error %v, want one about %s", err, tc.wantKey)
			}
		})
	}
}

// TestMigrateCommand copies a bbolt database into a real etcd, verifies it there,
// and refuses to copy into the same, now non-empty, prefix again.
func TestMigrateCommand(t *testing.T) {
	path, id := seedDB(t)
	srv := etcdtest.Start(t)
	to := "etcd://" + strings.TrimPrefix(srv.Endpoint(), "http://")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"migrate", "--from", path, "--to", to}, &out, &errOut, env(nil)); code != 0 {
		t.Fatalf("migrate exited %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "audit chain verified on etcd: ") || !strings.Contains(out.String(), " requests 1") {
		t.Fatalf("migrate said %q", out.String())
	}
	st, err := approvals.OpenEtcd(context.Background(), approvals.EtcdOptions{Endpoints: []string{srv.Endpoint()}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := approvals.New(context.Background(), approvals.Options{Store: st, Directory: allMember{}, Executor: noExec{},
		Policy: approvals.Policy{HelpdeskGroupID: "00000000-0000-4000-8000-0000000000a1", ApproversGroupID: "00000000-0000-4000-8000-0000000000a2"}})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := svc.Get(context.Background(), id); err != nil || r.State != approvals.StateCancelled {
		t.Fatalf("request on etcd: %+v %v", r, err)
	}

	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"migrate", "--from", path, "--to", to}, &out, &errOut, env(nil)); code != 1 ||
		!strings.Contains(errOut.String(), "already holds mfadesk data") {
		t.Fatalf("second migrate exited %d: %s", code, errOut.String())
	}
	if code := run(context.Background(), []string{"migrate", "--from", path}, &out, &errOut, env(nil)); code != 2 {
		t.Fatalf("migrate without --to exited %d", code)
	}
}

// TestServeTwoReplicasOnEtcd runs two serve replicas on one real etcd: exactly one
// leads (readyz and mfadesk_leader say which), an unreachable etcd leaves both ready
// but degraded, saying why, until it is back, and when the leader stops the other
// takes over.
func TestServeTwoReplicasOnEtcd(t *testing.T) {
	srv := etcdtest.Start(t)
	tenant := graphtest.MustTenant("demo")
	gs := httptest.NewServer(graphtest.NewServer(tenant))
	defer gs.Close()
	slackAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	defer slackAPI.Close()
	yaml := fmt.Sprintf(`
listen: 127.0.0.1:0
database: etcd://%s
etcd:
  lease_ttl: 2s
graph:
  base_url: %s/v1.0
  credential: none
groups:
  helpdesk: %s
  approvers: %s
slack:
  enabled: true
  mode: http
  team_id: T0TEAM
  api_url: %s/
  approvals_channel: C0APPROVE
  audit_channel: C0AUDIT
`, strings.TrimPrefix(srv.Endpoint(), "http://"), gs.URL, tenant.GroupID("mfadesk-helpdesk"), tenant.GroupID("mfadesk-approvers"), slackAPI.URL)
	cfg, err := ParseConfig([]byte(yaml), env(map[string]string{"MFADESK_SLACK_BOT_TOKEN": "xoxb-test", "MFADESK_SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5"}))
	if err != nil {
		t.Fatal(err)
	}
	type replica struct {
		addr   string
		cancel context.CancelFunc
		done   chan struct{} // closed when serve returned, with err
		err    error
	}
	start := func() *replica {
		ctx, cancel := context.WithCancel(context.Background())
		r := &replica{cancel: cancel, done: make(chan struct{})}
		started := make(chan string, 1)
		go func() {
			r.err = serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), started)
			close(r.done)
		}()
		select {
		case r.addr = <-started:
		case <-r.done:
			t.Fatalf("serve stopped: %v", r.err)
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not start")
		}
		t.Cleanup(func() { cancel(); <-r.done })
		return r
	}
	get := func(r *replica, path string) (int, string) {
		resp, err := http.Get("http://" + r.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// until polls the replicas' readiness (their state changes inside etcd and
	// their election, which this test cannot wait on directly).
	until := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s", what)
			}
		}
	}
	a, b := start(), start()
	role := func(r *replica) string {
		code, body := get(r, "/readyz")
		if code != 200 {
			t.Fatalf("readyz: %d %q", code, body)
		}
		return body
	}
	until("one replica leads", func() bool {
		ra, rb := role(a), role(b)
		return strings.HasSuffix(ra, ", leader\n") != strings.HasSuffix(rb, ", leader\n") &&
			(strings.HasSuffix(ra, ", follower\n") || strings.HasSuffix(rb, ", follower\n"))
	})
	leader, follower := a, b
	if strings.HasSuffix(role(b), ", leader\n") {
		leader, follower = b, a
	}
	for r, want := range map[*replica]string{leader: "mfadesk_leader 1", follower: "mfadesk_leader 0"} {
		if _, m := get(r, "/metrics"); !strings.Contains(m, want) {
			t.Fatalf("metrics lack %q", want)
		}
	}

	srv.Stop()
	until("readyz reports etcd down", func() bool {
		return strings.HasPrefix(role(follower), "ready, degraded: the approvals database (etcd) does not answer")
	})
	srv.Restart()
	until("readyz recovers", func() bool { return strings.HasPrefix(role(follower), "ready: replica ") })

	leader.cancel()
	<-leader.done
	if leader.err != nil {
		t.Fatalf("the leader's serve: %v", leader.err)
	}
	until("the other replica takes over", func() bool { return strings.HasSuffix(role(follower), ", leader\n") })
}

// TestBoltCommandsRefuseEtcdConfig: the audit and approvals commands read bbolt files;
// pointed at an etcd configuration they say so rather than open a file named etcd://.
func TestBoltCommandsRefuseEtcdConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(baseConfig+"database: etcd://127.0.0.1:2379\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"audit", "verify", "--config", cfg}, {"approvals", "list", "--config", cfg}} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, &out, &errOut, env(goodEnv))
		if code != 2 || !strings.Contains(errOut.String(), "the configured database is etcd") {
			t.Fatalf("%v: exit %d, %q", args, code, errOut.String())
		}
	}
}
