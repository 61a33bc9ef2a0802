package actions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestMaskPhone(t *testing.T) {
	tests := map[string]string{
		"+1 4255550199":   "+1 425•••••99",
		"+44 7700900123":  "+44 770•••••23",
		"+1 425-555-0199": "+1 425•••••99",
		"4255550199":      "425•••••99",
		"+1 12345":        "+1 •••45",
		"+1 12":           "+1 ••",
		"":                "",
		"+1 ":             "•",
	}
	for in, want := range tests {
		if got := MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
	if got := MaskEmail("jane@contoso.com"); got != "j•••@contoso.com" {
		t.Errorf("MaskEmail = %q", got)
	}
}

func TestSnapshotAndDiff(t *testing.T) {
	methods := []Method{
		{ID: "p1", Type: MethodPassword},
		{ID: "3179e48a", Type: MethodPhone, PhoneType: "mobile", PhoneNumber: "+1 4255550199"},
		{ID: "a1", Type: MethodAuthenticator, DisplayName: "iPhone 14 Pro Max"},
	}
	snap := Snapshot(methods)
	if len(snap) != 3 || snap[0].Type != MethodAuthenticator {
		t.Fatalf("snapshot not sorted: %+v", snap)
	}
	for _, r := range snap {
		if strings.Contains(r.Label, "5550199") {
			t.Errorf("label shows the number: %q", r.Label)
		}
	}
	withoutPassword := snap[:0:0]
	for _, r := range snap {
		if r.Type != MethodPassword {
			withoutPassword = append(withoutPassword, r)
		}
	}
	tests := []struct {
		name           string
		current        []Method
		stale          bool
		added, removed int
	}{
		{"same", methods, false, 0, 0},
		{"one deleted (a resumed run)", methods[:2], false, 0, 1},
		{"one added", append(append([]Method{}, methods...), Method{ID: "o1", Type: MethodSoftwareOath}), true, 1, 0},
		{"number changed behind the same id", []Method{methods[0], {ID: "3179e48a", Type: MethodPhone, PhoneType: "mobile", PhoneNumber: "+1 2065550100"}, methods[2]}, true, 1, 1},
	}
	for _, tt := range tests {
		d := DiffSnapshot(withoutPassword, Snapshot(tt.current))
		if d.Stale() != tt.stale || len(d.Added) != tt.added || len(d.Gone) != tt.removed {
			t.Errorf("%s: %+v", tt.name, d)
		}
	}
}

func TestTAPRedacts(t *testing.T) {
	tap := NewTAP("Xy7#kP2q", "m1", time.Now(), time.Now(), time.Hour, true)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "tap", tap)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "tap", tap, "ptr", &tap)
	js, _ := json.Marshal(map[string]any{"tap": tap})
	for _, s := range []string{buf.String(), string(js), fmt.Sprint(tap), fmt.Sprintf("%+v %#v %s %q", tap, tap, tap, tap), fmt.Sprint(&tap)} {
		if strings.Contains(s, tap.Reveal()) {
			t.Errorf("pass leaked: %s", s)
		}
	}
	if tap.Reveal() != "Xy7#kP2q" {
		t.Error("Reveal lost the pass")
	}
}

func TestStepString(t *testing.T) {
	s := Step{Action: "delete method", Method: MethodRef{Label: "mobile +1 425•••••99"}, Outcome: OutcomeFailed, Reason: "403"}
	if got := s.String(); got != "delete method mobile +1 425•••••99: failed (403)" {
		t.Errorf("String = %q", got)
	}
}
