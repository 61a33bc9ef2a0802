package chat

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mfadesk/mfadesk/actions"
	textclip "github.com/mfadesk/mfadesk/actions/clip"
	"github.com/mfadesk/mfadesk/bot/suggest"
)

// Verb is a command word.
type Verb string

// The verbs a chat user can type (help lists them with their summaries).
const (
	VerbHelp       Verb = "help"
	VerbUser       Verb = "user"
	VerbMethods    Verb = "methods"
	VerbStatus     Verb = "status"
	VerbSignins    Verb = "signins"
	VerbAudit      Verb = "audit"
	VerbDiagnose   Verb = "diagnose"
	VerbReregister Verb = "reregister"
	VerbRevoke     Verb = "revoke"
	VerbTAP        Verb = "tap"
	VerbPending    Verb = "pending"
	VerbShow       Verb = "show"
	VerbCancel     Verb = "cancel"
	VerbVerify     Verb = "verify"
	VerbUnfreeze   Verb = "unfreeze"
	VerbMe         Verb = "me"
	VerbAttest     Verb = "attest"
)

// Limits of the flags; Graph keeps sign-ins and audit events for 30 days.
const (
	DefaultSignins = 10
	MaxSignins     = 50
	DefaultDays    = 7
	MaxDays        = 30
)

type verbSpec struct {
	verb    Verb
	args    string // usage after the verb
	summary string
	example string
	user    bool     // takes a user
	id      bool     // takes a request id
	flags   []string // allowed --flags
}

var verbs = []verbSpec{
	{VerbHelp, "[verb]", "list the verbs, or explain one", "help signins", false, false, nil},
	{VerbUser, "<user>", "who the user is: enabled, synced, MFA groups, admin roles", "user mfatest2@contoso.com", true, false, nil},
	{VerbMethods, "<user>", "registered authentication methods and whether each is usable", "methods mfatest2@contoso.com", true, false, nil},
	{VerbStatus, "<user>", "MFA / SSPR registration status and per-user MFA state", "status mfatest2@contoso.com", true, false, nil},
	{VerbSignins, "<user> [--last N] [--failed]", "recent sign-ins with failure reasons and MFA detail", "signins mfatest2@contoso.com --last 20 --failed", true, false, []string{"last", "failed"}},
	{VerbAudit, "<user> [--days N]", "security-info events and admin actions on the user", "audit mfatest2@contoso.com --days 14", true, false, []string{"days"}},
	{VerbDiagnose, "<user>", "everything above folded into findings and a next step", "diagnose mfatest2@contoso.com", true, false, nil},
	{VerbReregister, "<user> [<user>…] [--group <group>] [--list]", "request: delete MFA methods so users register again (needs an approver)", "reregister --group mfa-rollback-affected", true, false, []string{"group", "list"}},
	{VerbRevoke, "<user>", "request: sign the user out everywhere (needs an approver)", "revoke mfatest2@contoso.com", true, false, nil},
	{VerbTAP, "<user> [--lifetime 1h] [--once]", "request: a Temporary Access Pass, sent to you privately, once (needs an approver)", "tap mfatest2@contoso.com --lifetime 2h --once", true, false, []string{"lifetime", "once"}},
	{VerbVerify, "<user>", "ask the user, in a private chat message, to confirm it is them on the line (number match)", "verify mfatest2@contoso.com", true, false, nil},
	{VerbUnfreeze, "<user> <justification>", "lift the freeze a user set with This is not me (approvers only)", "unfreeze mfatest2@contoso.com called back on the HR number, it was her", true, false, nil},
	{VerbMe, "", "your own MFA status and what to fix yourself (anyone)", "me", false, false, nil},
	{VerbPending, "", "open requests you may act on", "pending", false, false, nil},
	{VerbShow, "<request-id>", "one request with its history", "show R-7KQ2M4XD", false, true, nil},
	{VerbCancel, "<request-id>", "withdraw a request you made", "cancel R-7KQ2M4XD", false, true, nil},
	{VerbAttest, "<request-id>", "ask the user's manager again, privately, to vouch for them on your request", "attest R-7KQ2M4XD", false, true, nil},
}

// Verbs returns every verb in the order of help: the one list that help, the Slack
// manifest's usage hint and the Teams manifest's command menus are made from.
func Verbs() []Verb {
	out := make([]Verb, len(verbs))
	for i, s := range verbs {
		out[i] = s.verb
	}
	return out
}

// Answer says how a parsed command is answered, so an adapter can acknowledge it
// without knowing the verbs: Slack must acknowledge within 3 seconds and opens a
// form only with the trigger id of that moment.
type Answer int

const (
	// AnswerInline: the answer comes from the text alone (help), with no caller
	// check and no directory, and can be given at once.
	AnswerInline Answer = iota + 1
	// AnswerForm: the command files a request; a form asks for the reason, the
	// ticket and the verification first.
	AnswerForm
	// AnswerLater: the answer needs the caller's identity and the directory or the
	// approvals store, so it comes after the acknowledgement.
	AnswerLater
)

// Answer says how the command is answered.
func (c Command) Answer() Answer {
	switch c.Verb {
	case VerbHelp:
		return AnswerInline
	case VerbReregister, VerbRevoke, VerbTAP:
		return AnswerForm
	}
	return AnswerLater
}

func specOf(v Verb) (verbSpec, bool) {
	for _, s := range verbs {
		if s.verb == v {
			return s, true
		}
	}
	return verbSpec{}, false
}

// Command is a parsed chat command.
type Command struct {
	Verb   Verb
	User   actions.UserRef // for verbs that take a user
	ID     string          // for verbs that take a request id
	Topic  string          // for help
	Last   int             // signins --last
	Failed bool            // signins --failed
	Days   int             // audit --days
	// Justification is the free text after the user of unfreeze.
	Justification string
	// Platform is the caller's (Caller.Platform), set by the router, not by Parse:
	// answers show commands in that platform's syntax.
	Platform Platform
	// Lifetime and Once are tap's --lifetime (default one hour) and --once.
	Lifetime time.Duration
	Once     bool
	// Group (reregister --group: a group's name or object id) or Users (a pasted
	// list of two or more) make a bulk re-register; PasteChars is the list's length.
	Group      string
	Users      []actions.UserRef
	PasteChars int
	// List (reregister --list) opens the form with a field to paste the users into.
	List bool
}

// Bulk reports whether the command is a bulk re-register.
func (c Command) Bulk() bool { return c.Group != "" || len(c.Users) > 0 || c.List }

// UsageError is a command that could not be parsed. Msg says what is wrong in one
// line; Text adds the right usage, or a pointer to help, in the caller's platform's
// own syntax.
type UsageError struct {
	Msg  string
	Verb Verb // set: the verb's usage follows; empty: "Try … help." follows
	// Suggest is a corrected command ("diagnose", "user a@b.co") shown as "Did you
	// mean …?" in the platform's syntax.
	Suggest string
	// Bare is a user argument that is a bare name, not a UPN ("mfatest1"): the router
	// may look for the one user whose UPN starts with it and set Suggest.
	Bare string
}

// Error is the message in the demo's plain syntax; adapters use Text.
func (e *UsageError) Error() string { return e.Text(PlatformWeb) }

// Text is the whole one-line answer in the syntax of the platform.
func (e *UsageError) Text(platform Platform) string {
	p := Prefix(platform)
	out := e.Msg
	if e.Suggest != "" {
		out += " Did you mean " + p + e.Suggest + "?"
	}
	if e.Verb != "" {
		return out + " Usage: " + p + Usage(e.Verb)
	}
	return out + " Try " + p + "help."
}

// Prefix is what a person types before a verb on a platform: "/mfa " in Slack,
// "@mfadesk " in a Teams channel (a 1:1 chat needs no mention, and Parse accepts the
// words with or without it), nothing in the demo's web chat.
func Prefix(platform Platform) string {
	switch platform {
	case PlatformSlack:
		return "/mfa "
	case PlatformTeams:
		return "@mfadesk "
	}
	return ""
}

// Usage returns the usage line of a verb without the platform's prefix, e.g.
// "signins <user> [--last N] [--failed]"; UsageFor adds it.
func Usage(v Verb) string {
	s, ok := specOf(v)
	if !ok {
		return "help"
	}
	return strings.TrimSpace(string(s.verb) + " " + s.args)
}

// UsageFor is the usage line as typed on a platform, e.g. "/mfa signins <user> …".
func UsageFor(platform Platform, v Verb) string { return Prefix(platform) + Usage(v) }

// verbNames are the verbs, for "did you mean …?".
func verbNames() []string {
	out := make([]string, len(verbs))
	for i, s := range verbs {
		out[i] = string(s.verb)
	}
	return out
}

// bareName matches a user argument that could be the start of a UPN typed without
// its domain; nothing that needs quoting beyond a single quote.
var bareName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._'-]{0,63}$`)

// Parse parses the text after the command word (Slack's /mfa, Teams' @mfadesk). A
// leading "/mfa" or "mfa" is accepted, so that text typed into the web chat or a Teams
// 1:1 chat reads the same.
func Parse(text string) (Command, error) {
	toks, err := tokenize(text)
	if err != nil {
		return Command{}, &UsageError{Msg: err.Error() + "."}
	}
	// Whatever a platform's habit, the words after it read the same.
	if len(toks) > 0 && (strings.EqualFold(toks[0], "/mfa") || strings.EqualFold(toks[0], "mfa") || strings.EqualFold(toks[0], "@mfadesk")) {
		toks = toks[1:]
	}
	if len(toks) == 0 {
		return Command{Verb: VerbHelp}, nil
	}
	v := Verb(strings.ToLower(toks[0]))
	spec, ok := specOf(v)
	if !ok {
		ue := &UsageError{Msg: fmt.Sprintf("Unknown verb %q.", Clip(toks[0], 32))}
		if near := suggest.Closest(toks[0], verbNames(), 2); near != "" {
			ue.Suggest = strings.TrimSpace(near + " " + strings.Join(quoteAll(toks[1:]), " "))
			if len(ue.Suggest) > 200 {
				ue.Suggest = near
			}
		}
		return Command{}, ue
	}
	cmd := Command{Verb: v}
	usage := func(msg string) error {
		return &UsageError{Msg: msg, Verb: v}
	}
	var pos []string
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		if !strings.HasPrefix(t, "--") {
			pos = append(pos, t)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(t, "--"), "=")
		name = strings.ToLower(name)
		if !contains(spec.flags, name) {
			return Command{}, usage(fmt.Sprintf("%s takes no flag --%s.", v, Clip(name, 32)))
		}
		switch name {
		case "failed", "once", "list":
			if hasVal {
				return Command{}, usage(fmt.Sprintf("--%s takes no value.", name))
			}
			cmd.Failed = cmd.Failed || name == "failed"
			cmd.Once = cmd.Once || name == "once"
			cmd.List = cmd.List || name == "list"
		case "group":
			if !hasVal {
				if i+1 >= len(toks) {
					return Command{}, usage("--group needs a group's name or object id.")
				}
				i++
				val = toks[i]
			}
			if val = strings.TrimSpace(val); val == "" || len(val) > 256 {
				return Command{}, usage("--group needs a group's name or object id.")
			}
			cmd.Group = val
		case "lifetime":
			if !hasVal {
				if i+1 >= len(toks) {
					return Command{}, usage("--lifetime needs a duration such as 1h, 90m or 7d.")
				}
				i++
				val = toks[i]
			}
			d, err := parseLifetime(val)
			if err != nil {
				return Command{}, usage(err.Error())
			}
			cmd.Lifetime = d
		case "last", "days":
			if !hasVal {
				if i+1 >= len(toks) {
					return Command{}, usage(fmt.Sprintf("--%s needs a number.", name))
				}
				i++
				val = toks[i]
			}
			max := MaxSignins
			if name == "days" {
				max = MaxDays
			}
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > max {
				return Command{}, usage(fmt.Sprintf("--%s must be a whole number from 1 to %d.", name, max))
			}
			if name == "last" {
				cmd.Last = n
			} else {
				cmd.Days = n
			}
		}
	}
	switch {
	case v == VerbHelp:
		if len(pos) > 1 {
			return Command{}, usage("help takes at most one verb.")
		}
		if len(pos) == 1 {
			cmd.Topic = strings.ToLower(pos[0])
		}
	case v == VerbUnfreeze:
		if len(pos) < 2 {
			return Command{}, usage("Name one user and say why the freeze can be lifted.")
		}
		ref, err := actions.ParseUserRef(pos[0])
		if err != nil {
			return Command{}, &UsageError{Msg: Capitalize(err.Error()) + ".", Verb: v}
		}
		cmd.User, cmd.Justification = ref, strings.Join(pos[1:], " ")
	case v == VerbReregister && (cmd.Group != "" || cmd.List):
		if len(pos) > 0 || (cmd.Group != "" && cmd.List) {
			return Command{}, usage("Name a group or list users, not both.")
		}
	case v == VerbReregister && (len(pos) > 1 || strings.ContainsAny(strings.Join(pos, ""), ",;")):
		refs, n, err := ParseUserList(strings.Join(pos, " "))
		if err != nil {
			return Command{}, &UsageError{Msg: err.Error(), Verb: v}
		}
		cmd.Users, cmd.PasteChars = refs, n
	case spec.user:
		if len(pos) == 0 {
			return Command{}, usage("Name a user by UPN, mail or object id.")
		}
		if len(pos) > 1 {
			return Command{}, usage("Name one user.")
		}
		ref, err := actions.ParseUserRef(pos[0])
		if err != nil {
			ue := &UsageError{Msg: Capitalize(err.Error()) + ".", Verb: v}
			if bareName.MatchString(pos[0]) && !strings.Contains(pos[0], "@") {
				ue.Bare = pos[0]
			}
			return Command{}, ue
		}
		cmd.User = ref
	case spec.id:
		// An id read aloud comes in groups (approvals.SpokenID): its words are one id.
		if len(pos) == 0 || len(pos) > maxIDGroups {
			return Command{}, usage("Give one request id.")
		}
		id := strings.ToUpper(strings.Join(pos, ""))
		if !ValidRequestID(id) {
			return Command{}, usage(fmt.Sprintf("%q is not a request id.", Clip(strings.Join(pos, " "), 40)))
		}
		cmd.ID = id
	default:
		if len(pos) > 0 {
			return Command{}, usage(fmt.Sprintf("%s takes no arguments.", v))
		}
	}
	if cmd.Verb == VerbSignins && cmd.Last == 0 {
		cmd.Last = DefaultSignins
	}
	if cmd.Verb == VerbTAP && cmd.Lifetime == 0 {
		cmd.Lifetime = actions.DefaultTAPLifetime
	}
	if cmd.Verb == VerbAudit && cmd.Days == 0 {
		cmd.Days = DefaultDays
	}
	return cmd, nil
}

// ParseUserList reads a pasted list of users (white space, new lines, commas or
// semicolons between them), as typed after reregister or into a form's users field,
// and returns them with the list's length in characters, for PasteLimit.
func ParseUserList(s string) ([]actions.UserRef, int, error) {
	var out []actions.UserRef
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) }) {
		ref, err := actions.ParseUserRef(f)
		if err != nil {
			return nil, 0, fmt.Errorf("%q in the list: %s.", Clip(f, 40), err.Error())
		}
		out = append(out, ref)
	}
	return out, utf8.RuneCountInString(strings.TrimSpace(s)), nil
}

// maxCommand is the longest command Parse reads, in bytes.
const maxCommand = 4000

// PasteLimit is how many characters a pasted list of users may take on a platform:
// Slack's bound for a typed field (3000, as a modal's plain_text_input allows), and
// the longest command mfadesk reads elsewhere. PasteFits says how many object ids
// that is (36 characters and a separator each); shorter UPNs fit more.
func PasteLimit(p Platform) int {
	if p == PlatformSlack {
		return 3000
	}
	return maxCommand
}

// PasteFits is how many object ids a pasted list holds on a platform.
func PasteFits(p Platform) int { return PasteLimit(p) / 37 }

// maxIDGroups is how many words a request id may be typed in: "R-" and seven groups
// of four, as approvals.SpokenID shows it.
const maxIDGroups = 8

// ValidRequestID accepts the shape of a request id as chat carries it (typed, or in
// a button's value or a form's metadata): 4 to 40 upper-case letters, digits and
// dashes. It is only a bound on a lookup key; approvals.ParseID decides what an id is
// when the request is looked up.
func ValidRequestID(s string) bool {
	if len(s) < 4 || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// tokenize splits on white space, honouring "double", 'single' and the curly quotes
// that Slack and Teams clients substitute as people type.
func tokenize(s string) ([]string, error) {
	if len(s) > maxCommand {
		return nil, fmt.Errorf("command too long (at most %d characters; for more users, use reregister --group)", maxCommand)
	}
	var toks []string
	var cur strings.Builder
	inTok := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote || (quote == '“' && r == '”') || (quote == '‘' && r == '’') {
				quote = 0
				continue
			}
			cur.WriteRune(r)
		case r == '"' || r == '“' || r == '‘':
			quote = r
			inTok = true
		case unicode.IsSpace(r) || r == '\u00a0':
			if inTok {
				toks = append(toks, cur.String())
				cur.Reset()
				inTok = false
			}
		case r == '—' && !inTok:
			// Some clients turn a typed "--" into an em dash.
			cur.WriteString("--")
			inTok = true
		default:
			cur.WriteRune(r)
			inTok = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed quote")
	}
	if inTok {
		toks = append(toks, cur.String())
	}
	return toks, nil
}

// quoteAll quotes the tokens that need it, so a suggested command can be typed back.
func quoteAll(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		if t == "" || strings.ContainsAny(t, " \t\"'") {
			t = `"` + strings.ReplaceAll(t, `"`, "") + `"`
		}
		out[i] = t
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Clip keeps n code points of s and marks a cut with "…" (the rule is actions/clip's);
// messages everywhere clip through it.
func Clip(s string, n int) string { return textclip.Runes(s, n+1) }

// Capitalize upper-cases the first code point of s (a sentence made from a lower-case
// fragment).
func Capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// parseLifetime reads tap's --lifetime: a number with m, h or d ("90m", "2h", "7d"),
// or a Go duration ("1h30m"), in Graph's range.
func parseLifetime(s string) (time.Duration, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	var d time.Duration
	if n, err := strconv.Atoi(strings.TrimSuffix(t, "d")); err == nil && strings.HasSuffix(t, "d") && n > 0 && n <= 366 {
		d = time.Duration(n) * 24 * time.Hour
	} else if v, err := time.ParseDuration(t); err == nil {
		d = v
	} else {
		return 0, fmt.Errorf("--lifetime %q is not a duration; use e.g. 1h, 90m or 7d.", Clip(s, 20))
	}
	if err := actions.CheckTAPLifetime(d); err != nil {
		return 0, fmt.Errorf("--lifetime: %s.", actions.Explain(err))
	}
	return d, nil
}
