package teams

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/infracloudio/msbotbuilder-go/schema"
)

// Activity is one inbound Bot Framework activity: msbotbuilder-go's schema.Activity for
// the well-typed parts, plus the fields its generated types cannot hold. Those are
// declared here, at a shallower depth than the embedded struct, so encoding/json fills
// ours and never tries theirs:
//   - entities: schema.Entity keeps only "type", which loses the mention's text and id;
//   - value: schema wants an object, and a string or array value would fail the whole
//     decode (Teams sends strings for some invokes);
//   - channelData: kept raw and read leniently, so an unexpected shape in a field we do
//     not use cannot reject the activity;
//   - the timestamps: a client-supplied local time in an unexpected format must not
//     reject a command.
type Activity struct {
	schema.Activity
	Entities       []Entity        `json:"entities,omitempty"`
	Value          json.RawMessage `json:"value,omitempty"`
	ChannelData    json.RawMessage `json:"channelData,omitempty"`
	Timestamp      json.RawMessage `json:"timestamp,omitempty"`
	LocalTimestamp json.RawMessage `json:"localTimestamp,omitempty"`
	Expiration     json.RawMessage `json:"expiration,omitempty"`
}

// Entity is an activity entity; only mentions are read.
type Entity struct {
	Type      string
	Text      string // a mention's "<at>Name</at>"
	Mentioned Account
}

// Account is a mentioned account.
type Account struct{ ID, Name string }

// UnmarshalJSON reads an entity leniently: an entity that is not an object, or a field
// of an unexpected type, leaves the field empty instead of rejecting the activity.
func (e *Entity) UnmarshalJSON(b []byte) error {
	*e = Entity{}
	var raw map[string]json.RawMessage
	if json.Unmarshal(b, &raw) != nil {
		return nil
	}
	_ = json.Unmarshal(raw["type"], &e.Type)
	_ = json.Unmarshal(raw["text"], &e.Text)
	var m map[string]json.RawMessage
	if json.Unmarshal(raw["mentioned"], &m) == nil {
		_ = json.Unmarshal(m["id"], &e.Mentioned.ID)
		_ = json.Unmarshal(m["name"], &e.Mentioned.Name)
	}
	return nil
}

// ChannelData is the part of Teams' channelData the adapter reads.
type ChannelData struct {
	Tenant  struct{ ID string } `json:"tenant"`
	Team    struct{ ID, Name string }
	Channel struct{ ID, Name string }
	// EventType names conversationUpdate events (teamMemberAdded, channelCreated, …).
	EventType string `json:"eventType"`
}

// maxActivityDepth bounds JSON nesting; encoding/json has its own, much larger limit,
// and nothing Teams sends nests deeper than this.
const maxActivityDepth = 64

// ErrNotActivity is returned for bodies that are not a JSON object.
var ErrNotActivity = errors.New("body is not a JSON object")

// DecodeActivity decodes an activity body. Unknown fields are ignored (Teams adds fields
// over time); only malformed JSON, a non-object body or a missing type is an error.
func DecodeActivity(body []byte) (*Activity, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, ErrNotActivity
	}
	if depth(body) > maxActivityDepth {
		return nil, fmt.Errorf("decode activity: nested deeper than %d levels", maxActivityDepth)
	}
	var a Activity
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("decode activity: %w", err)
	}
	if a.Type == "" {
		return nil, errors.New("decode activity: no type")
	}
	return &a, nil
}

// depth is the deepest nesting of objects and arrays, ignoring brackets inside strings.
func depth(b []byte) int {
	d, max := 0, 0
	inStr, esc := false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			d++
			if d > max {
				max = d
			}
		case c == '}' || c == ']':
			d--
		}
	}
	return max
}

// Teams reads channelData leniently: fields of the wrong type are left empty.
func (a *Activity) Teams() ChannelData {
	var cd ChannelData
	if len(a.ChannelData) == 0 {
		return cd
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(a.ChannelData, &raw) != nil {
		return cd
	}
	_ = json.Unmarshal(raw["tenant"], &cd.Tenant)
	_ = json.Unmarshal(raw["team"], &cd.Team)
	_ = json.Unmarshal(raw["channel"], &cd.Channel)
	_ = json.Unmarshal(raw["eventType"], &cd.EventType)
	return cd
}

// TenantID is the activity's tenant. Teams puts it in channelData.tenant.id and in
// conversation.tenantId; when both are present they must agree, otherwise the activity
// is ambiguous and gets "" (which no configured tenant matches).
func (a *Activity) TenantID() string {
	cd := a.Teams().Tenant.ID
	conv := a.Conversation.TenantID
	switch {
	case cd == "":
		return conv
	case conv == "" || strings.EqualFold(cd, conv):
		return cd
	}
	return ""
}

// ValueObject returns value as an object, or nil when value is absent or not an object
// (Teams sends strings for some invokes; Action.Submit with string data sends nothing).
func (a *Activity) ValueObject() map[string]json.RawMessage {
	v := bytes.TrimSpace(a.Value)
	if len(v) == 0 || v[0] != '{' {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil {
		return nil
	}
	return m
}

// StripMention removes the bot's own @mention from a message's text. It uses the
// mention entities, as Microsoft documents: the entity whose mentioned.id is the bot's
// (the activity's recipient) carries the exact "<at>…</at>" text Teams inserted. Parsing
// the display name out of the text instead would break on renamed bots and would strip
// a user who happens to share the bot's name.
func StripMention(text string, entities []Entity, botID string) string {
	for _, e := range entities {
		if !strings.EqualFold(e.Type, "mention") || e.Text == "" || botID == "" || e.Mentioned.ID != botID {
			continue
		}
		text = strings.ReplaceAll(text, e.Text, " ")
	}
	return normalizeSpace(text)
}

// normalizeSpace turns the no-break spaces Teams puts around mentions (as "&nbsp;" or
// U+00A0) into plain spaces and trims the result.
func normalizeSpace(s string) string {
	s = strings.ReplaceAll(s, "&nbsp;", " ")
	s = strings.ReplaceAll(s, "\u00a0", " ")
	return strings.TrimSpace(s)
}

// CommandText is the command typed in a message: the text with the bot's mention
// removed.
func (a *Activity) CommandText() string {
	return StripMention(a.Text, a.Entities, a.Recipient.ID)
}

// Personal reports whether the activity comes from a 1:1 chat with the bot.
func (a *Activity) Personal() bool {
	return a.Conversation.ConversationType == "personal" ||
		(a.Conversation.ConversationType == "" && !a.Conversation.IsGroup && strings.HasPrefix(a.Conversation.ID, "a:"))
}

// baseConversation strips the ";messageid=…" thread suffix of a channel conversation id.
func baseConversation(id string) string {
	base, _, _ := strings.Cut(id, ";")
	return base
}
