package reqid

import "testing"

func TestCanonical(t *testing.T) {
	const id = "R-ABCDEFGHIJKLMNOPQRSTUVWXYA"
	tests := []struct {
		in, want string
		ok       bool
	}{
		{id, id, true},
		{"  r-abcdefghijklmnopqrstuvwxya ", id, true},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYA", id, true},
		{"R-ABCD EFGH-IJKL MNOP QRST UVWX YA", id, true},
		{"R-ABCDEFGHIJKLMNOPQRSTUVWXYZ", "", false}, // non-canonical trailing bits
		{"R-ABCDEFGHIJKLMNOPQRSTUVWXY", "", false},
		{"R-ABCDEFGHIJKLMNOPQRSTUVWXY1", "", false}, // 1 is not base32
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := Canonical(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Canonical(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
