package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
			ce, ok := err.(*ConfigError)
			if !ok || ce.Key != tc.wantKey || strings.Contains(err.Error(), "p4ss") {
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
