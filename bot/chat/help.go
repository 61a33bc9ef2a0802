package chat

import (
	"fmt"
	"strings"

	"github.com/mfadesk/mfadesk/bot/suggest"
)

// Help lists the verbs, or explains one, in the demo's plain syntax.
func Help(topic string) Message { return HelpFor(PlatformWeb, topic, "") }

// HelpFor is Help in the platform's own syntax (Prefix), with examples in the
// tenant's domain ("" shows a placeholder).
func HelpFor(platform Platform, topic, domain string) Message {
	p := Prefix(platform)
	if topic != "" {
		s, ok := specOf(Verb(topic))
		if !ok {
			ue := &UsageError{Msg: fmt.Sprintf("Unknown verb %q.", Clip(topic, 32))}
			if near := suggest.Closest(topic, verbNames(), 2); near != "" {
				ue.Suggest = "help " + near
			}
			return Refuse(ue.Text(platform))
		}
		example := p + exampleIn(s.example, domain)
		return Message{
			Private:  true,
			Text:     fmt.Sprintf("%s — %s. Example: %s", UsageFor(platform, s.verb), s.summary, example),
			Title:    UsageFor(platform, s.verb),
			Sections: []Section{{Text: s.summary + ".", Facts: []Fact{{Label: "Example", Value: example}}}},
		}
	}
	t := &Table{Columns: []string{"Command", "What it does"}}
	for _, s := range verbs {
		t.Rows = append(t.Rows, []string{UsageFor(platform, s.verb), s.summary})
	}
	how := "Name a user by UPN, mail or object id."
	if platform == PlatformTeams {
		how = "In a channel, mention @mfadesk before the verb; in a chat with mfadesk, type the verb alone. " + how
	}
	return Message{
		Private: true,
		Text:    "mfadesk verbs: " + verbList() + ". A user is named by UPN, mail or object id.",
		Title:   "mfadesk — MFA helpdesk commands",
		Sections: []Section{
			{Table: t},
			{Text: how + " Lookups answer only to you. reregister and revoke become requests that a second person from the approvers group must approve."},
		},
	}
}

// exampleDomain is the domain of the examples in the verb table, replaced by the
// tenant's own; a placeholder when the tenant's domain is not known.
const exampleDomain = "@contoso.com"

func exampleIn(example, domain string) string {
	if domain == "" {
		domain = "your-domain.example"
	}
	return strings.ReplaceAll(example, exampleDomain, "@"+domain)
}

func verbList() string {
	var names []string
	for _, s := range verbs {
		names = append(names, string(s.verb))
	}
	return strings.Join(names, ", ")
}
