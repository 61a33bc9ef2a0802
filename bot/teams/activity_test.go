package teams

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/bot/testvectors"
)

// The real captures decode as they are (SOURCES.md says where each comes from).
func TestDecodeVectors(t *testing.T) {
	t.Run("channel message with mention", func(t *testing.T) {
		a, err := DecodeActivity(readVector(t, "channel-message-activity.json"))
		if err != nil {
			t.Fatal(err)
		}
		checks := []struct{ name, got, want string }{
			{"type", string(a.Type), "message"},
			{"channelId", a.ChannelID, "msteams"},
			{"command text", a.CommandText(), "reply to thread"},
			{"mention text", a.Entities[0].Text, "<at>ridotest</at>"},
			{"mentioned id", a.Entities[0].Mentioned.ID, "28:0b6fe6d1-fece-44f7-9a48-56465e2d5ab8"},
			{"second entity", a.Entities[1].Type, "clientInfo"},
			{"tenant", a.TenantID(), "50612dbb-0237-4969-b378-8d42590f9c00"},
			{"aadObjectId", a.From.AadObjectID, "b15a9416-0ad3-4172-9210-7beb711d3f70"},
			{"channel", a.Teams().Channel.ID, "19:6848757105754c8981c67612732d9aa7@thread.tacv2"},
			{"team", a.Teams().Team.ID, "19:66P469zibfbsGI-_a0aN_toLTZpyzS6u7CT3TsXdgPw1@thread.tacv2"},
			{"base conversation", baseConversation(a.Conversation.ID), "19:6848757105754c8981c67612732d9aa7@thread.tacv2"},
			{"attachment", a.Attachments[0].ContentType, "text/html"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
			}
		}
		if a.Personal() {
			t.Error("a channel message is not personal")
		}
	})
	t.Run("adaptiveCard/action invoke", func(t *testing.T) {
		a, err := DecodeActivity(readVector(t, "adaptivecard-action-invoke.json"))
		if err != nil {
			t.Fatal(err)
		}
		if a.Type != "invoke" || a.Name != "adaptiveCard/action" || a.ReplyToID != "1767765488332" || !a.Personal() {
			t.Errorf("type %q name %q replyToId %q personal %v", a.Type, a.Name, a.ReplyToID, a.Personal())
		}
		if a.TenantID() != "56653e9d-2158-46ee-90d7-675c39642038" || a.From.AadObjectID != "c5e99701-2a32-49c1-a660-4629ceeb8c61" {
			t.Errorf("tenant %q aadObjectId %q", a.TenantID(), a.From.AadObjectID)
		}
		ca, ok := invokeAction(a)
		if !ok || ca.verb != "" || str(ca.data["feedback"]) != "test invokes" {
			t.Errorf("invoke action = %+v, %v", ca, ok)
		}
	})
	t.Run("Action.Submit messageBack, as published", func(t *testing.T) {
		raw := readVector(t, "action-submit-messageback-message.json")
		// The published example has a trailing comma (SOURCES.md): a strict parser
		// must refuse it, and so does the adapter.
		if _, err := DecodeActivity(raw); err == nil {
			t.Fatal("the published messageBack example is not strict JSON and must not decode")
		}
		fixed := bytes.Replace(raw, []byte(`"1575667808184",`), []byte(`"1575667808184"`), 1)
		a, err := DecodeActivity(fixed)
		if err != nil {
			t.Fatalf("with the one trailing comma removed: %v", err)
		}
		v := a.ValueObject()
		if str(v["property"]) != "propertyValue" || a.ReplyToID != "1575667808184" || a.TenantID() != "bec8e231-67ad-484e-87f4-3e5438390a77" {
			t.Errorf("value %v replyToId %q tenant %q", v, a.ReplyToID, a.TenantID())
		}
		if a.Teams().Channel.ID != "19:malejcou081i20ojmlcau0@thread.skype" {
			t.Errorf("channel %q", a.Teams().Channel.ID)
		}
	})
}

// What Teams really sends includes shapes msbotbuilder-go's schema cannot decode.
func TestDecodeTolerates(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		check func(*testing.T, *Activity)
	}{
		{"value is a string", `{"type":"invoke","value":"just a string"}`, func(t *testing.T, a *Activity) {
			if a.ValueObject() != nil || string(a.Value) != `"just a string"` {
				t.Errorf("value %s", a.Value)
			}
		}},
		{"value is an array", `{"type":"message","value":[1,2]}`, func(t *testing.T, a *Activity) {
			if a.ValueObject() != nil {
				t.Error("array value read as object")
			}
		}},
		{"unknown fields", `{"type":"message","text":"help","brandNewField":{"x":[1]},"from":{"id":"29:1","futureField":true}}`, func(t *testing.T, a *Activity) {
			if a.Text != "help" || a.From.ID != "29:1" {
				t.Errorf("%+v", a.Activity)
			}
		}},
		{"entity of odd shape", `{"type":"message","text":"<at>b</at> help","recipient":{"id":"28:b"},"entities":["x",{"type":"mention","mentioned":"28:b","text":5},{"type":"mention","text":"<at>b</at>","mentioned":{"id":"28:b"}}]}`, func(t *testing.T, a *Activity) {
			if got := a.CommandText(); got != "help" {
				t.Errorf("command %q", got)
			}
		}},
		{"channelData fields of the wrong type", `{"type":"message","channelData":{"tenant":"t","team":7,"channel":{"id":"19:c"}},"conversation":{"tenantId":"T1"}}`, func(t *testing.T, a *Activity) {
			if a.TenantID() != "T1" || a.Teams().Channel.ID != "19:c" {
				t.Errorf("tenant %q channel %q", a.TenantID(), a.Teams().Channel.ID)
			}
		}},
		{"tenants disagree", `{"type":"message","channelData":{"tenant":{"id":"A"}},"conversation":{"tenantId":"B"}}`, func(t *testing.T, a *Activity) {
			if a.TenantID() != "" {
				t.Errorf("ambiguous tenant read as %q", a.TenantID())
			}
		}},
		{"timestamps in other formats", `{"type":"message","timestamp":"yesterday","localTimestamp":12,"expiration":null}`, nil},
		{"channelData is not an object", `{"type":"message","channelData":"x"}`, func(t *testing.T, a *Activity) {
			if a.TenantID() != "" {
				t.Error("tenant from a non-object channelData")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := DecodeActivity([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.check != nil {
				c.check(t, a)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	cases := map[string]string{
		"empty":             ``,
		"not an object":     `[{"type":"message"}]`,
		"no type":           `{"text":"help"}`,
		"malformed":         `{"type":"message",}`,
		"too deep":          `{"type":"message","value":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
		"type not a string": `{"type":5}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			if a, err := DecodeActivity([]byte(body)); err == nil {
				t.Fatalf("decoded %+v", a)
			}
		})
	}
}

func TestStripMention(t *testing.T) {
	bot := Entity{Type: "mention", Text: "<at>mfadesk</at>", Mentioned: Account{ID: "28:bot", Name: "mfadesk"}}
	alice := Entity{Type: "mention", Text: "<at>Alice</at>", Mentioned: Account{ID: "29:alice", Name: "Alice"}}
	cases := []struct {
		name     string
		text     string
		entities []Entity
		want     string
	}{
		{"bot mention first", "<at>mfadesk</at> user alice@contoso.com", []Entity{bot}, "user alice@contoso.com"},
		{"with nbsp entity", "<at>mfadesk</at>&nbsp;diagnose bob@contoso.com", []Entity{bot}, "diagnose bob@contoso.com"},
		{"with U+00A0", "<at>mfadesk</at>\u00a0help", []Entity{bot}, "help"},
		{"other user's mention stays", "<at>mfadesk</at> user <at>Alice</at>", []Entity{bot, alice}, "user <at>Alice</at>"},
		{"no entities: text unchanged", "<at>mfadesk</at> help", nil, "<at>mfadesk</at> help"},
		{"a user named like the bot is not stripped", "<at>mfadesk</at> help", []Entity{{Type: "mention", Text: "<at>mfadesk</at>", Mentioned: Account{ID: "29:impostor"}}}, "<at>mfadesk</at> help"},
		{"renamed bot", "<at>MFA Desk (prod)</at> status x@y.z", []Entity{{Type: "mention", Text: "<at>MFA Desk (prod)</at>", Mentioned: Account{ID: "28:bot"}}}, "status x@y.z"},
		{"mention at the end", "help <at>mfadesk</at>", []Entity{bot}, "help"},
		{"plain 1:1 text", "  methods carol@contoso.com ", nil, "methods carol@contoso.com"},
		{"entity text absent from text", "help", []Entity{bot}, "help"},
		{"empty entity text is ignored", "help", []Entity{{Type: "mention", Mentioned: Account{ID: "28:bot"}}}, "help"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := StripMention(c.text, c.entities, "28:bot"); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func FuzzDecodeActivity(f *testing.F) {
	for _, name := range []string{"channel-message-activity.json", "adaptivecard-action-invoke.json", "action-submit-messageback-message.json"} {
		f.Add(readVectorF(f, name))
	}
	f.Add([]byte(`{"type":"message","value":"x","entities":[1,{"type":"mention","mentioned":{"id":5}}]}`))
	f.Add([]byte(`{"type":"invoke","name":"adaptiveCard/action","value":{"action":{"type":"Action.Execute","verb":"approve","data":{"request":"R-1"}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeActivity(b)
		if err != nil {
			return
		}
		// Nothing read from a decoded activity may panic.
		_ = a.CommandText()
		_ = a.TenantID()
		_ = a.Teams()
		_ = a.Personal()
		_, _ = invokeAction(a)
		if v := a.ValueObject(); v != nil {
			_ = str(v[dataVerbKey])
		}
		if _, err := json.Marshal(a); err != nil {
			t.Fatalf("a decoded activity does not encode: %v", err)
		}
	})
}

func FuzzStripMention(f *testing.F) {
	f.Add("<at>mfadesk</at> help", "<at>mfadesk</at>", "28:bot")
	f.Add("<at>x</at>&nbsp;user a@b.c", "<at>x</at>", "28:other")
	f.Add("\u00a0\u00a0", "", "28:bot")
	f.Fuzz(func(t *testing.T, text, mention, mentionedID string) {
		ents := []Entity{{Type: "mention", Text: mention, Mentioned: Account{ID: mentionedID}}}
		got := StripMention(text, ents, "28:bot")
		if got != strings.TrimSpace(got) {
			t.Fatalf("result %q is not trimmed", got)
		}
		if mentionedID != "28:bot" || mention == "" {
			// Only the bot's own mention may be removed.
			if want := normalizeSpace(text); got != want {
				t.Fatalf("text changed without a bot mention: %q → %q", text, got)
			}
		}
	})
}

func readVectorF(f *testing.F, name string) []byte {
	f.Helper()
	d, err := testvectors.Find("teams")
	if err != nil {
		return []byte(`{"type":"message"}`)
	}
	b, err := os.ReadFile(filepath.Join(d, name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}
