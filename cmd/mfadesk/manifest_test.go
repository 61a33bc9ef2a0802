package main

import (
	"archive/zip"
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestManifestCommands(t *testing.T) {
	var out, errb bytes.Buffer
	noenv := func(string) string { return "" }
	if code := run(context.Background(), []string{"manifest", "slack"}, &out, &errb, noenv); code != 0 {
		t.Fatalf("manifest slack: %d %s", code, errb.String())
	}
	for _, want := range []string{"socket_mode_enabled: true", "/mfa", "users:read.email"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("slack manifest lacks %q", want)
		}
	}
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"manifest", "slack", "--mode", "http"}, &out, &errb, noenv); code == 0 {
		t.Error("http mode without --base-url was accepted")
	}
	zipPath := filepath.Join(t.TempDir(), "app.zip")
	out.Reset()
	if code := run(context.Background(), []string{"manifest", "teams", "--bot-id", "22222222-2222-4222-8222-222222222222", "--out", zipPath}, &out, &errb, noenv); code != 0 {
		t.Fatalf("manifest teams: %d %s", code, errb.String())
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
	}
	if !names["manifest.json"] || len(names) != 3 {
		t.Fatalf("zip holds %v", names)
	}
	if code := run(context.Background(), []string{"manifest", "teams"}, &out, &errb, noenv); code != 2 {
		t.Errorf("teams without bot id: %d", code)
	}
}
