package bot

import (
	"fmt"
	"strings"
	"time"

	"github.com/mfadesk/mfadesk/actions"
)

// RenderUser shows a user.
func RenderUser(u actions.User) Message {
	facts := []Fact{
		{Label: "Name", Value: u.DisplayName},
		{Label: "UPN", Value: u.UPN},
		{Label: "Object id", Value: u.ID},
		{Label: "Enabled", Value: yesNo(u.Enabled)},
		{Label: "Synced from on-premises", Value: yesNo(u.OnPremisesSynced)},
	}
	if u.Mail != "" && !strings.EqualFold(u.Mail, u.UPN) {
		facts = append(facts, Fact{Label: "Mail", Value: u.Mail})
	}
	if u.UserType != "" && u.UserType != "Member" {
		facts = append(facts, Fact{Label: "User type", Value: u.UserType})
	}
	facts = append(facts,
		Fact{Label: "Last sign-in", Value: when(u.LastSignIn)},
		Fact{Label: "Password last changed", Value: when(u.LastPasswordChange)},
		Fact{Label: "Sessions valid from", Value: when(u.SessionsValidFrom)},
		Fact{Label: "MFA groups", Value: listOr(u.MFAGroups, "none")},
		Fact{Label: "Admin roles", Value: listOr(u.Roles, "none")},
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

// Lookup rendering. Lookups answer privately to the caller, so full phone numbers may
// show here; anything posted to a channel uses actions.Method.Label (masked).

// RenderMethods shows each registered method with its own fields, whether it is the
// default, and whether the evidence says it is usable.
func RenderMethods(ev actions.Evidence) Message {
	u := ev.User
	if !ev.Has(actions.SourceMethods) {
		return Refuse(fmt.Sprintf("%s: %s", u.UPN, ev.Note(actions.SourceMethods)))
	}
	methods := actions.Usability(ev)
	t := &Table{Columns: []string{"Method", "Device / number", "Added", "Default", "Usable for MFA"}}
	unusable := 0
	for _, m := range methods {
		if m.Usable != nil && !*m.Usable {
			unusable++
		}
		t.Rows = append(t.Rows, []string{actions.TypeLabel(m.Type), methodDetail(m), whenOr(m.Created, "—"), yesBlank(m.Default), usable(m)})
	}
	summary := fmt.Sprintf("%s (%s): %d method(s)", u.DisplayName, u.UPN, len(methods))
	if unusable > 0 {
		summary += fmt.Sprintf(", %d NOT usable", unusable)
	}
	without := missing(ev, actions.SourceRegistration, actions.SourceAudits, actions.SourcePreferences)
	if without != "" {
		without = "Usability is judged without: " + without
	}
	sec := Section{Table: t, Note: notes(ev, without)}
	return Message{Private: true, Title: "Methods of " + u.DisplayName, Text: summary + ".", Sections: []Section{sec}}
}

func methodDetail(m actions.Method) string {
	var parts []string
	switch m.Type {
	case actions.MethodPhone:
		// Full number: this answer is private to the caller of the lookup.
		parts = append(parts, strings.TrimSpace(m.PhoneType+" "+m.PhoneNumber))
	default:
		if m.DisplayName != "" {
			parts = append(parts, m.DisplayName)
		}
	}
	if m.Detail != "" {
		parts = append(parts, m.Detail)
	}
	if m.Type == actions.MethodUnknown && m.ODataType != "" {
		parts = append(parts, m.ODataType)
	}
	return listOr(parts, "—")
}

func usable(m actions.Method) string {
	switch {
	case m.Usable == nil && m.UsableWhy != "":
		return "— (" + m.UsableWhy + ")"
	case m.Usable == nil:
		return "unknown"
	case *m.Usable:
		return "yes (" + m.UsableWhy + ")"
	}
	return "NO (" + m.UsableWhy + ")"
}

// RenderStatus shows the registration report and the per-user MFA state.
func RenderStatus(ev actions.Evidence) Message {
	u := ev.User
	var facts []Fact
	summary := fmt.Sprintf("%s (%s)", u.DisplayName, u.UPN)
	if r := ev.Registration; ev.Has(actions.SourceRegistration) && r != nil {
		facts = append(facts,
			Fact{Label: "MFA registered", Value: yesNo(r.MFARegistered)},
			Fact{Label: "MFA capable", Value: yesNo(r.MFACapable)},
			Fact{Label: "SSPR registered", Value: yesNo(r.SSPRRegistered)},
			Fact{Label: "SSPR enabled", Value: yesNo(r.SSPREnabled)},
			Fact{Label: "SSPR capable", Value: yesNo(r.SSPRCapable)},
			Fact{Label: "Passwordless capable", Value: yesNo(r.PasswordlessCapable)},
			Fact{Label: "Methods registered", Value: listOr(r.MethodsRegistered, "none")},
			Fact{Label: "System-preferred MFA", Value: systemPreferred(r)},
		)
		summary += fmt.Sprintf(": MFA registered %s, MFA capable %s", yesNo(r.MFARegistered), yesNo(r.MFACapable))
	}
	facts = append(facts, Fact{Label: "Default MFA method", Value: defaultMethod(ev)})
	if ev.Has(actions.SourcePerUserMFA) {
		facts = append(facts, Fact{Label: "Per-user MFA", Value: ev.PerUserMFA})
		summary += ", per-user MFA " + ev.PerUserMFA
	}
	if r := ev.Registration; ev.Has(actions.SourceRegistration) && r != nil {
		facts = append(facts, Fact{Label: "Report updated", Value: when(r.Updated) + " (the report can lag behind the methods)"})
	}
	sec := Section{Facts: facts, Note: notes(ev, missing(ev, actions.SourceRegistration, actions.SourcePerUserMFA, actions.SourcePreferences))}
	if ev.PerUserMFA == "disabled" {
		sec.Text = "Per-user MFA \"disabled\" is normal when MFA is enforced by Conditional Access or security defaults; do not enable it. Users manage their methods at " + actions.SecurityInfoURL + "."
	}
	return Message{Private: true, Title: "Registration status of " + u.DisplayName, Text: summary + ".", Sections: []Section{sec}}
}

func systemPreferred(r *actions.Registration) string {
	if !r.SystemPreferredEnabled {
		return "off"
	}
	return "on: " + listOr(r.SystemPreferred, "none")
}

func defaultMethod(ev actions.Evidence) string {
	if ev.Has(actions.SourcePreferences) && ev.Preferences != nil && ev.Preferences.UserPreferred != "" {
		return ev.Preferences.UserPreferred
	}
	if ev.Has(actions.SourceRegistration) && ev.Registration != nil && ev.Registration.UserPreferred != "" {
		return ev.Registration.UserPreferred + " (from the report)"
	}
	return "none"
}

// RenderSignIns shows recent sign-ins: time, app, where from, the result with its
// failure reason, Conditional Access, and the MFA requirement and method.
func RenderSignIns(ev actions.Evidence) Message {
	u := ev.User
	if !ev.Has(actions.SourceSignIns) {
		return Refuse(fmt.Sprintf("%s: %s", u.UPN, ev.Note(actions.SourceSignIns)))
	}
	what := "sign-ins"
	if ev.Query.SignInFailedOnly {
		what = "failed sign-ins"
	}
	if len(ev.SignIns) == 0 {
		return Message{Private: true, Title: "Sign-ins of " + u.DisplayName,
			Text: fmt.Sprintf("%s (%s): no %s in the last %d days.", u.DisplayName, u.UPN, what, ev.Query.SignInDays), Sections: noteOnly(ev)}
	}
	t := &Table{Columns: []string{"Time", "App", "IP / location", "Result", "Conditional Access", "MFA"}}
	failed := 0
	for _, s := range ev.SignIns {
		if s.Failed() {
			failed++
		}
		t.Rows = append(t.Rows, []string{when(s.Time), s.App, strings.TrimSpace(s.IP + " " + paren(s.Location)), signInResult(s), s.ConditionalAccess, signInMFA(s)})
	}
	text := fmt.Sprintf("%s (%s): %d %s", u.DisplayName, u.UPN, len(ev.SignIns), what)
	if !ev.Query.SignInFailedOnly {
		text += fmt.Sprintf(", %d failed", failed)
	}
	more := ""
	if ev.SignInsMore {
		more = "More sign-ins match; showing the newest."
	}
	sec := Section{Table: t, Note: notes(ev, more)}
	secs := []Section{sec}
	if known := signInErrorFacts(ev.SignIns); len(known) > 0 {
		secs = append(secs, Section{Heading: "What the errors mean", Facts: known})
	}
	return Message{Private: true, Title: "Sign-ins of " + u.DisplayName, Text: text + ".", Sections: secs}
}

func signInResult(s actions.SignIn) string {
	if !s.Failed() {
		return "success"
	}
	return fmt.Sprintf("failed %d: %s", s.ErrorCode, actions.SignInReason(s))
}

// signInErrorFacts explains each known error code once, with the helpdesk's next step.
func signInErrorFacts(signIns []actions.SignIn) []Fact {
	var out []Fact
	for _, e := range actions.SignInErrorsIn(signIns) {
		out = append(out, Fact{Label: fmt.Sprintf("Error %d", e.Code), Value: capitalize(e.Meaning) + ". " + e.Next})
	}
	return out
}

func signInMFA(s actions.SignIn) string {
	req := map[string]string{"multiFactorAuthentication": "MFA required", "singleFactorAuthentication": "single factor"}[s.Requirement]
	if req == "" {
		req = s.Requirement
	}
	if m := s.MFAMethod(); m != "" {
		req += ": " + m
		if d := s.MFADetail(); d != "" {
			req += " (" + d + ")"
		}
	}
	return listOr([]string{req}, "—")
}

// RenderAudit shows security-info events and admin actions on the user.
func RenderAudit(ev actions.Evidence) Message {
	u := ev.User
	if !ev.Has(actions.SourceAudits) {
		return Refuse(fmt.Sprintf("%s: %s", u.UPN, ev.Note(actions.SourceAudits)))
	}
	days := ev.Query.AuditDays
	if len(ev.Audits) == 0 {
		return Message{Private: true, Title: "Audit of " + u.DisplayName,
			Text: fmt.Sprintf("%s (%s): no security-info or admin events in the last %d days.", u.DisplayName, u.UPN, days), Sections: noteOnly(ev)}
	}
	t := &Table{Columns: []string{"Time", "Activity", "By", "Result", "Detail"}}
	for _, a := range ev.Audits {
		detail := a.Reason
		if len(a.Modified) > 0 {
			detail = strings.TrimSpace(detail + " changed " + strings.Join(a.Modified, ", "))
		}
		t.Rows = append(t.Rows, []string{when(a.Time), a.Activity + " " + paren(a.Service), a.InitiatedBy, a.Result, listOr([]string{detail}, "—")})
	}
	more := ""
	if ev.AuditsMore {
		more = "More events match; narrow --days to see older ones."
	}
	sec := Section{Table: t, Note: notes(ev, more)}
	return Message{Private: true, Title: "Audit of " + u.DisplayName,
		Text: fmt.Sprintf("%s (%s): %d events in the last %d days.", u.DisplayName, u.UPN, len(ev.Audits), days), Sections: []Section{sec}}
}

// RenderDiagnosis shows the findings with their evidence and the next step.
func RenderDiagnosis(ev actions.Evidence, d actions.Diagnosis, platform Platform) Message {
	u := ev.User
	var fs []Finding
	for _, f := range d.Findings {
		fs = append(fs, Finding{Severity: Severity(f.Severity), Title: f.Title, Detail: f.Detail, Evidence: strings.Join(f.Evidence, "\n")})
	}
	secs := []Section{}
	if len(fs) > 0 {
		secs = append(secs, Section{Heading: "Findings", Findings: fs})
	}
	next := Section{Heading: "Next step", Text: d.Next.Text}
	if d.Next.Verb != "" {
		next.Facts = []Fact{{Label: "Request", Value: Prefix(platform) + d.Next.Verb + " " + u.UPN}}
	}
	if len(d.Notes) > 0 {
		next.Note = strings.Join(d.Notes, " ")
	}
	secs = append(secs, next)
	text := fmt.Sprintf("%s (%s): ", u.DisplayName, u.UPN)
	if len(d.Findings) > 0 {
		text += string(d.Findings[0].Severity) + ": " + d.Findings[0].Title + ". "
	}
	text += d.Next.Text
	return Message{Private: true, Title: "Diagnosis of " + u.DisplayName, Text: text, Sections: secs, Buttons: fileButton(d.Next.Verb, u)}
}

// missing explains the missing sources among srcs, in one line.
func missing(ev actions.Evidence, srcs ...actions.Source) string {
	var out []string
	for _, s := range srcs {
		if n := ev.Note(s); n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, " ")
}

// notes is a lookup's note line: what the renderer has to say (first), then how fresh
// the report data is, so a reused or queued answer says so wherever it shows.
func notes(ev actions.Evidence, first string) string {
	return strings.TrimSpace(first + " " + ev.Freshness())
}

// noteOnly is the sections of an answer that has no table: the note line alone, if
// any.
func noteOnly(ev actions.Evidence) []Section {
	if n := notes(ev, ""); n != "" {
		return []Section{{Note: n}}
	}
	return nil
}

func whenOr(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return when(t)
}

func yesBlank(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}
