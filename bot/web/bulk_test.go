package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
)

// press clicks Continue or Stop on the card of request id, as the page does.
func (c *chat) press(persona, id, which string) bot.Message {
	c.t.Helper()
	card := cardOf(c.state(persona), id)
	if card == nil {
		c.t.Fatalf("no card for %s", id)
	}
	var m bot.Message
	c.call(http.MethodPost, "/api/decide", map[string]any{"persona": persona, "card_id": card.ID, "request_id": id, "bulk": which}, &m)
	return m
}

// TestBulkReregisterFromThePane: the demo's group of affected users, end to end in
// the web chat: the form, the card's counts and sample, the whole list in show, the
// canary, Continue refused to strangers and accepted from the requester, the run.
func TestBulkReregisterFromThePane(t *testing.T) {
	for _, end := range []string{"continue", "stop"} {
		t.Run(end, func(t *testing.T) {
			c := newChat(t)
			var group []string
			c.fake.Tenant(func(tn *graphtest.Tenant) {
				gid := tn.GroupID("mfa-rollback-affected")
				for _, u := range tn.Users {
					for _, g := range u.MemberOf {
						if g == gid {
							group = append(group, u.ID())
						}
					}
				}
			})
			entry := c.openForm("hana", "reregister --group mfa-rollback-affected")
			form := c.state("hana").Conversation
			if w := form[len(form)-1].Message.Form.Warning; !strings.Contains(w, "4000 characters") || !strings.Contains(w, "--group") {
				t.Errorf("the form does not say how many users fit: %q", w)
			}
			m := c.submit(validForm("hana", entry))
			if m.Refusal || m.RequestID == "" {
				t.Fatalf("submit: %+v", m)
			}
			const counts = "5 eligible; 1 skipped: no phone, Authenticator or OATH method; 2 skipped: protected target"
			if !strings.Contains(m.Text, counts) {
				t.Fatalf("filed answer %q lacks the counts %q", m.Text, counts)
			}
			id := m.RequestID
			// A set has no one manager: asked for one, the pane says so before any lookup.
			if ans := c.command("hana", "attest "+id); !ans.Refusal || !strings.Contains(ans.Text, "names 5 users") {
				t.Fatalf("attest on a bulk request: %+v", ans)
			}
			card := cardOf(c.state("alex"), id)
			if card == nil || !strings.Contains(flatten(card.Message), counts) || !strings.Contains(flatten(card.Message), "show "+id) ||
				!strings.Contains(flatten(card.Message), "mfadesk approvals show --results "+id) {
				t.Fatalf("card: %+v", card)
			}
			shown := c.command("alex", "show "+id)
			if !hasSection(shown, "Eligible users (5)") || !hasSection(shown, "Skipped") {
				t.Fatalf("show lists no users: %+v", shown)
			}
			c.decide("alex", id, true, "")
			c.svc.WaitBulk()
			r, _ := c.svc.Get(t.Context(), id)
			if r.State != approvals.StatePaused || len(r.Steps) != 2 {
				t.Fatalf("after the canary: %s with %d results", r.State, len(r.Steps))
			}
			card = cardOf(c.state("alex"), id)
			if len(card.Message.Buttons) != 2 || card.Message.Buttons[0].Kind != "continue" || card.Message.Buttons[1].Kind != "stop" {
				t.Fatalf("paused card buttons: %+v", card.Message.Buttons)
			}
			// A press sent from anything but this request's card changes nothing.
			var wrong bot.Message
			c.call(http.MethodPost, "/api/decide", map[string]any{"persona": "hana", "card_id": "card-of-something-else", "request_id": id, "bulk": end}, &wrong)
			if !wrong.Refusal || !strings.Contains(wrong.Text, "not on the card of this request") {
				t.Fatalf("press from another card: %+v", wrong)
			}
			// Nora has no rights; Sam is an approver who did not approve this one.
			for _, stranger := range []string{"nora", "sam"} {
				if ans := c.press(stranger, id, end); !ans.Refusal || strings.Contains(ans.Text, "\n") {
					t.Fatalf("%s pressed %s: %+v", stranger, end, ans)
				}
			}
			c.svc.WaitBulk()
			if r, _ := c.svc.Get(t.Context(), id); r.State != approvals.StatePaused {
				t.Fatalf("after strangers pressed: %s", r.State)
			}
			if ans := c.press("hana", id, end); ans.Refusal {
				t.Fatalf("the requester pressed %s: %+v", end, ans)
			}
			c.svc.WaitBulk()
			r, _ = c.svc.Get(t.Context(), id)
			res, err := c.svc.BulkResults(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			want, wantResults := approvals.StateSucceeded, 5
			if end == "stop" {
				want, wantResults = approvals.StateStopped, 2
			}
			if r.State != want || len(res) != wantResults {
				t.Fatalf("end: %s with %d results (%s); want %s with %d", r.State, len(res), r.Error, want, wantResults)
			}
			// Users without a result still have every method: nothing touched them.
			ran := map[string]bool{}
			for _, x := range res {
				ran[x.ObjectID] = true
			}
			eligible := map[string]bool{}
			for _, u := range r.Bulk.Users {
				eligible[u.ObjectID] = true
			}
			c.fake.Tenant(func(tn *graphtest.Tenant) {
				for _, oid := range group {
					u := tn.FindUser(oid)
					if !eligible[oid] {
						continue
					}
					if left := len(u.Methods); ran[oid] == (left > 1) {
						t.Errorf("%s: run %v, %d methods left", u.UPN(), ran[oid], left)
					}
				}
			})
			if end == "continue" && !strings.Contains(flatten(cardOf(c.state("hana"), id).Message), "5 of 5 users: 5 done") {
				t.Errorf("the final card lacks the counts: %s", flatten(cardOf(c.state("hana"), id).Message))
			}
		})
	}
}

// flatten is a message's text, facts and sections as one string, for searching.
func flatten(m bot.Message) string {
	var b strings.Builder
	b.WriteString(m.Title + "\n" + m.Text + "\n")
	for _, s := range m.Sections {
		b.WriteString(s.Heading + "\n" + s.Text + "\n" + s.Note + "\n")
		for _, f := range s.Facts {
			b.WriteString(f.Label + ": " + f.Value + "\n")
		}
		if s.Table != nil {
			for _, r := range s.Table.Rows {
				b.WriteString(strings.Join(r, " | ") + "\n")
			}
		}
	}
	return b.String()
}

// TestBulkStaleUserThroughChat: the approved snapshot binds each user: a method added
// to one user after filing fails that user only (stale, nothing deleted); the run
// ends failed with the counts, the others re-registered.
func TestBulkStaleUserThroughChat(t *testing.T) {
	c := newChat(t)
	entry := c.openForm("hana", "reregister --group mfa-rollback-affected")
	m := c.submit(validForm("hana", entry))
	if m.Refusal {
		t.Fatalf("submit: %+v", m)
	}
	id := m.RequestID
	r, _ := c.svc.Get(t.Context(), id)
	stale := r.Bulk.Users[len(r.Bulk.Users)-1] // not a canary user
	var before int
	c.fake.Tenant(func(tn *graphtest.Tenant) {
		u := tn.FindUser(stale.ObjectID)
		u.Methods = append(u.Methods, map[string]any{
			"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "3179e48a-750b-4051-897c-87b9720928f7",
			"phoneNumber": "+1 4255550199", "phoneType": "mobile", "smsSignInState": "notConfigured"})
		before = len(u.Methods)
	})
	c.decide("alex", id, true, "")
	c.svc.WaitBulk()
	if ans := c.press("alex", id, "continue"); ans.Refusal {
		t.Fatalf("continue: %+v", ans)
	}
	c.svc.WaitBulk()
	r, _ = c.svc.Get(t.Context(), id)
	if r.State != approvals.StateFailed || r.BulkRun == nil || r.BulkRun.Done != 4 || r.BulkRun.Stale != 1 {
		t.Fatalf("end: %s %+v (%s)", r.State, r.BulkRun, r.Error)
	}
	res, _ := c.svc.BulkResults(t.Context(), id)
	for _, x := range res {
		if (x.ObjectID == stale.ObjectID) != (x.Outcome == approvals.BulkStale) {
			t.Errorf("%s: %s", x.UPN, x.Outcome)
		}
	}
	c.fake.Tenant(func(tn *graphtest.Tenant) {
		if n := len(tn.FindUser(stale.ObjectID).Methods); n != before {
			t.Errorf("the stale user has %d methods, want all %d kept", n, before)
		}
	})
	if s := flatten(cardOf(c.state("hana"), id).Message); !strings.Contains(s, "5 of 5 users: 4 done, 0 failed, 1 stale") {
		t.Errorf("final card:\n%s", s)
	}
}

// TestBulkListFieldInThePane: reregister --list opens the form with a users field
// bounded by the web chat's limit; a list over it is refused on that field, nothing
// filed; a list within it is filed with the counts.
func TestBulkListFieldInThePane(t *testing.T) {
	c := newChat(t)
	var upns []string
	c.fake.Tenant(func(tn *graphtest.Tenant) {
		gid := tn.GroupID("mfa-rollback-affected")
		for _, u := range tn.Users {
			for _, g := range u.MemberOf {
				if g == gid {
					upns = append(upns, u.UPN())
				}
			}
		}
	})
	entry := c.openForm("hana", "reregister --list")
	conv := c.state("hana").Conversation
	if f := conv[len(conv)-1].Message.Form; f.Users == nil || f.Users.Max != 4000 {
		t.Fatalf("form: %+v", f)
	}
	for _, tc := range []struct {
		name, users, err string
	}{
		{"over the limit", strings.Repeat("5a1b0001-0000-4000-8000-000000000002\n", 109), "at most 4000 characters in the demo"},
		{"not a user", "a@b.co ../x", `"../x" in the list`},
		{"empty", " \n ", "Paste at least one user"},
	} {
		f := validForm("hana", entry)
		f.Users = tc.users
		var m bot.Message
		c.call(http.MethodPost, "/api/submit", f, &m)
		if !m.Refusal || !strings.Contains(m.Errors["users"], tc.err) || strings.Contains(m.Errors["users"], "\n") {
			t.Errorf("%s: %+v", tc.name, m)
		}
	}
	if rs, _ := c.svc.OpenRequests(t.Context()); len(rs) != 0 {
		t.Fatalf("%d requests filed by refused forms", len(rs))
	}
	f := validForm("hana", entry)
	f.Users = strings.Join(upns, "\n")
	var m bot.Message
	c.call(http.MethodPost, "/api/submit", f, &m)
	if m.Refusal || !strings.Contains(m.Text, "5 eligible; 1 skipped: no phone, Authenticator or OATH method; 2 skipped: protected target") {
		t.Fatalf("filed: %+v", m)
	}
}
