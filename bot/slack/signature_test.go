package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"
)

type signingVector struct {
	SigningSecret     string `json:"signing_secret"`
	Timestamp         string `json:"timestamp"`
	Body              string `json:"body"`
	ExpectedSignature string `json:"expected_signature"`
}

func loadSigningVector(t testing.TB) (signingVector, []byte) {
	t.Helper()
	var v signingVector
	if err := json.Unmarshal(mustRead(t, "signing-v0-docs-example.json"), &v); err != nil {
		t.Fatalf("decode signing vector: %v", err)
	}
	return v, mustRead(t, "signing-v0-docs-example.body")
}

// Slack's documented worked example, as a known-answer test: its secret, timestamp
// and body give its signature, through our verifier with our clock at its time.
func TestSignatureDocumentedExample(t *testing.T) {
	v, body := loadSigningVector(t)
	if string(body) != v.Body {
		t.Fatalf("the .body file and the JSON body differ (%d vs %d bytes)", len(body), len(v.Body))
	}
	mac := computeSignature([]byte(v.SigningSecret), v.Timestamp, body)
	if got := "v0=" + hexString(mac[:]); got != v.ExpectedSignature {
		t.Fatalf("signature = %s, want %s", got, v.ExpectedSignature)
	}
	ts, err := parseTimestamp(v.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(ts, 0)
	for _, skew := range []time.Duration{0, time.Second, -time.Second, signatureWindow, -signatureWindow} {
		if _, err := verifySignature([]byte(v.SigningSecret), v.ExpectedSignature, v.Timestamp, body, at.Add(skew)); err != nil {
			t.Errorf("verify at %v skew: %v", skew, err)
		}
	}
	// slack-go's verifier has no clock, so the 2018 vector is stale for it: the
	// reason our verifier takes one.
	h := http.Header{}
	h.Set(headerSignature, v.ExpectedSignature)
	h.Set(headerTimestamp, v.Timestamp)
	if _, err := goslack.NewSecretsVerifier(h, v.SigningSecret); !errors.Is(err, goslack.ErrExpiredTimestamp) {
		t.Errorf("slack-go on the documented vector: %v, want ErrExpiredTimestamp", err)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestVerifySignature(t *testing.T) {
	v, body := loadSigningVector(t)
	ts, _ := parseTimestamp(v.Timestamp)
	at := time.Unix(ts, 0)
	secret := []byte(v.SigningSecret)
	other := append([]byte(nil), body...)
	other[len(other)-1] ^= 1
	upper := "v0=" + strings.ToUpper(strings.TrimPrefix(v.ExpectedSignature, "v0="))

	tests := []struct {
		name     string
		secret   []byte
		sig, ts  string
		body     []byte
		now      time.Time
		want     error
		wantNone bool
	}{
		{name: "documented", secret: secret, sig: v.ExpectedSignature, ts: v.Timestamp, body: body, now: at, wantNone: true},
		{name: "upper-case hex", secret: secret, sig: upper, ts: v.Timestamp, body: body, now: at, wantNone: true},
		{name: "missing signature", secret: secret, sig: "", ts: v.Timestamp, body: body, now: at, want: errNoSignature},
		{name: "missing timestamp", secret: secret, sig: v.ExpectedSignature, ts: "", body: body, now: at, want: errNoSignature},
		{name: "no v0 prefix", secret: secret, sig: strings.TrimPrefix(v.ExpectedSignature, "v0="), ts: v.Timestamp, body: body, now: at, want: errBadSignature},
		{name: "v1 scheme", secret: secret, sig: "v1=" + strings.TrimPrefix(v.ExpectedSignature, "v0="), ts: v.Timestamp, body: body, now: at, want: errBadSignature},
		{name: "short", secret: secret, sig: v.ExpectedSignature[:40], ts: v.Timestamp, body: body, now: at, want: errBadSignature},
		{name: "not hex", secret: secret, sig: "v0=" + strings.Repeat("zz", 32), ts: v.Timestamp, body: body, now: at, want: errBadSignature},
		{name: "forged body", secret: secret, sig: v.ExpectedSignature, ts: v.Timestamp, body: other, now: at, want: errForged},
		{name: "wrong secret", secret: []byte("another secret"), sig: v.ExpectedSignature, ts: v.Timestamp, body: body, now: at, want: errForged},
		{name: "timestamp changed", secret: secret, sig: v.ExpectedSignature, ts: "1531420619", body: body, now: at, want: errForged},
		{name: "stale", secret: secret, sig: v.ExpectedSignature, ts: v.Timestamp, body: body, now: at.Add(signatureWindow + time.Second), want: errStale},
		{name: "from the future", secret: secret, sig: v.ExpectedSignature, ts: v.Timestamp, body: body, now: at.Add(-signatureWindow - time.Second), want: errStale},
		{name: "signed timestamp", secret: secret, sig: v.ExpectedSignature, ts: "+" + v.Timestamp, body: body, now: at, want: errBadTimestamp},
		{name: "text timestamp", secret: secret, sig: v.ExpectedSignature, ts: "yesterday", body: body, now: at, want: errBadTimestamp},
		{name: "overflowing timestamp", secret: secret, sig: v.ExpectedSignature, ts: "99999999999999999999", body: body, now: at, want: errBadTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verifySignature(tt.secret, tt.sig, tt.ts, tt.body, tt.now)
			if tt.wantNone {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// Our verifier and slack-go's agree on fresh requests, forged or not.
func TestVerifierAgreesWithSlackGo(t *testing.T) {
	body := []byte("token=x&team_id=T0MFADESK&user_id=U0HANA&command=%2Fmfa&text=help")
	now := time.Now()
	ts, sig := SignRequest(testSecret, now, body)
	for _, tt := range []struct {
		name string
		body []byte
		ok   bool
	}{
		{"genuine", body, true},
		{"tampered", bytes.Replace(body, []byte("help"), []byte("revoke"), 1), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ours := verifySignature([]byte(testSecret), sig, ts, tt.body, now)
			h := http.Header{}
			h.Set(headerSignature, sig)
			h.Set(headerTimestamp, ts)
			sv, err := goslack.NewSecretsVerifier(h, testSecret)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = sv.Write(tt.body)
			theirs := sv.Ensure()
			if (ours == nil) != tt.ok || (theirs == nil) != tt.ok {
				t.Fatalf("ours = %v, slack-go = %v, want ok=%v", ours, theirs, tt.ok)
			}
		})
	}
}

func TestReplayCache(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newReplayCache[string](3)
	steps := []struct {
		name string
		key  string
		exp  time.Time
		now  time.Time
		want error
	}{
		{"first", "a", now.Add(time.Minute), now, nil},
		{"replay", "a", now.Add(time.Minute), now.Add(30 * time.Second), errReplayed},
		{"second", "b", now.Add(5 * time.Minute), now, nil},
		{"third", "c", now.Add(2 * time.Minute), now, nil},
		{"full", "d", now.Add(time.Minute), now, errReplayFull},
		{"a expired frees room", "d", now.Add(3 * time.Minute), now.Add(61 * time.Second), nil},
		{"a may come again once stale", "a", now.Add(4 * time.Minute), now.Add(62 * time.Second), errReplayFull},
		{"later everything aged out", "a", now.Add(20 * time.Minute), now.Add(10 * time.Minute), nil},
	}
	for _, s := range steps {
		if err := c.add(s.key, s.exp, s.now); !errors.Is(err, s.want) {
			t.Fatalf("%s: err = %v, want %v", s.name, err, s.want)
		}
	}
	if n := c.len(); n != 1 {
		t.Fatalf("len = %d, want 1", n)
	}
}
