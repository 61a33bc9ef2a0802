package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// signatureWindow is how far a request's timestamp may be from our clock, in either
// direction: Slack's documented 5 minutes. It also bounds how long the replay cache
// must remember a signature.
const signatureWindow = 5 * time.Minute

// Header names of Slack's v0 request signing.
const (
	headerSignature = "X-Slack-Signature"
	headerTimestamp = "X-Slack-Request-Timestamp"
)

// Why a request was refused. The HTTP layer answers every one of them the same way
// (401), so a prober learns nothing; the log says which.
var (
	errNoSignature  = errors.New("missing X-Slack-Signature or X-Slack-Request-Timestamp header")
	errBadSignature = errors.New("malformed X-Slack-Signature header")
	errBadTimestamp = errors.New("malformed X-Slack-Request-Timestamp header")
	errStale        = errors.New("request timestamp is more than 5 minutes from our clock")
	errForged       = errors.New("request signature does not match the signing secret")
)

// parseSignature reads a v0 signature header ("v0=" and 64 hex digits, either case)
// into its 32 bytes.
func parseSignature(h string) ([sha256.Size]byte, error) {
	var sig [sha256.Size]byte
	rest, ok := strings.CutPrefix(h, "v0=")
	if !ok || len(rest) != 2*sha256.Size {
		return sig, errBadSignature
	}
	if _, err := hex.Decode(sig[:], []byte(rest)); err != nil {
		return sig, errBadSignature
	}
	return sig, nil
}

// parseTimestamp reads the request timestamp: Unix seconds as plain decimal digits.
// strconv.ParseInt would also take a sign; Slack never sends one, and the signature
// covers the header's exact text, so anything else is refused rather than normalised.
func parseTimestamp(h string) (int64, error) {
	if len(h) == 0 || len(h) > 12 {
		return 0, errBadTimestamp
	}
	var n int64
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c < '0' || c > '9' {
			return 0, errBadTimestamp
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// computeSignature is Slack's v0 scheme: HMAC-SHA256 over "v0:" + timestamp + ":" +
// the raw body, keyed with the signing secret.
func computeSignature(secret []byte, timestamp string, body []byte) [sha256.Size]byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v0:"))
	m.Write([]byte(timestamp))
	m.Write([]byte(":"))
	m.Write(body)
	var out [sha256.Size]byte
	copy(out[:], m.Sum(nil))
	return out
}

// signature is a verified request's identity for the replay cache: its signature
// bytes and the timestamp after which a copy of it is stale anyway.
type signature struct {
	mac     [sha256.Size]byte
	expires time.Time
}

// verifySignature checks a request the way Slack documents it, with our own clock so
// the documented example can be tested (slack.NewSecretsVerifier has no clock). The
// comparison is constant-time. It returns the signature for replay detection.
func verifySignature(secret []byte, sigHeader, tsHeader string, body []byte, now time.Time) (signature, error) {
	if sigHeader == "" || tsHeader == "" {
		return signature{}, errNoSignature
	}
	got, err := parseSignature(sigHeader)
	if err != nil {
		return signature{}, err
	}
	ts, err := parseTimestamp(tsHeader)
	if err != nil {
		return signature{}, err
	}
	sent := time.Unix(ts, 0)
	if d := now.Sub(sent); d > signatureWindow || d < -signatureWindow {
		return signature{}, fmt.Errorf("%w (sent %s)", errStale, sent.UTC().Format(time.RFC3339))
	}
	want := computeSignature(secret, tsHeader, body)
	if !hmac.Equal(got[:], want[:]) {
		return signature{}, errForged
	}
	return signature{mac: got, expires: sent.Add(signatureWindow)}, nil
}

// SignRequest returns the X-Slack-Request-Timestamp and X-Slack-Signature header
// values Slack would send for body at time t. Tests and local tools use it to play
// Slack; the adapter itself only verifies.
func SignRequest(secret string, t time.Time, body []byte) (timestamp, sig string) {
	timestamp = fmt.Sprint(t.Unix())
	mac := computeSignature([]byte(secret), timestamp, body)
	return timestamp, "v0=" + hex.EncodeToString(mac[:])
}
