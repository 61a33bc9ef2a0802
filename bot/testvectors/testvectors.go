// Package testvectors finds the recorded Slack and Teams payloads the fakes and
// tests replay as they are. They live in shared/vectors beside the repository root
// (not inside it), so the lookup starts from the module root, whatever the depth of
// the package under test.
package testvectors

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Find returns the directory of one platform's vectors ("slack", "teams"): the
// shared/vectors/<platform> directory beside the module root above the working
// directory.
func Find(platform string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find test vectors: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if st, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !st.IsDir() {
			v := filepath.Join(d, "..", "shared", "vectors", platform)
			if st, err := os.Stat(v); err != nil || !st.IsDir() {
				return "", fmt.Errorf("find test vectors: %s is not a directory beside the repository", v)
			}
			return v, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("find test vectors: no go.mod above " + wd)
		}
	}
}

// Dir returns the platform's vector directory, or skips the test when there is none.
func Dir(t testing.TB, platform string) string {
	t.Helper()
	d, err := Find(platform)
	if err != nil {
		t.Skip(err)
	}
	return d
}

// Read returns one vector file as it is, failing the test when it can't be read.
func Read(t testing.TB, platform, name string) []byte {
	t.Helper()
	d, err := Find(platform)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(d, name))
	if err != nil {
		t.Fatalf("read %s vector %s: %v", platform, name, err)
	}
	return b
}
