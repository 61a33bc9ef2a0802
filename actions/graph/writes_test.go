package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// approvedSnapshot is what a request records when it is filed: the methods the approver
// sees, without the password (as the request flow files it).
func approvedSnapshot(t *testing.T, c *graph.Client, id string) []actions.MethodRef {
	t.Helper()
	ev, err := c.Gather(context.Background(), ref(t, id), actions.Query{Sources: actions.SourceMethods})
	if err != nil {
		t.Fatal(err)
	}
	var out []actions.MethodRef
	for _, m := range actions.Snapshot(ev.Methods) {
		if m.Type != actions.MethodPassword {
			out = append(out, m)
		}
	}
	return out
}

// deletes lists the DELETE requests the fake received since index from, as
// "collection/id".
func deletes(fake *graphtest.Server, from int) []string {
	var out []string
	for _, r := range fake.Records()[from:] {
		if r.Method == http.MethodDelete {
			parts := strings.Split(r.Path, "/")
			out = append(out, parts[len(parts)-2]+"/"+parts[len(parts)-1])
		}
	}
	return out
}

func methodTypes(fake *graphtest.Server, local string) []string {
	var out []string
	fake.Tenant(func(tn *graphtest.Tenant) {
		for _, m := range tn.FindUser(tn.Email(local)).Methods {
			out = append(out, strings.TrimPrefix(m["@odata.type"].(string), "#microsoft.graph."))
		}
	})
	return out
}

func outcomes(r actions.Result) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.String())
	}
	return out
}

const (
	mobileID = "3179e48a-750b-4051-897c-87b9720928f7"
	altID    = "b6332ec1-7057-4abe-9331-3d72feddfe41"
)

func TestRevokeSessions(t *testing.T) {
	c, fake := fakeTenant(t, nil, graph.Config{})
	id := idOf(t, fake, "fiona.failures")
	start := time.Now().Add(-time.Second)
	res, err := c.RevokeSessions(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Summary, "everywhere") || !strings.Contains(res.Summary, "broader than") || len(res.Steps) != 1 || res.Steps[0].Outcome != actions.OutcomeDone {
		t.Errorf("result = %+v", res)
	}
	u, err := c.User(context.Background(), ref(t, id))
	if err != nil {
		t.Fatal(err)
	}
	if u.SessionsValidFrom.Before(start) {
		t.Errorf("sessions valid from %s, want reset to now", u.SessionsValidFrom)
	}
}

// TestReregisterOrder: alternate phones before the mobile, the default method last, then
// sessions revoked; the fake refuses any other order as Graph does.
func TestReregisterOrder(t *testing.T) {
	tests := []struct {
		user  string
		order []string
	}{
		// Default "push": the Authenticator goes last.
		{"ada.admin", []string{"phoneMethods/" + mobileID, "microsoftAuthenticatorMethods/c6eaa7bd-9e2a-404a-afb9-69ad37d0ed76"}},
		// Default "oath" (software token); the alternate mobile before the mobile.
		{"olive.optin", []string{"phoneMethods/" + altID, "phoneMethods/" + mobileID, "softwareOathMethods/d2f5b268-4ae5-4cf6-9964-145d8358b821"}},
		{"mfatest2", []string{"microsoftAuthenticatorMethods/6ce10fca-fb88-4109-95e4-66d27c3e9f6d"}},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			c, fake := fakeTenant(t, nil, graph.Config{})
			id := idOf(t, fake, tt.user)
			snap := approvedSnapshot(t, c, id)
			from := len(fake.Records())
			res, err := c.Reregister(context.Background(), id, snap, nil)
			if err != nil {
				t.Fatalf("%v\n%s", err, strings.Join(outcomes(res), "\n"))
			}
			if got := deletes(fake, from); strings.Join(got, " ") != strings.Join(tt.order, " ") {
				t.Errorf("deleted %v, want %v", got, tt.order)
			}
			if got := methodTypes(fake, tt.user); len(got) != 1 || got[0] != "passwordAuthenticationMethod" {
				t.Errorf("left %v, want only the password", got)
			}
			last := res.Steps[len(res.Steps)-1]
			if last.Action != "revoke sessions" || last.Outcome != actions.OutcomeDone || res.Failed() {
				t.Errorf("steps %v", outcomes(res))
			}
			for _, s := range res.Steps {
				if s.Method.Type == actions.MethodPhone && strings.Contains(s.Method.Label, "7700900") {
					t.Errorf("step shows a full phone number: %s", s)
				}
			}
			if !strings.Contains(res.Summary, "everywhere") {
				t.Errorf("summary = %q", res.Summary)
			}
		})
	}
}

// TestReregisterDefaultUnknown: with neither the sign-in preferences nor the report
// readable, the default is found by Graph's refusal and deleted last.
func TestReregisterDefaultUnknown(t *testing.T) {
	c, fake := fakeTenant(t, nil, graph.Config{})
	id := idOf(t, fake, "ada.admin")
	snap := approvedSnapshot(t, c, id)
	fake.SetFaults(graphtest.Faults{Forbidden: []string{"/signInPreferences", "/reports/"}})
	from := len(fake.Records())
	res, err := c.Reregister(context.Background(), id, snap, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(outcomes(res), "\n"))
	}
	got := deletes(fake, from)
	if len(got) != 3 || !strings.HasPrefix(got[2], "microsoftAuthenticatorMethods/") {
		t.Errorf("deletes %v: want the Authenticator refused as default, then deleted last", got)
	}
}

// TestReregisterStale: a method the approver did not see makes the request stale, and
// nothing is deleted.
func TestReregisterStale(t *testing.T) {
	c, fake := fakeTenant(t, nil, graph.Config{})
	id := idOf(t, fake, "casey.ca")
	snap := approvedSnapshot(t, c, id)
	fake.Tenant(func(tn *graphtest.Tenant) {
		u := tn.FindUser(id)
		u.Methods = append(u.Methods, map[string]any{"@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
			"id": altID, "phoneNumber": "+1 2065550100", "phoneType": "alternateMobile", "smsSignInState": "notSupported"})
	})
	from := len(fake.Records())
	res, err := c.Reregister(context.Background(), id, snap, nil)
	if actions.KindOf(err) != actions.KindStale {
		t.Fatalf("err = %v, want stale", err)
	}
	if !strings.Contains(actions.Explain(err), "alternate mobile +1 206•••••00") || !strings.Contains(res.Summary, "nothing was deleted") {
		t.Errorf("explain %q, summary %q", actions.Explain(err), res.Summary)
	}
	if d := deletes(fake, from); len(d) != 0 {
		t.Errorf("deleted %v on a stale snapshot", d)
	}
	// A changed number behind the same method id is stale too.
	snap2 := approvedSnapshot(t, c, id)
	fake.Tenant(func(tn *graphtest.Tenant) { tn.FindUser(id).Methods[1]["phoneNumber"] = "+1 4255550111" })
	if _, err := c.Reregister(context.Background(), id, snap2, nil); actions.KindOf(err) != actions.KindStale {
		t.Errorf("changed number: err = %v, want stale", err)
	}
}

// TestReregisterResume: a run that stops at a failure records each method's outcome; a
// retry with the same approval carries on where it stopped.
func TestReregisterResume(t *testing.T) {
	c, fake := fakeTenant(t, nil, graph.Config{})
	id := idOf(t, fake, "olive.optin")
	snap := approvedSnapshot(t, c, id)
	fake.SetFaults(graphtest.Faults{Forbidden: []string{"/phoneMethods/" + mobileID}})
	res, err := c.Reregister(context.Background(), id, snap, nil)
	if err == nil {
		t.Fatal("want the run to stop at the refused deletion")
	}
	want := []actions.Outcome{actions.OutcomeDeleted, actions.OutcomeFailed, actions.OutcomeNotTried, actions.OutcomeNotTried}
	if len(res.Steps) != len(want) {
		t.Fatalf("steps %v", outcomes(res))
	}
	for i, s := range res.Steps {
		if s.Outcome != want[i] {
			t.Errorf("step %d = %s, want %s", i, s, want[i])
		}
	}
	if !strings.Contains(res.Steps[1].Reason, "UserAuthenticationMethod.ReadWrite.All") {
		t.Errorf("failure reason = %q", res.Steps[1].Reason)
	}

	fake.SetFaults(graphtest.Faults{})
	res, err = c.Reregister(context.Background(), id, snap, nil)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, strings.Join(outcomes(res), "\n"))
	}
	got := map[string]actions.Outcome{}
	for _, s := range res.Steps {
		got[s.Method.ID+s.Action] = s.Outcome
	}
	if got[altID+"delete method"] != actions.OutcomeAlreadyGone || got[mobileID+"delete method"] != actions.OutcomeDeleted ||
		got["revoke sessions"] != actions.OutcomeDone {
		t.Errorf("resume steps %v", outcomes(res))
	}
	if m := methodTypes(fake, "olive.optin"); len(m) != 1 {
		t.Errorf("left %v", m)
	}
}

// TestReregisterDeletedMeanwhile: a 404 on DELETE (deleted by someone else after the
// list) counts as done.
func TestReregisterDeletedMeanwhile(t *testing.T) {
	tenant := graphtest.MustTenant("demo")
	fake := graphtest.NewServer(tenant)
	const authID = "c6eaa7bd-9e2a-404a-afb9-69ad37d0ed76"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/phoneMethods/") {
			// The user deletes their Authenticator while the mobile phone is being deleted.
			fake.Tenant(func(tn *graphtest.Tenant) {
				u := tn.FindUser(tn.Email("ada.admin"))
				for i, m := range u.Methods {
					if m["id"] == authID {
						u.Methods = append(u.Methods[:i:i], u.Methods[i+1:]...)
						break
					}
				}
			})
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := graph.New(graph.Config{BaseURL: srv.URL + "/v1.0"})
	if err != nil {
		t.Fatal(err)
	}
	id := idOf(t, fake, "ada.admin")
	res, err := c.Reregister(context.Background(), id, approvedSnapshot(t, c, id), nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(outcomes(res), "\n"))
	}
	if s := res.Steps[1]; s.Method.ID != authID || s.Outcome != actions.OutcomeAlreadyGone {
		t.Errorf("steps %v", outcomes(res))
	}
}

// logBuffer captures everything the client logs.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// TestTAPNeverLogged: the pass is returned once and reaches no log, however the TAP
// value is formatted.
func TestTAPNeverLogged(t *testing.T) {
	log, buf := logBuffer()
	c, fake := fakeTenant(t, nil, graph.Config{Logger: log})
	// A throttled first attempt makes the client log more than on the happy path.
	fake.SetFaults(graphtest.Faults{ThrottleFirst: 1, ThrottleOnly: []string{"temporaryAccessPassMethods"}, RetryAfter: 0})
	id := idOf(t, fake, "paul.password")
	tap, err := c.IssueTAP(context.Background(), id, time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	pass := tap.Reveal()
	if len(pass) < 8 || tap.Lifetime != time.Hour || !tap.UsableOnce || tap.MethodID == "" {
		t.Fatalf("tap = %s", tap)
	}
	log.Info("issued", "tap", tap)
	slog.New(slog.NewTextHandler(buf, nil)).Info("issued", "tap", tap)
	js, _ := json.Marshal(tap)
	for name, s := range map[string]string{
		"log": buf.String(), "%v": fmt.Sprintf("%v", tap), "%+v": fmt.Sprintf("%+v", tap), "%#v": fmt.Sprintf("%#v", tap),
		"%s": fmt.Sprint(tap), "json": string(js),
	} {
		if strings.Contains(s, pass) {
			t.Errorf("%s shows the pass: %s", name, s)
		}
		if !strings.Contains(s, "redacted") {
			t.Errorf("%s does not say the pass is redacted: %s", name, s)
		}
	}
	if !strings.Contains(buf.String(), "issued temporary access pass") {
		t.Error("the client did not log the issuance at all")
	}
	// Graph keeps no copy of the pass: listing methods shows it as null.
	ev, err := c.Gather(context.Background(), ref(t, id), actions.Query{Sources: actions.SourceMethods})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ev.Methods {
		if strings.Contains(fmt.Sprintf("%+v", m), pass) {
			t.Errorf("the pass is readable later: %+v", m)
		}
	}
}

// TestThrottledPostResendsValidGzip is a middleware-order defect of the Graph SDK's
// retry and compression handlers: a POST retried after 429 must be resent as valid gzip JSON.
func TestThrottledPostResendsValidGzip(t *testing.T) {
	tests := []struct {
		name string
		path string
		call func(c *graph.Client, id string) error
	}{
		{"temporary access pass", "/authentication/temporaryAccessPassMethods", func(c *graph.Client, id string) error {
			_, err := c.IssueTAP(context.Background(), id, time.Hour, true)
			return err
		}},
		{"checkMemberGroups", "/checkMemberGroups", func(c *graph.Client, id string) error {
			_, err := c.MemberGroups(context.Background(), id, []string{"0c7a5e1e-0001-4000-8000-000000000001"})
			return err
		}},
		{"revoke sessions", "/revokeSignInSessions", func(c *graph.Client, id string) error {
			_, err := c.RevokeSessions(context.Background(), id)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fake := fakeTenant(t, nil, graph.Config{})
			fake.SetFaults(graphtest.Faults{ThrottleFirst: 1, ThrottleOnly: []string{tt.path}, RetryAfter: 0})
			if err := tt.call(c, idOf(t, fake, "olive.optin")); err != nil {
				t.Fatal(err)
			}
			var posts []graphtest.RequestRecord
			for _, r := range fake.Records() {
				if r.Method == http.MethodPost && strings.HasSuffix(r.Path, tt.path) {
					posts = append(posts, r)
				}
			}
			if len(posts) != 2 {
				t.Fatalf("%d POSTs, want the throttled one and its retry", len(posts))
			}
			if posts[1].RetryAttempt != "1" {
				t.Errorf("second POST has Retry-Attempt %q", posts[1].RetryAttempt)
			}
			for i, p := range posts {
				if !p.BodyValid || (len(p.Body) > 0 && !strings.EqualFold(p.ContentEncoding, "gzip")) {
					t.Errorf("POST %d: encoding %q, valid %v, body %q", i, p.ContentEncoding, p.BodyValid, p.Body)
				}
				if i > 0 && !bytes.Equal(p.Body, posts[0].Body) {
					t.Errorf("retried body %q differs from %q", p.Body, posts[0].Body)
				}
			}
		})
	}
}
