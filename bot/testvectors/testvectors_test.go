package testvectors

import (
	"os"
	"path/filepath"
	"testing"
)

// The lookup works from any depth below the module root.
func TestFindFromAnyDepth(t *testing.T) {
	want, err := Find("slack")
	if err != nil {
		t.Skip(err)
	}
	wd, _ := os.Getwd()
	for _, rel := range []string{"..", filepath.Join("..", ".."), "."} {
		t.Run(rel, func(t *testing.T) {
			t.Chdir(filepath.Join(wd, rel))
			got, err := Find("slack")
			if err != nil || filepath.Clean(got) != filepath.Clean(want) {
				t.Fatalf("from %s: %q, %v; want %q", rel, got, err, want)
			}
		})
	}
	if _, err := Find("no-such-platform"); err == nil {
		t.Fatal("found vectors of a platform that has none")
	}
}
