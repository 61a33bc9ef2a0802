package bot_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
)

// securityNotifier is a notifier with a security channel.
type securityNotifier struct {
	notifier
	smu      sync.Mutex
	security []string
}

func (n *securityNotifier) PostSecurity(_ context.Context, text string) error {
	n.smu.Lock()
	defer n.smu.Unlock()
	n.security = append(n.security, text)
	return nil
}

// TestWatchAlertReachesTheSecurityChannel: a method registered after a reset goes to
// the audit channel and, where the platform has one, the security channel; other audit
// events stay in the audit channel only.
func TestWatchAlertReachesTheSecurityChannel(t *testing.T) {
	st, err := approvals.OpenBolt(t.TempDir()+"/mfadesk.db", approvals.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	withSec, plain := &securityNotifier{}, &notifier{}
	r, _, err := bot.Assemble(context.Background(), bot.AssembleOptions{
		Backend:   newBackend(),
		Store:     st,
		Policy:    approvals.Policy{HelpdeskGroupID: gHelpdesk, ApproversGroupID: gApprovers},
		Notifiers: map[bot.Platform]bot.Notifier{"slack": withSec, "web": plain},
	})
	if err != nil {
		t.Fatal(err)
	}
	head := approvals.Head{Seq: 7, Hash: "0123456789abcdef0123"}
	tests := []struct {
		kind     approvals.EventKind
		security int
	}{
		{approvals.EventWatchRegistration, 1},
		{approvals.EventKind("approved"), 0},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			withSec.security, withSec.audit, plain.audit = nil, nil, nil
			r.OnAudit(approvals.Event{Seq: 7, Kind: tc.kind, RequestID: "R-TEST", Detail: "Authenticator App registered"}, head)
			if len(withSec.audit) != 1 || len(plain.audit) != 1 {
				t.Fatalf("audit posts: slack %d, web %d; want 1 each", len(withSec.audit), len(plain.audit))
			}
			if len(withSec.security) != tc.security {
				t.Fatalf("security posts: %d, want %d", len(withSec.security), tc.security)
			}
			if tc.security > 0 && !strings.Contains(withSec.security[0], "watch_registration R-TEST") {
				t.Errorf("security post: %q", withSec.security[0])
			}
		})
	}
}
