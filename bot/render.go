package bot

import (
	"fmt"
	"strings"
	"time"

	"github.com/mfadesk/mfadesk/actions"
)

// Help lists the verbs, or explains one.
func Help(topic string) Message {
	if topic != "" {
		s, ok := specOf(Verb(topic))
		if !ok {
			return Refuse(fmt.Sprintf("Unknown verb %q. Try /mfa help.", clip(topic, 32)))
		}
		return Message{
			Private:  true,
			Text:     fmt.Sprintf("%s — %s. Example: /mfa %s", Usage(s.verb), s.summary, s.example),
			Title:    Usage(s.verb),
			Sections: []Section{{Text: s.summary + ".", Facts: []Fact{{"Example", "/mfa " + s.example}}}},
		}
	}
	t := &Table{Columns: []string{"Command", "What it does"}}
	for _, s := range verbs {
		t.Rows = append(t.Rows, []string{Usage(s.verb), s.summary})
	}
	return Message{
		Private: true,
		Text:    "mfadesk verbs: " + verbList() + ". A user is named by UPN, mail or object id.",
		Title:   "mfadesk — MFA helpdesk commands",
		Sections: []Section{
			{Table: t},
			{Text: "Name a user by UPN, mail or object id. Lookups answer only to you. reregister and revoke become requests that a second person from the approvers group must approve."},
		},
	}
}

func verbList() string {
	var names []string
	for _, s := range verbs {
		names = append(names, string(s.verb))
	}
	return strings.Join(names, ", ")
}

// RenderUser shows a user.
func RenderUser(u actions.User) Message {
	facts := []Fact{
		{"Name", u.DisplayName},
		{"UPN", u.UPN},
		{"Object id", u.ID},
		{"Enabled", yesNo(u.Enabled)},
		{"Synced from on-premises", yesNo(u.OnPremisesSynced)},
	}
	if u.Mail != "" && !strings.EqualFold(u.Mail, u.UPN) {
		facts = append(facts, Fact{"Mail", u.Mail})
	}
	if u.UserType != "" && u.UserType != "Member" {
		facts = append(facts, Fact{"User type", u.UserType})
	}
	facts = append(facts,
		Fact{"Last sign-in", when(u.LastSignIn)},
		Fact{"Password last changed", when(u.LastPasswordChange)},
		Fact{"Sessions valid from", when(u.SessionsValidFrom)},
		Fact{"MFA groups", listOr(u.MFAGroups, "none")},
		Fact{"Admin roles", listOr(u.Roles, "none")},
	)
	sec := Section{Facts: facts, Note: strings.TrimSpace(u.GroupsNote + " " + u.SignInNote)}
	summary := fmt.Sprintf("%s (%s): %s", u.DisplayName, u.UPN, map[bool]string{true: "enabled", false: "disabled"}[u.Enabled])
	if len(u.MFAGroups) > 0 {
		summary += ", in " + strings.Join(u.MFAGroups, ", ") + " (MFA required)"
	}
	if u.IsAdmin() {
		summary += ", admin: " + strings.Join(u.Roles, ", ")
	}
	return Message{Private: true, Title: "User " + u.DisplayName, Text: summary + ".", Sections: []Section{sec}}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func when(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func listOr(l []string, empty string) string {
	if len(l) == 0 {
		return empty
	}
	return strings.Join(l, ", ")
}
