package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/web"
)

const demoDomain = "mfademo.example"

// demoRun is `mfadesk demo` running in this process, through run, as a user starts it.
type demoRun struct {
	t      *testing.T
	url    string
	token  string
	db     string
	stderr *lockedBuffer
	stop   func() // stops the demo and waits for it; the database is closed after
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var (
	demoURLLine = regexp.MustCompile(`open (http://127\.0\.0\.1:\d+/) in a browser`)
	demoDBLine  = regexp.MustCompile(`database: (\S+) `)
)

// startDemo runs `mfadesk demo --listen 127.0.0.1:0 ARGS…` and waits, up to a deadline,
// for it to print where it listens and where its database is.
func startDemo(t *testing.T, args ...string) *demoRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &lockedBuffer{}
	exited := make(chan int, 1)
	go func() {
		code := run(ctx, append([]string{"demo", "--listen", "127.0.0.1:0"}, args...), pw, stderr, os.Getenv)
		pw.Close()
		exited <- code
	}()
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	d := &demoRun{t: t, stderr: stderr}
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for d.url == "" || d.db == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				cancel()
				t.Fatalf("demo stopped before it was ready: exit %d\n%s", <-exited, stderr)
			}
			if m := demoURLLine.FindStringSubmatch(l); m != nil {
				d.url = m[1]
			}
			if m := demoDBLine.FindStringSubmatch(l); m != nil {
				d.db = m[1]
			}
		case <-deadline.C:
			cancel()
			t.Fatalf("demo did not print its address and database within 60 s\n%s", stderr)
		}
	}
	go func() { // keep reading, so the demo's last line does not block it
		for range lines {
		}
	}()
	d.stop = sync.OnceFunc(func() {
		cancel()
		select {
		case code := <-exited:
			if code != 0 {
				t.Errorf("demo exited %d\n%s", code, stderr)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("demo did not stop within 30 s of its context ending")
		}
	})
	t.Cleanup(d.stop)
	d.token = demoPageToken(t, d.url)
	return d
}

func demoPageToken(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="mfadesk-token" content="([0-9a-f]{32})"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("the demo page carries no token:\n%s", body)
	}
	return string(m[1])
}

func (d *demoRun) call(method, path string, body, out any) {
	d.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, strings.TrimSuffix(d.url, "/")+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Mfadesk-Token", d.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		d.t.Fatalf("%s %s: status %d: %s", method, path, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		d.t.Fatalf("%s %s: decode: %v", method, path, err)
	}
}

func (d *demoRun) command(persona, text string) bot.Message {
	d.t.Helper()
	var m bot.Message
	d.call(http.MethodPost, "/api/command", map[string]string{"persona": persona, "text": text}, &m)
	return m
}

func (d *demoRun) state(persona string) web.State {
	d.t.Helper()
	var st web.State
	d.call(http.MethodGet, "/api/state?persona="+persona, nil, &st)
	return st
}

// decide clicks on the card of request id in the approvals pane, as the page does.
func (d *demoRun) decide(persona, id string, approve bool, justification string) bot.Message {
	d.t.Helper()
	cardID := ""
	for _, c := range d.state(persona).Approvals {
		if c.Message.RequestID == id {
			cardID = c.ID
		}
	}
	var m bot.Message
	d.call(http.MethodPost, "/api/decide", map[string]any{"persona": persona, "card_id": cardID, "request_id": id, "approve": approve, "justification": justification}, &m)
	return m
}

// file opens a request form as persona with text and files it.
func (d *demoRun) file(persona, text string) string {
	d.t.Helper()
	if m := d.command(persona, text); m.Form == nil {
		d.t.Fatalf("%s %q: no form: %+v", persona, text, m)
	}
	ack := d.submitLast(persona)
	if ack.Refusal || ack.RequestID == "" {
		d.t.Fatalf("%s filed %q: %+v", persona, text, ack)
	}
	return ack.RequestID
}

// submitLast fills in and submits the form at the end of persona's conversation.
func (d *demoRun) submitLast(persona string) bot.Message {
	d.t.Helper()
	conv := d.state(persona).Conversation
	var ack bot.Message
	d.call(http.MethodPost, "/api/submit", map[string]any{
		"persona": persona, "entry": conv[len(conv)-1].Seq,
		"reason": "User locked out after a phone change", "verification": string(approvals.VerifyInPerson),
		"verification_detail": "Badge checked at the service desk", "ticket": "INC-2001",
	}, &ack)
	return ack
}

// waitState polls persona's state until ok holds or the deadline passes.
func (d *demoRun) waitState(persona string, within time.Duration, what string, ok func(web.State) bool) web.State {
	d.t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		st := d.state(persona)
		if ok(st) {
			return st
		}
		select {
		case <-deadline.C:
			d.t.Fatalf("%s did not happen within %s; %s sees %+v", what, within, persona, st)
		case <-tick.C:
		}
	}
}

func demoCard(st web.State, id string) *web.Card {
	for i := range st.Approvals {
		if st.Approvals[i].Message.RequestID == id {
			return &st.Approvals[i]
		}
	}
	return nil
}

func findings(m bot.Message) []string {
	var out []string
	for _, s := range m.Sections {
		for _, f := range s.Findings {
			out = append(out, string(f.Severity)+": "+f.Title)
		}
	}
	return out
}

// verifyDemoAudit runs `mfadesk audit verify --db` on a stopped demo's file.
func verifyDemoAudit(t *testing.T, db string) {
	t.Helper()
	rep, err := approvals.VerifyFile(context.Background(), db)
	if err != nil || !rep.OK || rep.Head.Seq == 0 {
		t.Fatalf("VerifyFile(%s): %v %v", db, rep, err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"audit", "verify", "--db", db}, &out, &errb, os.Getenv); code != 0 || !strings.Contains(out.String(), "audit log intact") {
		t.Fatalf("mfadesk audit verify --db %s: exit %d\n%s%s", db, code, out.String(), errb.String())
	}
}

// TestDemoEveryVerb starts `mfadesk demo` with no configuration and checks that every
// verb answers, that requests go through the approvals channel, and that the audit log
// in the printed database verifies after the demo stops.
func TestDemoEveryVerb(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the demo's default database goes under os.TempDir
	d := startDemo(t)
	if !strings.HasPrefix(d.db, tmp+string(filepath.Separator)) {
		t.Errorf("default database %s is not under TMPDIR %s", d.db, tmp)
	}

	u := func(local string) string { return local + "@" + demoDomain }
	for _, tt := range []struct {
		persona, text string
		want          string // in the answer's text
		form          bool
	}{
		{"hana", "help", "mfadesk verbs:", false},
		{"hana", "/mfa user " + u("mfatest2"), "MFA Test 2 (mfatest2@mfademo.example): enabled", false},
		{"hana", "methods " + u("mfatest2"), "NOT usable", false},
		{"hana", "status " + u("mfatest2"), "MFA capable no", false},
		{"hana", "signins " + u("fiona.failures") + " --failed", "failed sign-ins", false},
		{"hana", "signins " + u("mfatest2") + " --last 5", "sign-ins", false},
		{"hana", "audit " + u("mfatest2") + " --days 30", "", false},
		{"hana", "diagnose " + u("mfatest2"), "never verified", false},
		{"hana", "diagnose " + u("casey.ca"), "", false},
		{"alex", "pending", "No open requests", false},
		{"hana", "reregister " + u("mfatest2"), "Fill in the form", true},
		{"alex", "revoke " + u("fiona.failures"), "Fill in the form", true},
	} {
		m := d.command(tt.persona, tt.text)
		if m.Refusal || !strings.Contains(m.Text, tt.want) || (m.Form != nil) != tt.form {
			t.Errorf("%s %q: %+v", tt.persona, tt.text, m)
		}
	}
	if f := findings(d.command("hana", "diagnose "+u("mfatest2"))); len(f) == 0 || !strings.Contains(f[0], "problem: Microsoft Authenticator added but never verified: not usable") {
		t.Errorf("diagnose mfatest2 findings: %q", f)
	}

	for _, tt := range []struct{ persona, text, want string }{
		{"nora", "user " + u("mfatest2"), "You are not in the helpdesk or approvers group"},
		{"sam", "revoke " + u("fiona.failures"), "Only members of the helpdesk group can file requests."},
		{"hana", "reregister " + u("hana.helpdesk"), "You cannot file a request about your own account"},
		{"hana", "frob", "Unknown verb"},
	} {
		if m := d.command(tt.persona, tt.text); !m.Refusal || !strings.Contains(m.Text, tt.want) {
			t.Errorf("%s %q: %+v", tt.persona, tt.text, m)
		}
	}
	// A Global Administrator is a protected target: refused when the form is asked for.
	if m := d.command("hana", "reregister "+u("ada.admin")); m.Form != nil || !m.Refusal || !strings.Contains(strings.ToLower(m.Text), "protected") {
		t.Errorf("request about a Global Administrator: %+v", m)
	}

	id := d.file("hana", "revoke "+u("fiona.failures"))
	if card := demoCard(d.state("sam"), id); card == nil || len(card.Message.Buttons) != 2 {
		t.Fatalf("no approval card for %s: %+v", id, d.state("sam").Approvals)
	}
	if m := d.command("alex", "pending"); !strings.Contains(m.Text, "1 open request") {
		t.Errorf("alex's pending: %+v", m)
	}
	if m := d.command("hana", "show "+id); m.Refusal || !strings.Contains(m.Title, "Revoke sessions") {
		t.Errorf("show %s: %+v", id, m)
	}
	if m := d.command("hana", "cancel "+id); m.Refusal || !strings.Contains(m.Text, "cancelled") {
		t.Errorf("cancel %s: %+v", id, m)
	}
	d.waitState("hana", 10*time.Second, "the card showing the cancellation", func(st web.State) bool {
		c := demoCard(st, id)
		return c != nil && c.Rev > 1 && len(c.Message.Buttons) == 0 && strings.Contains(c.Message.Text, "cancelled")
	})
	d.stop()
	verifyDemoAudit(t, d.db)
}

// TestDemoExpiredRequest runs the demo with a short --expiry: the sweeper expires the
// request, its card says so in place, and a late approval gets the one-line reason.
func TestDemoExpiredRequest(t *testing.T) {
	d := startDemo(t, "--db", filepath.Join(t.TempDir(), "demo.db"), "--expiry", "400ms")
	id := d.file("hana", "reregister mfatest1@"+demoDomain)
	d.waitState("alex", 15*time.Second, "the sweeper expiring "+id, func(st web.State) bool {
		c := demoCard(st, id)
		return c != nil && len(c.Message.Buttons) == 0 && strings.Contains(c.Message.Text, "expired")
	})
	m := d.decide("alex", id, true, "")
	if !m.Refusal || !strings.Contains(m.Text, "Request "+id+" expired at") {
		t.Errorf("late approval: %+v", m)
	}
	if n := demoCard(d.state("alex"), id).Note; n == nil || n.Message.Text != m.Text {
		t.Errorf("alex's note under the expired card: %+v", n)
	}
	st := d.state("hana")
	if len(st.Inbox) != 1 || !strings.Contains(st.Inbox[0].Message.Text, "is expired") {
		t.Errorf("hana's inbox: %+v", st.Inbox)
	}
	d.stop()
	verifyDemoAudit(t, d.db)
}

func TestDemoFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"demo", "--expiry", "-1s"}, 2, "--expiry -1s must be positive"},
		{[]string{"demo", "--expiry", "soon"}, 2, "invalid value"},
		{[]string{"demo", "--listen", "0.0.0.0:0"}, 1, "listens only on loopback"},
		{[]string{"demo", "--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "missing", "demo.db")}, 1, "open database"},
		{[]string{"demo", "extra"}, 2, "unexpected argument"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tt.args, &out, &errb, os.Getenv)
		if code != tt.code || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%q: exit %d, stderr %q", tt.args, code, errb.String())
		}
	}
}

func TestSweepInterval(t *testing.T) {
	for _, tt := range []struct{ expiry, want time.Duration }{
		{30 * time.Minute, 5 * time.Second},
		{time.Minute, 3 * time.Second},
		{400 * time.Millisecond, 50 * time.Millisecond},
		{time.Millisecond, 50 * time.Millisecond},
	} {
		if got := sweepInterval(tt.expiry); got != tt.want {
			t.Errorf("sweepInterval(%s) = %s, want %s", tt.expiry, got, tt.want)
		}
	}
}

// TestDemoBulkRollbackGroup runs a bulk re-register on the demo's group of affected
// users through the demo's API: filed by group, approved, the canary, Continue, the
// end; after the demo stops, `mfadesk approvals show --results` prints every user's
// result and the audit log verifies.
func TestDemoBulkRollbackGroup(t *testing.T) {
	d := startDemo(t)
	id := d.file("hana", "reregister --group mfa-rollback-affected")
	// The users of a set cannot each confirm, so the demo's evidence rule (serve's
	// default) wants a second approver.
	for _, who := range []string{"alex", "sam"} {
		if m := d.decide(who, id, true, ""); m.Refusal {
			t.Fatalf("approve as %s: %+v", who, m)
		}
	}
	// The run is the service's: the card changes when the canary is done.
	st := d.waitState("hana", 20*time.Second, "the canary's Continue button", func(st web.State) bool {
		c := demoCard(st, id)
		return c != nil && len(c.Message.Buttons) == 2 && c.Message.Buttons[0].Kind == "continue"
	})
	var ans bot.Message
	d.call(http.MethodPost, "/api/decide", map[string]any{"persona": "hana", "card_id": demoCard(st, id).ID, "request_id": id, "bulk": "continue"}, &ans)
	if ans.Refusal {
		t.Fatalf("continue: %+v", ans)
	}
	d.waitState("hana", 30*time.Second, "the end of the run", func(st web.State) bool {
		c := demoCard(st, id)
		return c != nil && strings.Contains(c.Message.Text, "done")
	})
	d.stop()
	verifyDemoAudit(t, d.db)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"approvals", "show", "--db", d.db, "--results", id}, &out, &errb, os.Getenv); code != 0 {
		t.Fatalf("approvals show --results: exit %d: %s", code, errb.String())
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 5 || !strings.Contains(lines[0], `"outcome":"done"`) {
		t.Fatalf("results:\n%s", out.String())
	}
}
