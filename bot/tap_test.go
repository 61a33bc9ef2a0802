package bot_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/bottest"
)

func TestParseTAP(t *testing.T) {
	for _, tc := range []struct {
		in       string
		lifetime time.Duration
		once     bool
		err      string
	}{
		{"tap mfatest2@contoso.example", time.Hour, false, ""},
		{"tap mfatest2@contoso.example --lifetime 90m --once", 90 * time.Minute, true, ""},
		{"tap mfatest2@contoso.example --lifetime=7d", 7 * 24 * time.Hour, false, ""},
		{"tap mfatest2@contoso.example --lifetime 30d", 30 * 24 * time.Hour, false, ""},
		{"tap mfatest2@contoso.example --lifetime 5m", 0, false, "10 minutes to 30 days"},
		{"tap mfatest2@contoso.example --lifetime 31d", 0, false, "10 minutes to 30 days"},
		{"tap mfatest2@contoso.example --lifetime soon", 0, false, "not a duration"},
		{"tap mfatest2@contoso.example --lifetime", 0, false, "needs a duration"},
		{"tap mfatest2@contoso.example --once=yes", 0, false, "--once takes no value"},
		{"tap", 0, false, "Name a user"},
	} {
		cmd, err := bot.Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Parse(%q) = %v, want one line with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || cmd.Verb != bot.VerbTAP || cmd.Lifetime != tc.lifetime || cmd.Once != tc.once {
			t.Errorf("Parse(%q) = %+v, %v", tc.in, cmd, err)
		}
	}
}

// deliveries records private messages.
type deliveries struct {
	mu   sync.Mutex
	msgs []bot.Message
	fail error
}

func (d *deliveries) deliver(_ context.Context, _ approvals.Actor, m bot.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return d.fail
	}
	d.msgs = append(d.msgs, m)
	return nil
}

// TestTAPRunNeverIssuesTwice: a run resumed (after a crash or a retry) reads the steps
// recorded before: a pass recorded as issued, or whose issue started with no outcome
// recorded, is never issued again, and the run says it was not delivered; a pass that
// Graph refused may be issued on the retry; a delivered pass ends the run.
func TestTAPRunNeverIssuesTwice(t *testing.T) {
	step := func(name, outcome string) approvals.Step { return approvals.Step{Name: name, Outcome: outcome} }
	for _, tc := range []struct {
		name      string
		steps     []approvals.Step
		noDeliver bool
		deliverTo error
		issued    int
		delivered int
		err       string
	}{
		{name: "fresh run", issued: 1, delivered: 1},
		{name: "crash after the issue started", steps: []approvals.Step{step("issue temporary access pass", "started")}, err: "never delivered"},
		{name: "crash after the issue", steps: []approvals.Step{step("issue temporary access pass", "started"), step("issue temporary access pass", "done")}, err: "never delivered"},
		{name: "Graph refused the issue before", steps: []approvals.Step{step("issue temporary access pass", "started"), step("issue temporary access pass", "failed")}, issued: 1, delivered: 1},
		{name: "delivered before", steps: []approvals.Step{step("issue temporary access pass", "done"), step("deliver temporary access pass", "done")}},
		{name: "no private channel", noDeliver: true, err: "nothing was issued"},
		{name: "delivery fails", deliverTo: errors.New("slack: channel_not_found"), issued: 1, err: "could not be sent to you privately"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := bottest.New(t, bottest.Options{})
			target := s.UserID(t, "mfatest2")
			d := &deliveries{fail: tc.deliverTo}
			ex := bot.Executor{W: s.Client, Deliver: d.deliver}
			if tc.noDeliver {
				ex.Deliver = nil
			}
			req := approvals.Request{ID: "R-TEST", Action: approvals.ActionTAP, Target: approvals.Target{ObjectID: target, UPN: "mfatest2@mfademo.example", DisplayName: "MFA Test 2"},
				Requester: approvals.Actor{Platform: "web", ChatID: "hana"}, TAP: &approvals.TAPOptions{LifetimeMinutes: 60, UsableOnce: true}, Steps: tc.steps}
			var recorded []approvals.Step
			_, err := ex.Execute(context.Background(), req, len(tc.steps) > 0, func(_ context.Context, st approvals.Step) error {
				recorded = append(recorded, st)
				return nil
			})
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Execute = %v, want %q", err, tc.err)
			}
			issued := 0
			for _, r := range s.Graph.Records() {
				if r.Method == "POST" && strings.HasSuffix(r.Path, "/temporaryAccessPassMethods") {
					issued++
				}
			}
			if issued != tc.issued || len(d.msgs) != tc.delivered {
				t.Errorf("issued %d and delivered %d passes, want %d and %d", issued, len(d.msgs), tc.issued, tc.delivered)
			}
			for _, m := range d.msgs {
				pass := regexp.MustCompile(`request R-TEST: (\S+)\n`).FindStringSubmatch(m.Text)
				if pass == nil {
					t.Fatalf("the delivered message holds no pass: %q", m.Text)
				}
				for _, st := range recorded {
					if strings.Contains(st.Name+st.Target+st.Detail, pass[1]) {
						t.Errorf("step %+v holds the pass", st)
					}
				}
			}
			if tc.deliverTo != nil && (len(recorded) == 0 || recorded[len(recorded)-1].Name != "deliver temporary access pass" || recorded[len(recorded)-1].Outcome != "failed") {
				t.Errorf("a failed delivery is not recorded: %+v", recorded)
			}
		})
	}
}
