package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{nil, 2, "", "Usage:"},
		{[]string{"frob"}, 2, "", `unknown command "frob"`},
		{[]string{"version"}, 0, "mfadesk dev", ""},
		{[]string{"--help"}, 0, "mfadesk serve --config FILE", ""},
		{[]string{"serve"}, 2, "", "serve needs --config FILE"},
		{[]string{"serve", "--help"}, 0, "", "Usage: mfadesk serve --config FILE"},
		{[]string{"demo", "--help"}, 0, "", "Usage: mfadesk demo"},
		{[]string{"demo", "--nope"}, 2, "", "flag provided but not defined"},
		{[]string{"serve", "--config", "/nonexistent/mfadesk.yaml"}, 1, "", "read config"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb, func(string) string { return "" })
			if code != tt.code || !strings.Contains(out.String(), tt.inStdout) || !strings.Contains(errb.String(), tt.inStderr) {
				t.Fatalf("code %d stdout %q stderr %q", code, out.String(), errb.String())
			}
		})
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(f, []byte(strings.Replace(baseConfig, "  approvers: 44444444-4444-4444-8444-444444444444\n", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"serve", "--config", f}, &out, &errb, env(goodEnv))
	if code != 1 || !strings.Contains(errb.String(), "groups.approvers") || strings.Count(errb.String(), "\n") != 1 {
		t.Fatalf("code %d stderr %q", code, errb.String())
	}
}
