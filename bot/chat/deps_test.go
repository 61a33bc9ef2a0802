package chat_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The adapters speak only the chat contract: none of them may link the approvals
// store (or bbolt under it), so a change in an adapter cannot reach a decision except
// through the Handler. Test-only imports do not count; go list without -test.
func TestAdaptersDependOnlyOnTheContract(t *testing.T) {
	forbidden := []string{"go.etcd.io/bbolt", "github.com/mfadesk/mfadesk/approvals"}
	for _, pkg := range []string{"../slack", "../teams", "../web"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed only %v", pkg, deps)
		}
		for _, d := range deps {
			for _, f := range forbidden {
				if d == f {
					t.Errorf("%s depends on %s", pkg, f)
				}
			}
		}
	}
}
