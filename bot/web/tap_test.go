package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
)

// lockedBuffer collects log lines from every goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b.Bytes()...)
}

// occurrences counts pass in hay, raw or as encoding/json escapes it (a pass may hold
// '&', which JSON writes as \u0026).
func occurrences(hay []byte, pass string) int {
	n := bytes.Count(hay, []byte(pass))
	js, _ := json.Marshal(pass)
	if esc := string(js[1 : len(js)-1]); esc != pass {
		n += bytes.Count(hay, []byte(esc))
	}
	return n
}

var passRe = regexp.MustCompile(`request R-[A-Z0-9]+: (\S+)\n`)

// TestTAPReachesOnlyTheRequester files `tap` in the web chat for a user who already
// has a pass, approves it, and then searches every place the pass could leak: each
// log line of every component, the audit log's export, every card, message and pane
// of every persona, and the raw bytes of the bbolt file. The pass is in exactly one
// place: the requester's private inbox, once.
func TestTAPReachesOnlyTheRequester(t *testing.T) {
	logs := &lockedBuffer{}
	c := newChatLogged(t, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx := context.Background()
	target := c.stack.UserID(t, "mfatest2")
	// The user has a pass already: the card must say it is replaced, and the run must
	// delete it (Graph refuses a second valid pass).
	old, err := c.stack.Client.IssueTAP(ctx, target, time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}

	entry := c.openForm("hana", "tap mfatest2@"+domain+" --lifetime 2h --once")
	m := c.submit(validForm("hana", entry))
	if m.Refusal || m.RequestID == "" {
		t.Fatalf("submit: %+v", m)
	}
	id := m.RequestID
	r, err := c.svc.Get(ctx, id)
	if err != nil || r.Action != approvals.ActionTAP || r.TAP == nil || r.TAP.LifetimeMinutes != 120 || !r.TAP.UsableOnce || !r.TAP.Replaces {
		t.Fatalf("filed request: %+v, %v", r.TAP, err)
	}
	card := cardOf(c.state("alex"), id)
	if card == nil {
		t.Fatal("no approval card")
	}
	cardJSON, _ := json.Marshal(card)
	for _, want := range []string{"one-time, valid 2h", "will be replaced", "privately"} {
		if !strings.Contains(string(cardJSON), want) {
			t.Errorf("card does not say %q: %s", want, cardJSON)
		}
	}

	c.decide("alex", id, true, "")
	r, err = c.svc.Get(ctx, id)
	if err != nil || r.State != approvals.StateSucceeded {
		t.Fatalf("after approval: %+v, %v", r, err)
	}
	var got []string
	for _, s := range r.Steps {
		got = append(got, s.Name+": "+s.Outcome)
	}
	want := []string{"delete temporary access pass: deleted", "issue temporary access pass: started", "issue temporary access pass: done", "deliver temporary access pass: done"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("steps = %q, want %q", got, want)
	}

	// The pass, from the one private message.
	hana, _ := json.Marshal(c.state("hana"))
	var pass string
	for _, e := range c.state("hana").Inbox {
		if e.Message != nil {
			if mm := passRe.FindStringSubmatch(e.Message.Text); mm != nil {
				pass = mm[1]
			}
		}
	}
	if len(pass) < 8 || pass == old.Reveal() {
		t.Fatalf("no new pass in the requester's inbox: %s", hana)
	}
	if n := occurrences(hana, pass); n != 1 {
		t.Errorf("the pass is %d times in the requester's panes, want once", n)
	}
	for _, p := range []string{"alex", "sam", "nora"} {
		st, _ := json.Marshal(c.state(p))
		if occurrences(st, pass) != 0 {
			t.Errorf("%s's panes (cards, audit channel, messages) show the pass", p)
		}
	}
	if bytes.Contains(logs.Bytes(), []byte("issued temporary access pass")) == false {
		t.Error("the log does not record the issue at all: the search below would prove nothing")
	}
	if occurrences(logs.Bytes(), pass) != 0 {
		t.Error("a log line holds the pass")
	}
	var export bytes.Buffer
	if err := c.svc.Export(ctx, &export, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if occurrences(export.Bytes(), pass) != 0 {
		t.Error("the audit log holds the pass")
	}
	// The audit records that a pass was issued, with its lifetime and expiry.
	if !regexp.MustCompile(`issue temporary access pass one-time, valid 2h until [^"]+: done`).Match(export.Bytes()) {
		t.Errorf("the audit log does not record the issue with lifetime and expiry:\n%s", export.String())
	}
	raw, err := os.ReadFile(c.stack.Store.Path())
	if err != nil {
		t.Fatal(err)
	}
	if occurrences(raw, pass) != 0 {
		t.Error("the bbolt file holds the pass")
	}
	// Graph has exactly the new pass.
	passes := 0
	c.fake.Tenant(func(tn *graphtest.Tenant) {
		for _, m := range tn.FindUser("mfatest2@" + domain).Methods {
			if strings.Contains(m["@odata.type"].(string), "temporaryAccessPass") {
				passes++
			}
		}
	})
	if passes != 1 {
		t.Errorf("the user has %d passes, want 1", passes)
	}
}
