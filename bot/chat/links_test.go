package chat

import (
	"reflect"
	"testing"
)

func TestSpans(t *testing.T) {
	const u = "https://aka.ms/mysecurityinfo"
	tests := []struct {
		in   string
		want []Span
	}{
		{"no link here", []Span{{"no link here", false}}},
		{"go to " + u + ".", []Span{{"go to ", false}, {u, true}, {".", false}}},
		{u, []Span{{u, true}}},
		{"(" + u + ") and https://aka.ms/mfasetup", []Span{{"(", false}, {u, true}, {") and ", false}, {"https://aka.ms/mfasetup", true}}},
		{"look-alike " + u + ".evil.example/x", []Span{{"look-alike " + u + ".evil.example/x", false}}},
		{u + "X", []Span{{u + "X", false}}},
		{u + "/path", []Span{{u + "/path", false}}},
		{"x" + u, []Span{{"x" + u, false}}},
		{"other https://evil.example/verify", []Span{{"other https://evil.example/verify", false}}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := Spans(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Spans(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}
