package bot_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
)

func TestClickCommand(t *testing.T) {
	const id = "R-DS7OXVBT5TAXQ3MZJ6KLPWN2YE"
	canon, err := approvals.ParseID(strings.ToLower(id[:len(id)-2]) + "AA")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		kind  bot.ButtonKind
		value string
		want  string // "" = refused
	}{
		{"file reregister", bot.ButtonFile, "reregister " + oidTarget, "reregister " + oidTarget},
		{"file revoke", bot.ButtonFile, "revoke mfatest2@contoso.example", "revoke mfatest2@contoso.example"},
		{"file a lookup", bot.ButtonFile, "diagnose " + oidTarget, ""},
		{"file a cancel", bot.ButtonFile, "cancel " + canon, ""},
		{"file two users", bot.ButtonFile, "revoke a@b.example c@d.example", ""},
		{"file junk", bot.ButtonFile, "<script>", ""},
		{"cancel", bot.ButtonCancel, canon, "cancel " + canon},
		{"cancel spoken lower case", bot.ButtonCancel, strings.ToLower(approvals.SpokenID(canon)), "cancel " + canon},
		{"cancel with a verb", bot.ButtonCancel, "approve " + canon, ""},
		{"cancel junk", bot.ButtonCancel, "R-1", ""},
		{"approve is not a command button", bot.ButtonApprove, canon, ""},
		{"unknown kind", "delete", canon, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bot.ClickCommand(tc.kind, tc.value)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("ClickCommand(%s, %q) = %q, want refused", tc.kind, tc.value, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ClickCommand(%s, %q) = %q, %v; want %q", tc.kind, tc.value, got, err, tc.want)
			}
		})
	}
}

// TestParseSpokenID: a request id typed in the groups it is read aloud in is one id.
func TestParseSpokenID(t *testing.T) {
	const id = "R-DS7OXVBT5TAXQ3MZJ6KLPWN2YA"
	for _, in := range []string{
		"cancel " + approvals.SpokenID(id),
		"show " + strings.ToLower(approvals.SpokenID(id)),
		"cancel DS7O XVBT 5TAX Q3MZ J6KL PWN2 YA",
	} {
		cmd, err := bot.Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got, err := approvals.ParseID(cmd.ID); err != nil || got != id {
			t.Errorf("Parse(%q).ID = %q → %q, %v; want %s", in, cmd.ID, got, err, id)
		}
	}
	if _, err := bot.Parse("show A B C D E F G H I"); err == nil || !strings.Contains(err.Error(), "one request id") {
		t.Errorf("nine words taken as an id: %v", err)
	}
}

// TestDiagnoseFileButton: a next step that is a request carries a File button whose
// command opens that request's form; other next steps carry none.
func TestDiagnoseFileButton(t *testing.T) {
	ev := actions.Evidence{User: actions.User{ID: oidTarget, UPN: "mfatest2@contoso.example", DisplayName: "MFA Test"}}
	for _, verb := range []string{"reregister", "revoke", ""} {
		m := bot.RenderDiagnosis(ev, actions.Diagnosis{Next: actions.Recommendation{Text: "Do it.", Verb: verb}}, "web")
		if verb == "" {
			if len(m.Buttons) != 0 {
				t.Errorf("no request recommended, but buttons %+v", m.Buttons)
			}
			continue
		}
		if len(m.Buttons) != 1 || m.Buttons[0].Kind != bot.ButtonFile || m.Buttons[0].Label != "File a request" {
			t.Fatalf("%s: buttons %+v", verb, m.Buttons)
		}
		if got, err := bot.ClickCommand(m.Buttons[0].Kind, m.Buttons[0].Value); err != nil || got != verb+" "+oidTarget {
			t.Errorf("%s: button command %q, %v", verb, got, err)
		}
	}
}

// TestFileAndCancelClicks: the File button opens the same form as the typed verb, and
// the requester's confirmation carries a Cancel button that only the requester can
// use, through the same path as `cancel <id>`.
func TestFileAndCancelClicks(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	click := func(c bot.Caller, b bot.Button) bot.Message {
		text, err := bot.ClickCommand(b.Kind, b.Value)
		if err != nil {
			t.Fatalf("click %+v: %v", b, err)
		}
		return h.r.Handle(ctx, bot.Event{Caller: c, Text: text})
	}
	form := click(agent, bot.Button{Kind: bot.ButtonFile, Value: "reregister " + oidTarget})
	typed := h.r.Handle(ctx, bot.Event{Caller: agent, Text: "reregister mfatest2@contoso.example"})
	if form.Form == nil || typed.Form == nil || form.Form.Target != typed.Form.Target || form.Form.Action != typed.Form.Action {
		t.Fatalf("File click form %+v, typed form %+v", form.Form, typed.Form)
	}

	ack := h.r.Submit(ctx, agent, goodForm)
	if ack.Refusal {
		t.Fatal(ack.Text)
	}
	var cancel *bot.Button
	for i, b := range ack.Buttons {
		if b.Kind == bot.ButtonCancel {
			cancel = &ack.Buttons[i]
		}
	}
	if cancel == nil || cancel.Value != ack.RequestID {
		t.Fatalf("confirmation has no Cancel button for %s: %+v", ack.RequestID, ack.Buttons)
	}
	if !strings.Contains(cardText(ack), approvals.SpokenID(ack.RequestID)) {
		t.Errorf("confirmation does not show the id to read aloud: %s", cardText(ack))
	}
	if m := click(approver, *cancel); !m.Refusal {
		t.Fatalf("someone else cancelled with the button: %+v", m)
	}
	if m := click(agent, *cancel); m.Refusal || !strings.Contains(m.Text, "cancelled") {
		t.Fatalf("requester could not cancel with the button: %+v", m)
	}
	if m := h.r.Decide(ctx, approver, bot.Decision{RequestID: ack.RequestID, Approve: true, Card: h.n.card(ack.RequestID)}); !m.Refusal {
		t.Fatalf("approved a cancelled request: %+v", m)
	}
	if !strings.Contains(strings.Join(h.n.audit, "\n"), "cancel") {
		t.Errorf("cancel by button not audited: %v", h.n.audit)
	}
	if len(h.b.Writes()) != 0 {
		t.Fatalf("writes: %v", h.b.Writes())
	}
}

// FuzzClickCommand: whatever a client puts in a button, the command that comes out is
// a request form or a cancel of a well-formed id, never another verb.
func FuzzClickCommand(f *testing.F) {
	for _, s := range []string{"reregister " + oidTarget, "revoke a@b.example", "R-DS7OXVBT5TAXQ3MZJ6KLPWN2YA", "r-ds7o xvbt 5tax q3mz j6kl pwn2 ya", "user a@b.example", "cancel R-X; approve"} {
		f.Add("file", s)
		f.Add("cancel", s)
	}
	f.Fuzz(func(t *testing.T, kind, value string) {
		text, err := bot.ClickCommand(bot.ButtonKind(kind), value)
		if err != nil {
			return
		}
		cmd, err := bot.Parse(text)
		if err != nil {
			t.Fatalf("ClickCommand(%q, %q) = %q, which does not parse: %v", kind, value, text, err)
		}
		switch {
		case kind == string(bot.ButtonFile) && (cmd.Verb == bot.VerbReregister || cmd.Verb == bot.VerbRevoke):
		case kind == string(bot.ButtonCancel) && cmd.Verb == bot.VerbCancel:
			if id, err := approvals.ParseID(cmd.ID); err != nil || id != cmd.ID {
				t.Fatalf("ClickCommand(%q, %q) cancels a malformed id %q", kind, value, cmd.ID)
			}
		default:
			t.Fatalf("ClickCommand(%q, %q) = %q", kind, value, text)
		}
	})
}
