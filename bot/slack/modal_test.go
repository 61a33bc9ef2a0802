package slack

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/mfadesk/mfadesk/bot"
)

func TestMetadata(t *testing.T) {
	key := []byte("k1")
	now := time.Unix(1_700_000_000, 0)
	m := formMeta{Kind: metaRequest, User: "U0HANA", Issued: now.Unix(), Action: "reregister", Target: "alice@contoso.com",
		Label: "Alice (alice@contoso.com)", Choices: []metaChoice{{"video_with_id", "Video call with photo ID"}}, ResponseURL: "https://hooks.slack.com/commands/T/1/x"}
	s, err := encodeMeta(key, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeMeta(key, s, now.Add(time.Minute))
	if err != nil || got.Target != m.Target || got.Action != m.Action || got.User != m.User || len(got.Choices) != 1 {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	flip := func(s string, at int) string { b := []byte(s); b[at] ^= 1; return string(b) }
	tests := []struct {
		name string
		meta string
		key  []byte
		now  time.Time
	}{
		{"other key", s, []byte("k2"), now},
		{"target changed", strings.Replace(s, "alice@contoso.com", "admin@contoso.com", 1), key, now},
		{"mac changed", flip(s, 5), key, now},
		{"older than an hour", s, key, now.Add(metaMaxAge + time.Second)},
		{"issued in the future", s, key, now.Add(-10 * time.Minute)},
		{"empty", "", key, now},
		{"docs vector value", "shhh-its-secret", key, now},
		{"no mac", "v1..{}", key, now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeMeta(tt.key, tt.meta, tt.now); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	// Unknown fields and other kinds are refused even when signed.
	for _, payload := range []string{`{"k":"request","u":"U0HANA","t":1700000000,"a":"x","g":"y","z":1}`, `{"k":"other","u":"U0HANA","t":1700000000}`, `{"k":"deny","u":"U0HANA","t":1700000000,"id":"r 1"}`} {
		signed := "v1." + b64(metaMAC(key, []byte(payload))) + "." + payload
		if _, err := decodeMeta(key, signed, now); err == nil {
			t.Errorf("accepted %s", payload)
		}
	}
	// Too large for private_metadata: optional parts go, the binding stays.
	m.Warning = strings.Repeat("w", 2000)
	for i := range 30 {
		m.Choices = append(m.Choices, metaChoice{Value: "v" + strings.Repeat("x", 20), Label: strings.Repeat("label ", 12) + string(rune('a'+i%26))})
	}
	s, err = encodeMeta(key, m)
	if err != nil || len([]rune(s)) > maxMetadata {
		t.Fatalf("large metadata: %d chars, %v", len(s), err)
	}
	if got, err := decodeMeta(key, s, now); err != nil || got.Target != m.Target {
		t.Fatalf("shrunk metadata: %+v %v", got, err)
	}
}

func TestValidateSubmission(t *testing.T) {
	withChoices := formMeta{Choices: []metaChoice{{"video_with_id", "Video"}, {"in_person", "In person"}}}
	ok := submission{Reason: "Locked out after a new phone", Verification: "video_with_id", Detail: "video call, badge", Ticket: "INC42"}
	tests := []struct {
		name string
		meta formMeta
		mod  func(s *submission)
		want []string
	}{
		{"complete", withChoices, func(*submission) {}, nil},
		{"no reason", withChoices, func(s *submission) { s.Reason = "" }, []string{fieldReason}},
		{"reason too long", withChoices, func(s *submission) { s.Reason = strings.Repeat("r", maxReason+1) }, []string{fieldReason}},
		{"no verification", withChoices, func(s *submission) { s.Verification = "" }, []string{fieldVerification}},
		{"verification not offered", withChoices, func(s *submission) { s.Verification = "phone_kba" }, []string{fieldVerification}},
		{"no choices, none needed", formMeta{}, func(s *submission) { s.Verification = "" }, nil},
		{"detail too long", withChoices, func(s *submission) { s.Detail = strings.Repeat("d", maxDetail+1) }, []string{fieldDetail}},
		{"no ticket", withChoices, func(s *submission) { s.Ticket = "" }, []string{fieldTicket}},
		{"ticket on two lines", withChoices, func(s *submission) { s.Ticket = "INC1\nINC2" }, []string{fieldTicket}},
		{"no detail", withChoices, func(s *submission) { s.Detail = "" }, []string{fieldDetail}},
		{"everything wrong", withChoices, func(s *submission) { *s = submission{} }, []string{fieldReason, fieldVerification, fieldDetail, fieldTicket}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.mod(&s)
			errs := validateSubmission(tt.meta, s)
			if len(errs) != len(tt.want) {
				t.Fatalf("errors = %v, want keys %v", errs, tt.want)
			}
			for _, k := range tt.want {
				if errs[k] == "" {
					t.Errorf("no error on %s", k)
				}
			}
		})
	}
	// Only input block ids reach Slack; others would show "trouble connecting".
	got := viewErrors(formMeta{}, bot.FieldErrors{fieldReason: "r", fieldVerification: "v", "target": "t"})
	if len(got) != 1 || got[fieldReason] != "r" {
		t.Fatalf("viewErrors = %v", got)
	}
}

func TestRequestViewFitsSlack(t *testing.T) {
	m := formMeta{Kind: metaRequest, Action: "reregister", Target: "alice@contoso.com", Label: "Alice <!here>",
		Warning: "Deletes every MFA method except the password & revokes sessions.",
		Choices: []metaChoice{{"video_with_id", "Video call, face matched to HR photo"}, {"", "no value"}, {strings.Repeat("v", 80), "too long value"}}}
	v := requestView(m, "v1.x.{}", submission{Reason: "r", Verification: "video_with_id", Ticket: "INC1"}, bot.FieldErrors{fieldTicket: "Unknown ticket.", "policy": "Protected target."})
	blocks := blocksJSON(t, v.Blocks.BlockSet, maxModalBlocks)
	all := texts(blocks)
	for _, want := range []string{"Alice &lt;!here&gt;", "password &amp; revokes", ":warning: *Error:* Unknown ticket.", "Protected target."} {
		if !strings.Contains(all, want) {
			t.Errorf("form lacks %q:\n%s", want, all)
		}
	}
	if v.Title.Text != "Re-register MFA" || v.Submit == nil || v.CallbackID != callbackRequest {
		t.Errorf("view = %+v", v)
	}
	var opts int
	for _, b := range blocks {
		if el, ok := b["element"].(map[string]any); ok && el["type"] == "static_select" {
			opts = len(el["options"].([]any))
			if el["initial_option"] == nil {
				t.Errorf("the chosen method is not kept on re-render")
			}
		}
	}
	if opts != 1 {
		t.Errorf("%d options, want 1 (invalid ones dropped)", opts)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// The request modal shows the router's limits: as Slack's min/max length and in each
// field's hint.
func TestRequestViewShowsLimits(t *testing.T) {
	v := requestView(formMeta{Action: "reregister", Choices: []metaChoice{{"video_with_id", "Video call"}}}, "meta", submission{}, nil)
	var hints []string
	lengths := map[string][2]int{}
	for _, b := range v.Blocks.BlockSet {
		ib, ok := b.(*goslack.InputBlock)
		if !ok {
			continue
		}
		if ib.Hint != nil {
			hints = append(hints, ib.Hint.Text)
		}
		if el, ok := ib.Element.(*goslack.PlainTextInputBlockElement); ok {
			lengths[ib.BlockID] = [2]int{el.MinLength, el.MaxLength}
		}
	}
	all := strings.Join(hints, "\n")
	for _, w := range []string{"10 to 500 characters", "3 to 500 characters", "2 to 64 characters"} {
		if !strings.Contains(all, w) {
			t.Errorf("hints lack %q:\n%s", w, all)
		}
	}
	if lengths[fieldReason] != [2]int{10, 500} || lengths[fieldDetail] != [2]int{3, 500} || lengths[fieldTicket][1] != 64 {
		t.Errorf("input lengths = %v", lengths)
	}
}
