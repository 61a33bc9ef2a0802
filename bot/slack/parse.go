package slack

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	goslack "github.com/slack-go/slack"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// formContentType is how Slack posts both slash commands and interactions.
const formContentType = "application/x-www-form-urlencoded"

var errContentType = errors.New("content type is not application/x-www-form-urlencoded")

// checkContentType refuses anything but a form post: slack.SlashCommandParse reads
// only the form body and silently returns empty fields for any other content type.
func checkContentType(h string) error {
	mt, _, err := mime.ParseMediaType(h)
	if err != nil || mt != formContentType {
		return errContentType
	}
	return nil
}

// formRequest wraps an already verified raw body so slack-go's own parsers can read
// it. Only the body is given: the URL query, which the signature does not cover, is
// empty, so nothing can be smuggled through it.
func formRequest(body []byte) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", formContentType)
	return r
}

// parseSlashCommand decodes a slash-command form body and checks the fields the
// adapter relies on.
func parseSlashCommand(body []byte) (goslack.SlashCommand, error) {
	cmd, err := goslack.SlashCommandParse(formRequest(body))
	if err != nil {
		return goslack.SlashCommand{}, fmt.Errorf("decode slash command form: %w", err)
	}
	if err := checkSlashCommand(cmd); err != nil {
		return goslack.SlashCommand{}, err
	}
	return cmd, nil
}

// checkSlashCommand validates a slash command from either transport.
func checkSlashCommand(cmd goslack.SlashCommand) error {
	switch {
	case cmd.Command == "":
		return errors.New("slash command has no command")
	case !validID(cmd.UserID, "UW"):
		return errors.New("slash command has no valid user_id")
	case cmd.TeamID == "" && cmd.EnterpriseID == "":
		return errors.New("slash command has neither team_id nor enterprise_id")
	case len(cmd.Text) > 4000:
		return errors.New("slash command text is longer than 4000 bytes")
	}
	return nil
}

// parseInteraction decodes an interaction form body: one field, payload, holding
// JSON.
func parseInteraction(body []byte) (goslack.InteractionCallback, error) {
	ic, err := goslack.InteractionCallbackParse(formRequest(body))
	if err != nil {
		return goslack.InteractionCallback{}, fmt.Errorf("decode interaction payload: %w", err)
	}
	if err := checkInteraction(ic); err != nil {
		return goslack.InteractionCallback{}, err
	}
	return ic, nil
}

// checkInteraction validates an interaction from either transport.
func checkInteraction(ic goslack.InteractionCallback) error {
	if ic.Type == "" {
		return errors.New("interaction has no type")
	}
	if !validID(ic.User.ID, "UW") {
		return errors.New("interaction has no valid user id")
	}
	return nil
}

// validID accepts Slack ids: one of the given leading letters, then upper-case
// letters and digits. It keeps odd input out of logs, API calls and cache keys.
func validID(s, first string) bool {
	if len(s) < 3 || len(s) > 32 || !strings.ContainsRune(first, rune(s[0])) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validRequestID bounds button values and metadata, which are lookup keys, never
// trusted as more.
func validRequestID(s string) bool { return chat.ValidRequestID(s) }

// DefaultResponseURLHosts are Slack's own hosts, commercial and GovSlack: where a
// response_url may point unless Options.ResponseURLHosts says otherwise.
var DefaultResponseURLHosts = []string{"slack.com", "slack-gov.com"}

// checkResponseURL accepts a response_url only on an allowed host (or a subdomain of
// one) over HTTPS; plain HTTP only when the host is loopback. Lookup answers hold
// personal data, and the URL arrives in the payload. allowed empty means Slack's hosts.
func checkResponseURL(raw string, allowed []string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return errors.New("response_url is not an absolute URL")
	}
	host := strings.ToLower(u.Hostname())
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(host)) {
		return errors.New("response_url is not https")
	}
	if len(allowed) == 0 {
		allowed = DefaultResponseURLHosts
	}
	for _, d := range allowed {
		d = strings.ToLower(d)
		if host == d || strings.HasSuffix(host, "."+d) {
			return nil
		}
	}
	return fmt.Errorf("response_url host %q is not an allowed host (%s)", clipRunes(host, 64), strings.Join(allowed, ", "))
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
