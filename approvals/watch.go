package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mfadesk/mfadesk/actions"
)

// The watch after a reset. A re-register or a temporary access pass leaves the account
// open to whoever registers a method next; if the caller was an impersonator, that is
// them. For Policy.WatchFor after such a run, mfadesk reads the target's security-info
// audit events and reports every method registered, once per event, in the audit
// channel: which method, the device when Graph names one, and — from the sign-in logs —
// the address and place, flagged when the country is not among the user's sign-ins of
// the 30 days before the reset.
//
// The watch list lives in the store (bucket watch), so it survives a restart and is
// shared by replicas; only the leader polls. Each alert is an audit event
// (watch_registration) committed together with the event id it reports, so "once per
// event" holds across polls, restarts and replicas, and the audit hook posts it.

// EventWatchRegistration is the audit event of a method registered during a watch.
const EventWatchRegistration EventKind = "watch_registration"

// DefaultWatchFor is the configured default of Policy.WatchFor.
const DefaultWatchFor = 24 * time.Hour

const bucketWatch = "watch" // target object id → Watch (JSON)

const (
	// watchOverlap is how far back of the last poll each poll reads again: the
	// audit log shows an event some minutes after it happened, and one that shows up
	// late must still be seen. Events already reported are skipped by id.
	watchOverlap = 30 * time.Minute
	// baselineDays is how far before the reset the user's sign-ins count as places
	// they are known to sign in from.
	baselineDays = 30
	// matchWindow is how long before a registration the sign-in it came with may be.
	matchWindow = time.Hour
	// signInPages bounds the sign-in pages read for one alert.
	signInPages = 3
	// maxAlert bounds an alert's text (the audit channel shows 300 characters).
	maxAlert = 300
)

// Watch is one watched target.
type Watch struct {
	Target    Target    `json:"target"`
	RequestID string    `json:"request_id"`
	Action    Action    `json:"action"`
	Since     time.Time `json:"since"` // the run that opened the account
	Until     time.Time `json:"until"`
	// Cursor: events before it (less watchOverlap) were read by an earlier poll.
	Cursor time.Time `json:"cursor"`
	// Posted are the events reported, id → event time; pruned once before Cursor.
	Posted map[string]time.Time `json:"posted,omitempty"`
	// Countries are those of the user's successful sign-ins in the 30 days before
	// Since, read at the first alert (CountriesRead).
	Countries     []string `json:"countries,omitempty"`
	CountriesRead bool     `json:"countries_read,omitempty"`
}

// from is the earliest event time the next poll considers for w.
func (w Watch) from() time.Time {
	if w.Cursor.After(w.Since) {
		return w.Cursor
	}
	return w.Since
}

// startWatch opens (or extends) the watch of r's target in w, when r opened the
// account to a new registration. since is when the run began: a method registered
// after that is the one to report.
func (s *Service) startWatch(w *wtx, r Request, since time.Time) error {
	if s.policy.WatchFor <= 0 || (r.Action != ActionReregister && r.Action != ActionTAP) {
		return nil
	}
	oid, ok := normOID(r.Target.ObjectID)
	if !ok {
		return nil
	}
	wt := Watch{Target: r.Target, Since: since, Cursor: since}
	if b := w.tx.Get(bucketWatch, []byte(oid)); b != nil {
		if err := json.Unmarshal(b, &wt); err != nil {
			return fmt.Errorf("read the watch of %s: %w", r.Target, err)
		}
		if since.Before(wt.Since) {
			wt.Since = since
		}
	}
	wt.RequestID, wt.Action = r.ID, r.Action
	if until := w.now.Add(s.policy.WatchFor); until.After(wt.Until) {
		wt.Until = until
	}
	return putWatch(w.tx, oid, wt)
}

func putWatch(tx Tx, oid string, wt Watch) error {
	b, err := json.Marshal(wt)
	if err != nil {
		return fmt.Errorf("encode the watch of %s: %w", wt.Target, err)
	}
	if err := tx.Put(bucketWatch, []byte(oid), b); err != nil {
		return fmt.Errorf("store the watch of %s: %w", wt.Target, err)
	}
	return nil
}

func loadWatch(tx Tx, oid string) (Watch, bool, error) {
	b := tx.Get(bucketWatch, []byte(oid))
	if b == nil {
		return Watch{}, false, nil
	}
	var wt Watch
	if err := json.Unmarshal(b, &wt); err != nil {
		return Watch{}, false, fmt.Errorf("read the watch of %s: %w", oid, err)
	}
	return wt, true, nil
}

// Watches returns the watched targets, expired ones included until a poll removes them.
func (s *Service) Watches(ctx context.Context) ([]Watch, error) {
	var out []Watch
	err := s.store.View(ctx, func(tx Tx) error {
		return tx.Scan(bucketWatch, nil, func(k, v []byte) (bool, error) {
			var wt Watch
			if err := json.Unmarshal(v, &wt); err != nil {
				return false, fmt.Errorf("read the watch of %s: %w", k, err)
			}
			out = append(out, wt)
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list the watched users: %w", err)
	}
	return out, nil
}

// recordAlert commits one alert: the event id joins the watch's reported ids and the
// audit event is appended, in one transaction that re-reads the watch, so a second
// poller (or a second poll) that found the same event commits nothing. It reports
// whether this call recorded it.
func (s *Service) recordAlert(ctx context.Context, oid string, ev actions.AuditEvent, text string, countries []string, read bool) (bool, error) {
	recorded := false
	err := s.update(ctx, func(w *wtx) error {
		recorded = false
		wt, ok, err := loadWatch(w.tx, oid)
		if err != nil || !ok {
			return err
		}
		if _, done := wt.Posted[ev.ID]; done || ev.Time.Before(wt.Since) || !ev.Time.Before(wt.Until) {
			return nil
		}
		if wt.Posted == nil {
			wt.Posted = map[string]time.Time{}
		}
		wt.Posted[ev.ID] = ev.Time
		if read && !wt.CountriesRead {
			wt.Countries, wt.CountriesRead = countries, true
		}
		if err := putWatch(w.tx, oid, wt); err != nil {
			return err
		}
		recorded = true
		return w.audit(Event{Kind: EventWatchRegistration, RequestID: wt.RequestID, Action: wt.Action, Target: wt.Target,
			Detail: clip(text, maxAlert)})
	})
	if err != nil {
		return false, fmt.Errorf("record the registration %s for %s: %w", ev.ID, oid, err)
	}
	return recorded, nil
}

// advanceWatches moves the cursor of each polled watch to now (less the overlap),
// forgets reported ids before it, and removes the watches that have ended: the poll
// that just ran read up to now, past their end.
func (s *Service) advanceWatches(ctx context.Context, polled []Watch, now time.Time) (removed int, err error) {
	err = s.update(ctx, func(w *wtx) error {
		removed = 0
		for _, p := range polled {
			oid, _ := normOID(p.Target.ObjectID)
			wt, ok, err := loadWatch(w.tx, oid)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if !now.Before(wt.Until) {
				if err := w.tx.Delete(bucketWatch, []byte(oid)); err != nil {
					return fmt.Errorf("remove the watch of %s: %w", wt.Target, err)
				}
				removed++
				continue
			}
			if c := now.Add(-watchOverlap); c.After(wt.Cursor) {
				wt.Cursor = c
			}
			maps.DeleteFunc(wt.Posted, func(_ string, t time.Time) bool { return t.Before(wt.Cursor) })
			if err := putWatch(w.tx, oid, wt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("advance the watches: %w", err)
	}
	return removed, nil
}

// WatchSource reads what the watch needs from the directory's logs; the Graph client
// implements it inside the report budget's background share.
type WatchSource interface {
	// SecurityInfoSince returns the tenant's security-info audit events at or after
	// since; more is true when it stopped before reading them all.
	SecurityInfoSince(ctx context.Context, since time.Time) (events []actions.AuditEvent, more bool, err error)
	// SignInsSince returns a user's sign-ins at or after since, newest first.
	SignInsSince(ctx context.Context, userID string, since time.Time, maxPages int) ([]actions.SignIn, error)
}

// DefaultWatchInterval is how often the watch polls.
const DefaultWatchInterval = time.Minute

// Watcher is the one poller of all watched targets: each poll is one audit-log query
// (and its pages) for all of them, however many there are.
type Watcher struct {
	svc *Service
	src WatchSource
	log *slog.Logger
}

// NewWatcher returns the watch's poller over src.
func (s *Service) NewWatcher(src WatchSource) *Watcher {
	return &Watcher{svc: s, src: src, log: s.log}
}

// Run polls every interval until ctx ends. Run it on one process only: the leader
// on a shared store.
func (w *Watcher) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := w.Poll(ctx); err != nil && ctx.Err() == nil {
			w.log.WarnContext(ctx, "watch after a reset: poll failed; trying again next interval", "err", err)
		} else if n > 0 {
			w.log.InfoContext(ctx, "watch after a reset: registrations reported", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll reads the security-info events since the oldest cursor of the watched targets,
// reports each new registration of a watched target once, and advances the cursors
// (removing ended watches). It returns how many alerts it recorded.
func (w *Watcher) Poll(ctx context.Context) (int, error) {
	now := w.svc.now().UTC()
	list, err := w.svc.Watches(ctx)
	if err != nil || len(list) == 0 {
		return 0, err
	}
	byID := make(map[string]Watch, len(list))
	since := list[0].from()
	for _, wt := range list {
		if oid, ok := normOID(wt.Target.ObjectID); ok {
			byID[oid] = wt
		}
		if f := wt.from(); f.Before(since) {
			since = f
		}
	}
	events, more, err := w.src.SecurityInfoSince(ctx, since)
	if err != nil {
		return 0, fmt.Errorf("watch %d users after a reset: %w", len(list), err)
	}
	alerts := 0
	// Graph lists newest first; report in the order things happened.
	for _, ev := range slices.Backward(events) {
		if !isRegistration(ev) {
			continue
		}
		for _, oid := range eventUsers(ev) {
			wt, ok := byID[oid]
			if !ok || ev.Time.Before(wt.from()) || !ev.Time.Before(wt.Until) {
				continue
			}
			if _, done := wt.Posted[ev.ID]; done {
				continue
			}
			text, countries, read := w.describe(ctx, wt, ev)
			ok, err := w.svc.recordAlert(ctx, oid, ev, text, countries, read)
			if err != nil {
				return alerts, err
			}
			if ok {
				alerts++
				if read {
					wt.Countries, wt.CountriesRead = countries, true
				}
				if wt.Posted == nil {
					wt.Posted = map[string]time.Time{}
				}
				wt.Posted[ev.ID] = ev.Time
				byID[oid] = wt
			}
		}
	}
	if more {
		// The oldest events are still unread: keep the cursors so the next poll reads
		// them (what was reported now is skipped by id).
		w.log.WarnContext(ctx, "watch after a reset: more security-info events than one poll reads; the rest next poll", "since", since)
		return alerts, nil
	}
	if _, err := w.svc.advanceWatches(ctx, list, now); err != nil {
		return alerts, err
	}
	return alerts, nil
}

// registrationActivities are the security-info activities that add a method.
var registrationActivities = []string{"User registered security info", "Admin registered security info"}

// isRegistration reports whether ev is a method registered by a person. An app's
// registrations are automation — mfadesk's own temporary access pass among them,
// already in the audit chain — and not what an impersonator does after a reset.
func isRegistration(ev actions.AuditEvent) bool {
	return ev.ID != "" && !ev.ByApp && strings.EqualFold(ev.Result, "success") &&
		slices.ContainsFunc(registrationActivities, func(a string) bool { return strings.EqualFold(a, ev.Activity) })
}

// eventUsers are the users an event is about: its target resources, or, when it
// names none, the user who acted (a self-service registration).
func eventUsers(ev actions.AuditEvent) []string {
	ids := ev.TargetIDs
	if len(ids) == 0 && ev.InitiatedByID != "" {
		ids = []string{ev.InitiatedByID}
	}
	var out []string
	for _, id := range ids {
		if oid, ok := normOID(id); ok && !slices.Contains(out, oid) {
			out = append(out, oid)
		}
	}
	return out
}

// describe writes the alert for ev, reading the user's sign-ins for the address and
// place, and (the first time) for the countries of the 30 days before the reset. A
// failed read does not hold the alert back; it says the logs were not available.
func (w *Watcher) describe(ctx context.Context, wt Watch, ev actions.AuditEvent) (text string, countries []string, read bool) {
	from := ev.Time.Add(-matchWindow)
	if !wt.CountriesRead {
		from = wt.Since.AddDate(0, 0, -baselineDays)
	}
	signIns, err := w.src.SignInsSince(ctx, wt.Target.ObjectID, from, signInPages)
	countries = wt.Countries
	if err == nil && !wt.CountriesRead {
		countries, read = baselineCountries(signIns, wt.Since), true
	}
	var b strings.Builder
	where := ""
	si, found := matchSignIn(signIns, ev)
	flag := false
	switch {
	case err != nil:
		where = "; sign-in logs not available"
		var ae *actions.Error
		if errors.As(err, &ae) && ae.Message != "" {
			where += " (" + ae.Message + ")"
		}
	case found && si.Country != "":
		flag = !slices.Contains(countries, si.Country)
	}
	if flag {
		b.WriteString("⚠ new country · ")
	}
	// The request id is on the audit event itself; the text stays short enough for the
	// audit channel's line.
	fmt.Fprintf(&b, "%s registered for %s at %s, after the %s", methodOf(ev), wt.Target, fmtTime(ev.Time), wt.Action)
	if d := deviceOf(ev); d != "" {
		fmt.Fprintf(&b, "; device %s", d)
	}
	ip := ev.IP
	if ip == "" && found {
		ip = si.IP
	}
	if ip != "" {
		fmt.Fprintf(&b, "; from %s", ip)
	}
	if found && si.Location != "" {
		fmt.Fprintf(&b, " (%s)", si.Location)
	}
	b.WriteString(where)
	switch {
	case flag && len(countries) == 0:
		fmt.Fprintf(&b, "; no sign-ins in the %d days before the reset to compare", baselineDays)
	case flag:
		fmt.Fprintf(&b, "; %s is not among the user's sign-in countries of the %d days before (%s)", si.Country, baselineDays, strings.Join(countries, ", "))
	case err == nil && (!found || si.Country == ""):
		b.WriteString("; no sign-in location found")
	}
	return b.String(), countries, read
}

// baselineCountries are the countries of the successful sign-ins before the reset.
func baselineCountries(signIns []actions.SignIn, before time.Time) []string {
	var out []string
	for _, s := range signIns {
		if s.Time.Before(before) && !s.Failed() && s.Country != "" && !slices.Contains(out, s.Country) {
			out = append(out, s.Country)
		}
	}
	slices.Sort(out)
	return out
}

// matchSignIn finds the sign-in a registration came with: the latest successful one
// up to a few minutes after it and at most matchWindow before, from the same address
// when the audit event gives one.
func matchSignIn(signIns []actions.SignIn, ev actions.AuditEvent) (actions.SignIn, bool) {
	const skew = 5 * time.Minute // the two logs' clocks and delays differ
	var best actions.SignIn
	found := false
	for _, s := range signIns {
		if s.Failed() || s.Time.After(ev.Time.Add(skew)) || s.Time.Before(ev.Time.Add(-matchWindow)) {
			continue
		}
		if ev.IP != "" && s.IP != ev.IP {
			continue
		}
		if !found || s.Time.After(best.Time) {
			best, found = s, true
		}
	}
	return best, found
}

// methodOf names the method from the event's reason ("User registered Authenticator
// App with Notification and Code").
func methodOf(ev actions.AuditEvent) string {
	r := strings.TrimSpace(ev.Reason)
	for _, p := range []string{"User registered ", "Admin registered "} {
		if len(r) > len(p) && strings.EqualFold(r[:len(p)], p) {
			r = r[len(p):]
			break
		}
	}
	r = strings.TrimSuffix(strings.TrimSuffix(r, " for user"), ".")
	if r == "" {
		return "A security-info method"
	}
	// A phone method's reason may carry the number. Only Graph's free text is masked:
	// masking the whole alert would mask its address and time too.
	return actions.MaskPhones(strings.ToUpper(r[:1]) + r[1:])
}

// deviceOf is the device or app the event's additional details name, if any.
func deviceOf(ev actions.AuditEvent) string {
	for _, k := range slices.Sorted(maps.Keys(ev.Details)) {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "device") || strings.Contains(lk, "user agent") || strings.Contains(lk, "useragent") {
			return clip(actions.MaskPhones(ev.Details[k]), 80)
		}
	}
	return ""
}
