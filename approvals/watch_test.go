package approvals

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals/etcdtest"
)

// graphClock drives the Graph client's report scheduler on the harness clock: a wait
// moves the clock to its end at once, so nothing really waits and the service, the
// client and the fake all see the same time.
type graphClock struct{ c *testClock }

func (g graphClock) Now() time.Time { return g.c.Now() }

func (g graphClock) At(t time.Time) <-chan time.Time {
	g.c.mu.Lock()
	if t.After(g.c.t) {
		g.c.t = t
	}
	now := g.c.t
	g.c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

// watchEnv is a Service that watches after resets, reading a fake Graph through the
// real client.
type watchEnv struct {
	h      *harness
	fake   *graphtest.Server
	client *graph.Client
}

const targetUPN = "alex@contoso.com"

type watchOpts struct {
	watchFor  time.Duration // default 24 h
	users     int           // extra users numberedOID(0..users-1)
	budget    bool          // Graph's report budget, enforced by the fake and kept by the client
	noPremium bool          // no sign-in logs
}

func newWatchEnv(t testing.TB, o watchOpts) *watchEnv {
	t.Helper()
	if o.watchFor == 0 {
		o.watchFor = 24 * time.Hour
	}
	h := newHarness(t, func(p *Policy) { p.WatchFor = o.watchFor })
	tenant := &graphtest.Tenant{Domain: "contoso.com", NoPremiumLicense: o.noPremium}
	tenant.Users = append(tenant.Users, &graphtest.TenantUser{User: map[string]any{"id": oidTarget, "userPrincipalName": targetUPN, "displayName": "Alex Wilber"}})
	for i := range o.users {
		tenant.Users = append(tenant.Users, &graphtest.TenantUser{User: map[string]any{"id": numberedOID(i), "userPrincipalName": fmt.Sprintf("user%d@contoso.com", i), "displayName": fmt.Sprintf("User %d", i)}})
	}
	fake := graphtest.NewServer(tenant)
	fake.SetClock(h.clock.Now)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := graph.Config{BaseURL: srv.URL + "/v1.0", Clock: graphClock{h.clock}, Logger: slog.New(slog.DiscardHandler),
		ReportCacheTTL: -1, MaxQueueWait: time.Hour, MaxRetryWait: time.Nanosecond}
	if o.budget {
		cfg.ReportLimit = graph.DefaultReportLimit
		fake.SetFaults(graphtest.Faults{ReportLimit: graph.DefaultReportLimit, ReportWindow: graph.DefaultReportWindow})
	}
	c, err := graph.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &watchEnv{h: h, fake: fake, client: c}
}

// reset files, approves and runs a re-register of the target: the watch starts.
func (e *watchEnv) reset(t testing.TB) Request {
	t.Helper()
	r := e.h.submit(nil)
	got, err := e.h.svc.Decide(context.Background(), r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "saw the video call")
	if err != nil || got.State != StateSucceeded {
		t.Fatalf("approve the re-register: state %s, err %v", got.State, err)
	}
	return got
}

func (e *watchEnv) poll(t testing.TB) int {
	t.Helper()
	n, err := e.h.svc.NewWatcher(e.client).Poll(context.Background())
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return n
}

func (e *watchEnv) audit(t testing.TB, user string, ev map[string]any) {
	t.Helper()
	if err := e.fake.AddAudit(user, ev); err != nil {
		t.Fatal(err)
	}
}

func (e *watchEnv) signIn(t testing.TB, user string, si map[string]any) {
	t.Helper()
	if err := e.fake.AddSignIn(user, si); err != nil {
		t.Fatal(err)
	}
}

// alerts are the watch_registration events in the audit chain.
func (e *watchEnv) alerts(t testing.TB) []Event {
	t.Helper()
	var out []Event
	for _, ev := range e.h.eventsAfter(0) {
		if ev.Kind == EventWatchRegistration {
			out = append(out, ev)
		}
	}
	return out
}

const authenticator = "User registered Authenticator App with Notification and Code"

// TestWatchAlertsOncePerRegistration: a method registered after a re-register is
// reported exactly once, in the audit chain (and so in the audit channel), however
// many polls and restarts see it.
func TestWatchAlertsOncePerRegistration(t *testing.T) {
	e := newWatchEnv(t, watchOpts{})
	t0 := e.h.clock.Now()
	r := e.reset(t)
	e.signIn(t, oidTarget, graphtest.SignInFrom("s-old", "198.51.100.20", "Seattle", "US", t0.AddDate(0, 0, -5)))
	e.signIn(t, oidTarget, graphtest.SignInFrom("s-reg", "203.0.113.9", "Seattle", "US", t0.Add(19*time.Minute)))
	e.audit(t, oidTarget, graphtest.SelfRegistration("reg-1", oidTarget, targetUPN, authenticator, "203.0.113.9", t0.Add(20*time.Minute)))
	e.h.clock.Advance(30 * time.Minute)

	if n := e.poll(t); n != 1 {
		t.Fatalf("first poll reported %d registrations, want 1", n)
	}
	if n := e.poll(t); n != 0 {
		t.Errorf("second poll reported %d, want 0", n)
	}
	e.h.reopen() // a restart: the watch and what it reported come from the store
	e.h.clock.Advance(time.Minute)
	if n := e.poll(t); n != 0 {
		t.Errorf("poll after a restart reported %d, want 0", n)
	}

	alerts := e.alerts(t)
	if len(alerts) != 1 {
		t.Fatalf("%d watch_registration events, want 1", len(alerts))
	}
	a := alerts[0]
	for _, want := range []string{"Authenticator App with Notification and Code registered for " + targetUPN, "203.0.113.9", "(Seattle, US)", "after the reregister"} {
		if !strings.Contains(a.Detail, want) {
			t.Errorf("alert %q lacks %q", a.Detail, want)
		}
	}
	if strings.Contains(a.Detail, "new country") {
		t.Errorf("alert %q flags a country the user signed in from before", a.Detail)
	}
	if a.RequestID != r.ID || a.Target.ObjectID != oidTarget {
		t.Errorf("alert names request %q target %q", a.RequestID, a.Target.ObjectID)
	}
	e.h.mu.Lock()
	hooked := 0
	for _, ev := range e.h.audits {
		if ev.Kind == EventWatchRegistration {
			hooked++
		}
	}
	e.h.mu.Unlock()
	if hooked != 1 {
		t.Errorf("the audit hook (the audit channel) got the alert %d times, want 1", hooked)
	}
	e.h.mustVerify()
}

// TestWatchIgnoresWhatIsNotANewRegistration: nothing before the reset, nothing about
// an unwatched user, no app's registration (mfadesk's own pass), no started or failed
// registration.
func TestWatchIgnoresWhatIsNotANewRegistration(t *testing.T) {
	e := newWatchEnv(t, watchOpts{users: 1})
	t0 := e.h.clock.Now()
	e.reset(t)
	other := numberedOID(0)
	e.audit(t, oidTarget, graphtest.SelfRegistration("before", oidTarget, targetUPN, authenticator, "203.0.113.9", t0.Add(-time.Minute)))
	e.audit(t, other, graphtest.SelfRegistration("unwatched", other, "user0@contoso.com", authenticator, "203.0.113.9", t0.Add(10*time.Minute)))
	started := graphtest.SelfRegistration("started", oidTarget, targetUPN, "User started the registration for Authenticator App with Code", "203.0.113.9", t0.Add(10*time.Minute))
	started["activityDisplayName"] = "User started security info registration"
	e.audit(t, oidTarget, started)
	failed := graphtest.SelfRegistration("failed", oidTarget, targetUPN, authenticator, "203.0.113.9", t0.Add(11*time.Minute))
	failed["result"] = "failure"
	e.audit(t, oidTarget, failed)
	byApp := graphtest.SelfRegistration("tap", oidTarget, targetUPN, "Admin registered temporary access pass method for user", "", t0.Add(time.Minute))
	byApp["activityDisplayName"] = "Admin registered security info"
	byApp["initiatedBy"] = map[string]any{"app": map[string]any{"displayName": "mfadesk", "appId": nil}, "user": nil}
	e.audit(t, oidTarget, byApp)
	e.h.clock.Advance(30 * time.Minute)

	if n := e.poll(t); n != 0 {
		t.Errorf("reported %d registrations, want none: %v", n, e.alerts(t))
	}
}

// TestWatchNewCountry: the alert is flagged when the registration's sign-in comes
// from a country the user's successful sign-ins of the 30 days before the reset do
// not show; a number in the method is masked; without sign-in logs the alert still
// goes out and says so.
func TestWatchNewCountry(t *testing.T) {
	cases := []struct {
		name      string
		noPremium bool
		before    []map[string]any // sign-ins before the reset (offset from it)
		from      [3]string        // the registration's sign-in: ip, city, country
		reason    string
		want      []string
		not       []string
	}{
		{name: "known country",
			before: []map[string]any{graphtest.SignInFrom("b1", "198.51.100.20", "Seattle", "US", time.Time{})},
			from:   [3]string{"203.0.113.9", "Portland", "US"},
			want:   []string{"(Portland, US)"}, not: []string{"new country"}},
		{name: "new country",
			before: []map[string]any{graphtest.SignInFrom("b1", "198.51.100.20", "Seattle", "US", time.Time{})},
			from:   [3]string{"203.0.113.9", "Lagos", "NG"},
			want:   []string{"⚠ new country", "(Lagos, NG)", "NG is not among the user's sign-in countries of the 30 days before (US)"}},
		{name: "a failed sign-in does not make a country known",
			before: []map[string]any{graphtest.SignInFrom("b1", "198.51.100.20", "Seattle", "US", time.Time{}), failedSignIn("b2", "NG")},
			from:   [3]string{"203.0.113.9", "Lagos", "NG"},
			want:   []string{"⚠ new country"}},
		{name: "no sign-ins before",
			from: [3]string{"203.0.113.9", "Lagos", "NG"},
			want: []string{"⚠ new country", "no sign-ins in the 30 days before the reset to compare"}},
		{name: "phone masked",
			before: []map[string]any{graphtest.SignInFrom("b1", "198.51.100.20", "Seattle", "US", time.Time{})},
			from:   [3]string{"203.0.113.9", "Seattle", "US"},
			reason: "User registered Phone +1 425 555 0142",
			want:   []string{"Phone +1 425", "203.0.113.9"}, not: []string{"555 0142", "new country"}},
		{name: "no sign-in logs",
			noPremium: true,
			from:      [3]string{"203.0.113.9", "Lagos", "NG"},
			want:      []string{"registered for " + targetUPN, "from 203.0.113.9", "sign-in logs not available"}, not: []string{"new country"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newWatchEnv(t, watchOpts{noPremium: tc.noPremium})
			t0 := e.h.clock.Now()
			e.reset(t)
			for i, si := range tc.before {
				si["createdDateTime"] = t0.AddDate(0, 0, -(i + 3)).Format(time.RFC3339)
				e.signIn(t, oidTarget, si)
			}
			at := t0.Add(20 * time.Minute)
			e.signIn(t, oidTarget, graphtest.SignInFrom("s-reg", tc.from[0], tc.from[1], tc.from[2], at.Add(-time.Minute)))
			reason := tc.reason
			if reason == "" {
				reason = authenticator
			}
			e.audit(t, oidTarget, graphtest.SelfRegistration("reg", oidTarget, targetUPN, reason, tc.from[0], at))
			e.h.clock.Advance(30 * time.Minute)
			if n := e.poll(t); n != 1 {
				t.Fatalf("reported %d registrations, want 1", n)
			}
			d := e.alerts(t)[0].Detail
			for _, w := range tc.want {
				if !strings.Contains(d, w) {
					t.Errorf("alert %q lacks %q", d, w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(d, w) {
					t.Errorf("alert %q has %q", d, w)
				}
			}
		})
	}
}

func failedSignIn(id, country string) map[string]any {
	si := graphtest.SignInFrom(id, "192.0.2.50", "Lagos", country, time.Time{})
	si["status"] = map[string]any{"errorCode": 50126, "failureReason": "Invalid username or password.", "additionalDetails": nil}
	return si
}

// TestWatchEndsAtItsTime: a registration after the watch's end is not reported; one
// inside it is, even by the first poll after the end; then the watch is removed and
// polls read nothing more.
func TestWatchEndsAtItsTime(t *testing.T) {
	e := newWatchEnv(t, watchOpts{watchFor: time.Hour})
	t0 := e.h.clock.Now()
	e.reset(t)
	e.audit(t, oidTarget, graphtest.SelfRegistration("inside", oidTarget, targetUPN, authenticator, "203.0.113.9", t0.Add(30*time.Minute)))
	e.audit(t, oidTarget, graphtest.SelfRegistration("after", oidTarget, targetUPN, authenticator, "203.0.113.9", t0.Add(90*time.Minute)))
	e.h.clock.Advance(2 * time.Hour)

	if n := e.poll(t); n != 1 {
		t.Fatalf("reported %d registrations, want the one inside the watch", n)
	}
	if !strings.Contains(e.alerts(t)[0].Detail, fmtTime(t0.Add(30*time.Minute))) {
		t.Errorf("reported %q, want the registration at %s", e.alerts(t)[0].Detail, fmtTime(t0.Add(30*time.Minute)))
	}
	ws, err := e.h.svc.Watches(context.Background())
	if err != nil || len(ws) != 0 {
		t.Fatalf("watches after the end: %v (err %v), want none", ws, err)
	}
	calls := e.fake.ReportCalls()
	if n := e.poll(t); n != 0 || e.fake.ReportCalls() != calls {
		t.Errorf("a poll with nothing watched reported %d and made %d report calls", n, e.fake.ReportCalls()-calls)
	}
}

// watchTargets puts n targets under watch as if each had just been re-registered.
func watchTargets(t testing.TB, e *watchEnv, n int) {
	t.Helper()
	err := e.h.svc.update(context.Background(), func(w *wtx) error {
		for i := range n {
			r := Request{ID: fmt.Sprintf("R-%04d", i), Action: ActionReregister,
				Target: Target{ObjectID: numberedOID(i), UPN: fmt.Sprintf("user%d@contoso.com", i)}}
			if err := e.h.svc.startWatch(w, r, w.now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestWatchHundredTargetsInsideReportBudget: with 100 watched users, one poll is one
// paged audit query for all of them; each of the 100 registrations costs one sign-in
// read; agents' lookups run at the same time. Graph's 5-per-10-s budget holds: the fake
// answers no 429, every lookup is complete, every registration is reported once.
func TestWatchHundredTargetsInsideReportBudget(t *testing.T) {
	const targets = 100
	e := newWatchEnv(t, watchOpts{users: targets, budget: true})
	t0 := e.h.clock.Now()
	watchTargets(t, e, targets)
	for i := range targets {
		id := numberedOID(i)
		e.audit(t, id, graphtest.SelfRegistration(fmt.Sprintf("reg-%03d", i), id, fmt.Sprintf("user%d@contoso.com", i), authenticator, "203.0.113.9", t0.Add(time.Minute)))
		for j := range 5 { // noise: started registrations, not reported
			ev := graphtest.SelfRegistration(fmt.Sprintf("start-%03d-%d", i, j), id, "", "User started the registration for Authenticator App", "203.0.113.9", t0.Add(time.Minute))
			ev["activityDisplayName"] = "User started security info registration"
			e.audit(t, id, ev)
		}
	}
	e.h.clock.Advance(2 * time.Minute)

	var wg sync.WaitGroup
	lookups := make([]actions.Evidence, 10)
	lookupErrs := make([]error, len(lookups))
	for i := range lookups {
		wg.Go(func() {
			q := actions.Query{Sources: actions.SourceSignIns | actions.SourceAudits, SignInLast: 10, SignInDays: 7, AuditDays: 7}
			lookups[i], lookupErrs[i] = e.client.Gather(context.Background(), actions.UserRef{Kind: actions.RefObjectID, Value: numberedOID(i)}, q)
		})
	}
	n, err := e.h.svc.NewWatcher(e.client).Poll(context.Background())
	wg.Wait()
	if err != nil || n != targets {
		t.Fatalf("poll reported %d (err %v), want %d", n, err, targets)
	}
	for i, ev := range lookups {
		if lookupErrs[i] != nil || len(ev.Missing) > 0 {
			t.Errorf("lookup %d: err %v, missing %v", i, lookupErrs[i], ev.Notes())
		}
	}
	if th := e.fake.Throttled(); th != 0 {
		t.Errorf("the fake answered %d report calls with 429", th)
	}
	// 600 events are two pages of the one query; one sign-in read per registration;
	// two report requests per lookup.
	if got, want := e.fake.ReportCalls(), int64(2+targets+2*len(lookups)); got != want {
		t.Errorf("%d report calls, want %d", got, want)
	}
	if got := len(e.alerts(t)); got != targets {
		t.Errorf("%d alerts, want %d", got, targets)
	}
}

// TestWatchEtcdTwoPollersOneAlert: on etcd the watch list is shared; two replicas'
// pollers that read the same registration at the same time commit one alert between
// them (a leader change mid-poll is this case).
func TestWatchEtcdTwoPollersOneAlert(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd")
	}
	e := newWatchEnv(t, watchOpts{})
	srv := etcdtest.Start(t)
	prefix := uniquePrefix()
	svcs := make([]*Service, 2)
	for i := range svcs {
		pol := basePolicy()
		pol.WatchFor = 24 * time.Hour
		s, err := New(context.Background(), Options{Store: openEtcdStore(t, srv.Endpoint(), prefix, 0), Directory: newFakeDir(),
			Executor: &fakeExec{}, Policy: pol, Clock: e.h.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		svcs[i] = s
	}
	t0 := e.h.clock.Now()
	err := svcs[0].update(context.Background(), func(w *wtx) error {
		return svcs[0].startWatch(w, Request{ID: "R-1", Action: ActionTAP, Target: Target{ObjectID: oidTarget, UPN: targetUPN}}, w.now)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.audit(t, oidTarget, graphtest.SelfRegistration("reg-1", oidTarget, targetUPN, authenticator, "203.0.113.9", t0.Add(5*time.Minute)))
	e.h.clock.Advance(10 * time.Minute)

	counts := make([]int, len(svcs))
	errs := make([]error, len(svcs))
	var wg sync.WaitGroup
	for i, s := range svcs {
		wg.Go(func() { counts[i], errs[i] = s.NewWatcher(e.client).Poll(context.Background()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	evs, err := svcs[1].Events(context.Background(), time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, ev := range evs {
		if ev.Kind == EventWatchRegistration {
			alerts++
		}
	}
	if alerts != 1 || counts[0]+counts[1] != 1 {
		t.Errorf("%d alerts in the chain, pollers reported %v; want exactly one", alerts, counts)
	}
}

// TestWatchStarts: a re-register (done or failed part-way) opens a watch from the
// moment it ran until WatchFor later; a revoke does not, nor anything with the watch off.
func TestWatchStarts(t *testing.T) {
	cases := []struct {
		name     string
		watchFor time.Duration
		action   Action
		fail     bool
		want     bool
	}{
		{"reregister", 24 * time.Hour, ActionReregister, false, true},
		{"reregister failed part-way", 24 * time.Hour, ActionReregister, true, true},
		{"revoke", 24 * time.Hour, ActionRevoke, false, false},
		{"watch off", 0, ActionReregister, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(p *Policy) { p.WatchFor = tc.watchFor })
			if tc.fail {
				h.exec.setFn(func(context.Context, Request, bool) (Result, error) {
					return Result{Steps: []Step{{Name: "delete_method", Outcome: "ok"}}}, errors.New("graph answered 500")
				})
			}
			t0 := h.clock.Now()
			r := h.submit(func(n *NewRequest) {
				n.Action = tc.action
				if tc.action != ActionReregister {
					n.Methods = nil
				}
			})
			if _, err := h.svc.Decide(context.Background(), r.ID, actor(oidApprover1, "Avery"), VerdictApprove, ""); err != nil {
				t.Fatal(err)
			}
			ws, err := h.svc.Watches(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := len(ws) == 1; got != tc.want {
				t.Fatalf("watches %+v, want one: %v", ws, tc.want)
			}
			if tc.want {
				w := ws[0]
				if w.Target.ObjectID != oidTarget || w.RequestID != r.ID || !w.Since.Equal(t0) || !w.Until.Equal(t0.Add(tc.watchFor)) {
					t.Errorf("watch %+v, want target %s request %s from %v for %v", w, oidTarget, r.ID, t0, tc.watchFor)
				}
			}
		})
	}
}
