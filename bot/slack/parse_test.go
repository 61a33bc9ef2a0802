package slack

import (
	"strings"
	"testing"
)

// response_url is where lookup answers (personal data) are posted, and it arrives in
// the payload: only allowed hosts, https unless the host is loopback.
func TestCheckResponseURL(t *testing.T) {
	staging := []string{"hooks.staging.example", "127.0.0.1"}
	tests := []struct {
		name    string
		url     string
		allowed []string
		ok      bool
	}{
		{"slack by default", "https://hooks.slack.com/commands/T1/2/x", nil, true},
		{"govslack by default", "https://hooks.slack-gov.com/commands/T1/2/x", nil, true},
		{"look-alike host", "https://hooks.slack.com.evil.example/x", nil, false},
		{"suffix without dot", "https://evilslack.com/x", nil, false},
		{"plain http to slack", "http://hooks.slack.com/x", nil, false},
		{"loopback not allowed by default", "http://127.0.0.1:9/x", nil, false},
		{"user info", "https://a:b@hooks.slack.com/x", nil, false},
		{"staging host allowed", "https://hooks.staging.example/r/1", staging, true},
		{"subdomain of an allowed host", "https://eu.hooks.staging.example/r/1", staging, true},
		{"slack no longer allowed when the list is set", "https://hooks.slack.com/x", staging, false},
		{"plain http to a non-loopback allowed host", "http://hooks.staging.example/r/1", staging, false},
		{"plain http to loopback allowed", "http://127.0.0.1:8080/r", staging, true},
		{"localhost not listed", "http://localhost:8080/r", staging, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkResponseURL(tt.url, tt.allowed)
			if (err == nil) != tt.ok {
				t.Fatalf("checkResponseURL(%q, %v) = %v, want ok=%v", tt.url, tt.allowed, err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}
