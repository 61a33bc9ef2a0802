package chat

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Command
		wantErr string // substring of the usage error
	}{
		{in: "", want: Command{Verb: VerbHelp}},
		{in: "/mfa", want: Command{Verb: VerbHelp}},
		{in: "help", want: Command{Verb: VerbHelp}},
		{in: "help signins", want: Command{Verb: VerbHelp, Topic: "signins"}},
		{in: "/mfa user mfatest2@contoso.com", want: Command{Verb: VerbUser, User: actions.UserRef{Kind: actions.RefUPN, Value: "mfatest2@contoso.com"}}},
		{in: "USER MFATest2@Contoso.com", want: Command{Verb: VerbUser, User: actions.UserRef{Kind: actions.RefUPN, Value: "MFATest2@Contoso.com"}}},
		{in: "user <mailto:a.b@contoso.com|a.b@contoso.com>", want: Command{Verb: VerbUser, User: actions.UserRef{Kind: actions.RefUPN, Value: "a.b@contoso.com"}}},
		{in: "methods 5A1B0001-0000-4000-8000-000000000002", want: Command{Verb: VerbMethods, User: actions.UserRef{Kind: actions.RefObjectID, Value: "5a1b0001-0000-4000-8000-000000000002"}}},
		{in: "signins a@b.co", want: Command{Verb: VerbSignins, User: actions.UserRef{Kind: actions.RefUPN, Value: "a@b.co"}, Last: DefaultSignins}},
		{in: "signins a@b.co --last 20 --failed", want: Command{Verb: VerbSignins, User: actions.UserRef{Kind: actions.RefUPN, Value: "a@b.co"}, Last: 20, Failed: true}},
		{in: "signins --failed a@b.co --last=5", want: Command{Verb: VerbSignins, User: actions.UserRef{Kind: actions.RefUPN, Value: "a@b.co"}, Last: 5, Failed: true}},
		{in: "signins a@b.co —last 3", want: Command{Verb: VerbSignins, User: actions.UserRef{Kind: actions.RefUPN, Value: "a@b.co"}, Last: 3}},
		{in: "audit a@b.co --days 14", want: Command{Verb: VerbAudit, User: actions.UserRef{Kind: actions.RefUPN, Value: "a@b.co"}, Days: 14}},
		{in: "audit a@b.co", want: Command{Verb: VerbAudit, User: actions.UserRef{Kind: actions.RefUPN, Value: "a@b.co"}, Days: DefaultDays}},
		{in: "show r-7kq2m4xd", want: Command{Verb: VerbShow, ID: "R-7KQ2M4XD"}},
		{in: "pending", want: Command{Verb: VerbPending}},
		{in: "reregister “o'neil@contoso.com”", want: Command{Verb: VerbReregister, User: actions.UserRef{Kind: actions.RefUPN, Value: "o'neil@contoso.com"}}},
		{in: "reregister --group mfa-rollback-affected", want: Command{Verb: VerbReregister, Group: "mfa-rollback-affected"}},
		{in: "reregister --group=\"MFA rollback\"", want: Command{Verb: VerbReregister, Group: "MFA rollback"}},
		{in: "reregister a@b.co\nc@d.co, 5A1B0001-0000-4000-8000-000000000002", want: Command{Verb: VerbReregister, PasteChars: 51, Users: []actions.UserRef{
			{Kind: actions.RefUPN, Value: "a@b.co"}, {Kind: actions.RefUPN, Value: "c@d.co"}, {Kind: actions.RefObjectID, Value: "5a1b0001-0000-4000-8000-000000000002"}}}},
		{in: "reregister a@b.co --group g", wantErr: "Name a group or list users, not both."},
		{in: "reregister --list", want: Command{Verb: VerbReregister, List: true}},
		{in: "reregister --list --group g", wantErr: "Name a group or list users, not both."},
		{in: "reregister --group", wantErr: "--group needs a group's name or object id."},
		{in: "reregister a@b.co ../x", wantErr: `"../x" in the list`},
		{in: "revoke a@b.co c@d.co", wantErr: "Name one user."},
		{in: "reregister " + strings.Repeat("a@b.co ", 600), wantErr: "at most 4000 characters"},

		{in: "frobnicate x", wantErr: `Unknown verb "frobnicate"`},
		{in: "user", wantErr: "Name a user by UPN, mail or object id. Usage: /mfa user <user>"},
		{in: "user a@b.co c@d.co", wantErr: "Name one user."},
		{in: "user 'a@b.co' or 1 eq 1", wantErr: "Name one user."},
		{in: "user a@b.co' or userType eq 'Guest", wantErr: "Name one user."},
		{in: "user ../../users", wantErr: "is not a UPN, mail address or object id"},
		{in: "user a@b.co%27", wantErr: "is not a UPN"},
		{in: "signins a@b.co --last 0", wantErr: "--last must be a whole number from 1 to 50"},
		{in: "signins a@b.co --last 51", wantErr: "--last must be a whole number from 1 to 50"},
		{in: "signins a@b.co --last", wantErr: "--last needs a number"},
		{in: "signins a@b.co --failed=yes", wantErr: "--failed takes no value"},
		{in: "audit a@b.co --days 31", wantErr: "--days must be a whole number from 1 to 30"},
		{in: "user a@b.co --days 3", wantErr: "user takes no flag --days"},
		{in: "pending now", wantErr: "pending takes no arguments"},
		{in: "show", wantErr: "Give one request id"},
		{in: "show <script>", wantErr: "is not a request id"},
		{in: `user "a@b.co`, wantErr: "unclosed quote"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				var ue *UsageError
				if !errors.As(err, &ue) {
					t.Fatalf("Parse(%q) err = %v, want a UsageError containing %q", tt.in, err, tt.wantErr)
				}
				if msg := ue.Text(PlatformSlack); !strings.Contains(msg, tt.wantErr) {
					t.Fatalf("Parse(%q) = %q, want it to contain %q", tt.in, msg, tt.wantErr)
				}
				if strings.Contains(ue.Text(PlatformSlack), "\n") {
					t.Fatalf("usage error is not one line: %q", ue.Text(PlatformSlack))
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestHelpCoversEveryVerb(t *testing.T) {
	m := Help("")
	for _, s := range verbs {
		if !strings.Contains(m.Text, string(s.verb)) {
			t.Errorf("help text lacks %s", s.verb)
		}
		one := Help(string(s.verb))
		if one.Refusal || !strings.Contains(one.Text, Usage(s.verb)) {
			t.Errorf("help %s = %q", s.verb, one.Text)
		}
	}
	if !Help("nope").Refusal {
		t.Error("help for an unknown verb should be a refusal")
	}
}

// FuzzParse: any input parses or yields a one-line usage error; never a panic, and a
// parsed user is always a shape that is safe in a URL path or OData literal.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"user a@b.co", "signins x@y.z --last 5 --failed", "audit 5a1b0001-0000-4000-8000-000000000002 --days=3", "show R-ABC", "user “a@b.co”", "—", `"`, "user a@b.co' or '1'='1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cmd, err := Parse(s)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) || strings.ContainsAny(ue.Text(PlatformTeams), "\n\r") {
				t.Fatalf("Parse(%q) gave %v", s, err)
			}
			return
		}
		if cmd.User.Value != "" && strings.ContainsAny(cmd.User.Value, " /\\?%\"()<>\n") {
			t.Fatalf("Parse(%q) accepted unsafe user %q", s, cmd.User.Value)
		}
	})
}

// The parse result says how the command is answered, so the adapters need not know
// the verbs: help at once, the request verbs through a form, the rest later.
func TestCommandAnswer(t *testing.T) {
	cases := []struct {
		in   string
		want Answer
	}{
		{"help", AnswerInline},
		{"help signins", AnswerInline},
		{"reregister a@b.co", AnswerForm},
		{"revoke a@b.co", AnswerForm},
		{"user a@b.co", AnswerLater},
		{"diagnose a@b.co", AnswerLater},
		{"pending", AnswerLater},
		{"show R-7KQ2M4XD", AnswerLater},
	}
	for _, c := range cases {
		cmd, err := Parse(c.in)
		if err != nil || cmd.Answer() != c.want {
			t.Errorf("Parse(%q).Answer() = %v (%v), want %v", c.in, cmd.Answer(), err, c.want)
		}
	}
	if n := len(Verbs()); n != len(verbs) || Verbs()[0] != VerbHelp {
		t.Errorf("Verbs() = %v", Verbs())
	}
}
