package slack

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/slack/slacktest"
)

// Fuzz tests for every parser of outside input: the signature headers, the
// slash-command form, the interaction payload JSON, private_metadata, and the
// escaping of text that reaches mrkdwn.

func FuzzVerifySignature(f *testing.F) {
	v, body := loadSigningVector(f)
	f.Add(v.ExpectedSignature, v.Timestamp, body)
	f.Add("v0=", "", []byte{})
	f.Add("v0="+strings.Repeat("A", 64), "+1531420618", body)
	f.Add("v0=zz", "1e9", []byte("x"))
	secret := []byte(v.SigningSecret)
	ts, _ := parseTimestamp(v.Timestamp)
	now := time.Unix(ts, 0)
	f.Fuzz(func(t *testing.T, sig, tsHeader string, body []byte) {
		got, err := verifySignature(secret, sig, tsHeader, body, now)
		if err != nil {
			return
		}
		// Accepted only if it is exactly Slack's signature of these bytes.
		want := computeSignature(secret, tsHeader, body)
		if got.mac != want || !strings.EqualFold(sig, "v0="+hexString(want[:])) {
			t.Fatalf("accepted a signature that is not the HMAC: %q", sig)
		}
		if n, err := parseTimestamp(tsHeader); err != nil || got.expires != time.Unix(n, 0).Add(signatureWindow) {
			t.Fatalf("accepted timestamp %q", tsHeader)
		}
	})
}

// fuzzAdapter has no working Slack behind it: the fuzzed paths must answer from the
// ack alone, and follow-up work is never started.
func fuzzAdapter(t testing.TB) *Adapter {
	a, err := New(Options{
		Mode: ModeHTTP, BotToken: "xoxb-fuzz", SigningSecret: "s", APIURL: "http://127.0.0.1:1/",
		TeamID: testTeam, ApprovalsChannel: testApprovals, AuditChannel: testAudit,
		Handler: &fakeHandler{}, Resolver: &directory{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ResponseURLHosts: []string{"127.0.0.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func FuzzSlashCommand(f *testing.F) {
	f.Add(mustRead(f, "slash-command-docs-weather.form"))
	f.Add(mustRead(f, "signing-v0-docs-example.body"))
	f.Add([]byte("command=%2Fmfa&team_id=T0MFADESK&user_id=U0HANA&text=%3C%21channel%3E+help&response_url=http%3A%2F%2F127.0.0.1%2Fr"))
	f.Add([]byte("command=/mfa&team_id=T0MFADESK&user_id=U0HANA&text=user+%22a&response_url=x"))
	f.Add([]byte("command=/mfa;text=x&&&=&%"))
	a := fuzzAdapter(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		cmd, err := parseSlashCommand(body)
		if err != nil {
			return
		}
		if cmd.Command == "" || !validID(cmd.UserID, "UW") {
			t.Fatalf("accepted %+v", cmd)
		}
		rep := a.onSlash(cmd)
		if rep.ack == nil {
			return
		}
		raw, err := json.Marshal(rep.ack)
		if err != nil {
			t.Fatalf("ack does not encode: %v", err)
		}
		var m struct {
			Text   string           `json:"text"`
			Blocks []map[string]any `json:"blocks"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if p := slacktest.BlockProblem(m.Blocks, maxMessageBlocks); p != "" {
			t.Fatalf("ack blocks: %s", p)
		}
		if strings.Contains(m.Text+texts(m.Blocks), "<!") {
			t.Fatalf("a broadcast mention survived: %s", raw)
		}
	})
}

func FuzzInteraction(f *testing.F) {
	for _, v := range []string{"block_actions-docs-message.json", "view_submission-docs-example.json", "view_submission-java-sdk-workspace.json", "view_submission-java-sdk-org-install.json"} {
		f.Add(string(mustRead(f, v)))
	}
	f.Add(`{"type":"block_actions","user":{"id":"U0HANA"},"actions":[{"action_id":"mfa_deny","value":"R-1"}]}`)
	f.Add(`{"type":"view_submission","user":{"id":"U0HANA"},"view":{"callback_id":"mfa_request","private_metadata":"v1.AA.{}","state":{"values":{"reason":{"value":{"value":7}}}}}}`)
	f.Add(`{"type":1}`)
	f.Fuzz(func(t *testing.T, payload string) {
		body := url.Values{"payload": {payload}}.Encode()
		ic, err := parseInteraction([]byte(body))
		if err != nil {
			return
		}
		if ic.Type == "" || !validID(ic.User.ID, "UW") {
			t.Fatalf("accepted %+v", ic)
		}
		// Everything the adapter reads from a payload must cope with any shape.
		_ = readSubmission(ic.View)
		_ = readJustification(ic.View)
		for _, b := range ic.ActionCallback.BlockActions {
			if b != nil {
				_ = validRequestID(b.Value)
			}
		}
		_, _ = decodeMeta([]byte("k"), ic.View.PrivateMetadata, time.Now())
	})
}

func FuzzMetadata(f *testing.F) {
	key := []byte("fuzz key")
	now := time.Unix(1_700_000_000, 0)
	good, _ := encodeMeta(key, formMeta{Kind: metaRequest, User: "U0HANA", Issued: now.Unix(), Action: "revoke", Target: "a@b.example"})
	deny, _ := encodeMeta(key, formMeta{Kind: metaDeny, User: "U0ALEX", Issued: now.Unix(), RequestID: "R-7KQ2M4XD"})
	f.Add(good)
	f.Add(deny)
	f.Add("shhh-its-secret")
	f.Add("v1..")
	f.Add("v1." + strings.Repeat("A", 43) + ".{\"k\":\"request\"}")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := decodeMeta(key, s, now)
		if err != nil {
			return
		}
		// Whatever decodes was signed by us: re-encoding gives a valid form again.
		again, err := encodeMeta(key, m)
		if err != nil {
			t.Fatal(err)
		}
		if m2, err := decodeMeta(key, again, now); err != nil || m2.Kind != m.Kind || m2.User != m.User || m2.Target != m.Target || m2.RequestID != m.RequestID {
			t.Fatalf("round trip of an accepted form failed: %v", err)
		}
	})
}

func FuzzRender(f *testing.F) {
	f.Add("<!channel> & <@U1|x> <https://evil.example|click>", "@here")
	f.Add(strings.Repeat("é&", 2000), "\x00\n\t")
	f.Fuzz(func(t *testing.T, a, b string) {
		m := bot.Message{
			Title: a, Text: b,
			Sections: []bot.Section{{
				Heading: a, Text: b, Note: a,
				Facts:    []bot.Fact{{Label: a, Value: b}},
				Table:    &bot.Table{Columns: []string{a}, Rows: [][]string{{b, a}}},
				Findings: []bot.Finding{{Severity: bot.Severity(a), Title: a, Detail: b, Evidence: a}},
			}},
			Buttons: []bot.Button{{Kind: bot.ButtonApprove, Value: a}, {Kind: bot.ButtonDeny, Value: "R-1234"}},
		}
		blocks := renderBlocks(m, renderOptions{maxBlocks: maxMessageBlocks, title: true, buttons: true})
		raw, err := json.Marshal(blocks)
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		_ = json.Unmarshal(raw, &out)
		if p := slacktest.BlockProblem(out, maxMessageBlocks); p != "" {
			t.Fatalf("blocks: %s", p)
		}
		for _, blk := range out {
			if blk["type"] == "header" || blk["type"] == "actions" {
				continue // plain_text: shown literally, never parsed
			}
			if s := texts(blk); strings.ContainsAny(s, "<>") {
				t.Fatalf("unescaped < or > reached mrkdwn: %q", s)
			}
		}
		if s := summaryText(m); strings.ContainsAny(s, "<>") {
			t.Fatalf("unescaped summary %q", s)
		}
	})
}
