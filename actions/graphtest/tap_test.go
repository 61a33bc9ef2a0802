package graphtest

import (
	"strings"
	"testing"
	"time"
)

// TestTAPOnePerUser: while a pass is valid Graph refuses a second one (400); after
// deleting it, or once it expired, a new one is created; the list never shows a pass.
func TestTAPOnePerUser(t *testing.T) {
	w := newWire(t)
	path := "/v1.0/users/" + ada + "/authentication/temporaryAccessPassMethods"
	st, _, first := w.do("POST", path, map[string]any{"lifetimeInMinutes": 60})
	if st != 201 {
		t.Fatalf("first pass: %d %v", st, first)
	}
	st, _, body := w.do("POST", path, map[string]any{"lifetimeInMinutes": 60})
	if st != 400 || !strings.Contains(errMsg(body), "already has a valid Temporary Access Pass") {
		t.Fatalf("second pass while one is valid: %d %v", st, body)
	}
	for _, lt := range []int{9, 43201} {
		if st, _, body := w.do("POST", path, map[string]any{"lifetimeInMinutes": lt}); st != 400 || !strings.Contains(errMsg(body), "between 10 and 43200") {
			t.Errorf("lifetime %d: %d %v", lt, st, body)
		}
	}
	st, _, list := w.do("GET", path, nil)
	items, _ := list["value"].([]any)
	if st != 200 || len(items) != 1 || items[0].(map[string]any)["temporaryAccessPass"] != nil {
		t.Fatalf("list: %d %v", st, list)
	}
	if st, _, body := w.do("DELETE", path+"/"+first["id"].(string), nil); st != 204 {
		t.Fatalf("delete: %d %v", st, body)
	}
	if st, _, body := w.do("POST", path, map[string]any{"lifetimeInMinutes": 10}); st != 201 {
		t.Fatalf("pass after delete: %d %v", st, body)
	}
	// An expired pass is replaced without a delete.
	w.s.mu.Lock()
	w.s.now = func() time.Time { return time.Now().Add(11 * time.Minute) }
	w.s.mu.Unlock()
	if st, _, body := w.do("POST", path, map[string]any{"lifetimeInMinutes": 10}); st != 201 {
		t.Fatalf("pass after the old one expired: %d %v", st, body)
	}
	_, _, list = w.do("GET", path, nil)
	if items, _ := list["value"].([]any); len(items) != 1 {
		t.Errorf("%d passes after replacing an expired one, want 1", len(items))
	}
}
