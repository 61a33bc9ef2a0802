package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/approvals/etcdtest"
	"github.com/mfadesk/mfadesk/bot"
)

// TestReplicasOnEtcd assembles two bots (two replicas) on one real etcd. A request
// filed on replica A is approved on replica B, which updates the card A posted.
// While etcd is down lookups still answer, and filing and deciding are refused with
// the store's one sentence; when etcd is back the same replicas carry on.
func TestReplicasOnEtcd(t *testing.T) {
	srv := etcdtest.Start(t)
	ctx := context.Background()
	assemble := func() (*bot.Router, *backend, *notifier) {
		st, err := approvals.OpenEtcd(ctx, approvals.EtcdOptions{Endpoints: []string{srv.Endpoint()}, RequestTimeout: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		b, n := newBackend(), &notifier{}
		r, _, err := bot.Assemble(ctx, bot.AssembleOptions{
			Backend: b, Store: st, Notifiers: map[bot.Platform]bot.Notifier{"web": n},
			Policy: approvals.Policy{HelpdeskGroupID: gHelpdesk, ApproversGroupID: gApprovers},
		})
		if err != nil {
			t.Fatal(err)
		}
		return r, b, n
	}
	ra, _, na := assemble()
	rb, bb, nb := assemble()

	ack := ra.Submit(ctx, agent, goodForm)
	if ack.Refusal || ack.RequestID == "" || len(na.posted) != 1 {
		t.Fatalf("submit on A: %+v", ack)
	}
	if m := rb.Decide(ctx, approver, bot.Decision{RequestID: ack.RequestID, Approve: true, Card: na.card(ack.RequestID)}); m.Refusal || !strings.Contains(m.Text, "done") {
		t.Fatalf("approve on B: %+v", m)
	}
	if len(bb.Writes()) != 2 || len(nb.updates) == 0 || len(nb.updates[len(nb.updates)-1].Buttons) != 0 {
		t.Fatalf("B ran %v and updated %d cards", bb.Writes(), len(nb.updates))
	}

	srv.Stop()
	if m := ra.Handle(ctx, bot.Event{Caller: agent, Text: "methods mfatest2@contoso.example"}); m.Refusal || !strings.Contains(flatMessage(m), "iPhone 13") {
		t.Fatalf("lookup while etcd is down: %+v", m)
	}
	const down = "The approvals database (etcd) cannot be reached"
	if m := ra.Submit(ctx, agent, goodForm); !m.Refusal || !strings.Contains(m.Text, down) {
		t.Fatalf("submit while etcd is down: %+v", m)
	}
	// The card check reads the store first and refuses with its own sentence.
	if m := rb.Decide(ctx, approver, bot.Decision{RequestID: ack.RequestID, Approve: true, Card: na.card(ack.RequestID)}); !m.Refusal ||
		!(strings.Contains(m.Text, down) || strings.Contains(m.Text, "nothing was decided")) {
		t.Fatalf("decide while etcd is down: %+v", m)
	}
	srv.Restart()
	// The client reconnects by itself within its backoff (at most 2s); a refused
	// attempt in between changes nothing, so the helpdesk simply tries again.
	for deadline := time.Now().Add(30 * time.Second); ; {
		again := ra.Submit(ctx, agent, goodForm)
		if !again.Refusal && again.RequestID != "" {
			break
		}
		if !strings.Contains(again.Text, down) || time.Now().After(deadline) {
			t.Fatalf("submit after etcd is back: %+v", again)
		}
	}
}

func flatMessage(m bot.Message) string {
	var b strings.Builder
	b.WriteString(m.Title + "\n" + m.Text + "\n")
	for _, s := range m.Sections {
		b.WriteString(s.Heading + "\n" + s.Text + "\n")
		if s.Table != nil {
			for _, r := range s.Table.Rows {
				b.WriteString(strings.Join(r, " | ") + "\n")
			}
		}
	}
	return b.String()
}
