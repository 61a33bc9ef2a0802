package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graphtest"
)

// seedSecurityInfo adds n security-info registrations for user at the clock's time,
// and as many events of another service, which the watch's filter must leave out.
func seedSecurityInfo(t testing.TB, fake *graphtest.Server, user string, n int, at time.Time) {
	t.Helper()
	for i := range n {
		ev := graphtest.SelfRegistration(fmt.Sprintf("w-%05d", i), user, "mfatest1@mfademo.example",
			"User registered Authenticator App with Notification and Code", "203.0.113.9", at.Add(time.Duration(i)*time.Second))
		if err := fake.AddAudit(user, ev); err != nil {
			t.Fatal(err)
		}
		other := graphtest.SelfRegistration(fmt.Sprintf("x-%05d", i), user, "mfatest1@mfademo.example", "", "", at)
		other["loggedByService"] = "Core Directory"
		if err := fake.AddAudit(user, other); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecurityInfoSincePagesOneQuery: the watch reads the whole tenant's
// security-info events with one filtered query and follows @odata.nextLink, every page
// inside the report budget: 1,100 events are three pages, three report calls, no 429.
func TestSecurityInfoSincePagesOneQuery(t *testing.T) {
	c, fake, clock := budgetTenant(t, 5, -1)
	user := tenUsers[0]
	since := clock.Now()
	seedSecurityInfo(t, fake, user, 1100, since)

	events, more, err := c.SecurityInfoSince(context.Background(), since)
	if err != nil || more {
		t.Fatalf("SecurityInfoSince: more=%v err=%v", more, err)
	}
	mine := 0
	for _, ev := range events {
		if ev.Service != actions.ServiceAuthMethods {
			t.Fatalf("event %s of service %q passed the filter", ev.ID, ev.Service)
		}
		if strings.HasPrefix(ev.ID, "w-") {
			mine++
			if ev.IP != "203.0.113.9" || ev.InitiatedByID != user || len(ev.TargetIDs) != 1 || ev.TargetIDs[0] != user || ev.ByApp {
				t.Fatalf("event %s read as %+v", ev.ID, ev)
			}
		}
	}
	if mine != 1100 {
		t.Errorf("read %d of the 1100 events", mine)
	}
	if got := fake.ReportCalls(); got != 3 {
		t.Errorf("%d report calls, want 3 pages", got)
	}
	// The background share is two requests a window (three stay free for a
	// diagnose): the third page waits for the next window.
	if took := clock.Now().Sub(since); took < 10*time.Second {
		t.Errorf("three pages took %v; the watch may send only two per 10 s window", took)
	}
	if n := fake.Throttled(); n != 0 {
		t.Errorf("%d answers were 429", n)
	}
}

// TestWatchYieldsToLookups: the watch takes the report budget's leftovers. Right
// after a watch read, a diagnose (three report requests) still goes out at once; right
// after a diagnose, the watch waits a window rather than make the next lookup wait.
func TestWatchYieldsToLookups(t *testing.T) {
	c, fake, clock := budgetTenant(t, 5, -1)
	ctx := context.Background()
	since := clock.Now().Add(-time.Hour)

	if _, _, err := c.SecurityInfoSince(ctx, since); err != nil {
		t.Fatal(err)
	}
	ev, err := c.Gather(ctx, ref(t, tenUsers[1]), diagnoseQuery)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Queued != 0 || len(ev.Missing) > 0 {
		t.Errorf("a diagnose after a watch read waited %v (missing %v); the watch must leave it room", ev.Queued, ev.Notes())
	}

	start := clock.Now()
	if _, _, err := c.SecurityInfoSince(ctx, since); err != nil {
		t.Fatal(err)
	}
	if waited := clock.Now().Sub(start); waited < 10*time.Second {
		t.Errorf("the watch read went out %v after a diagnose filled the window; want it to wait the 10 s window", waited)
	}
	ev, err = c.Gather(ctx, ref(t, tenUsers[2]), diagnoseQuery)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Queued != 0 {
		t.Errorf("a diagnose after the watch's wait waited %v", ev.Queued)
	}
	if n := fake.Throttled(); n != 0 {
		t.Errorf("%d answers were 429", n)
	}
}
