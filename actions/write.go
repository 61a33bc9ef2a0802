package actions

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// Writer is what the approvals executor needs: the two approved actions and the
// temporary access pass that lets a user register again. Each takes the target's object
// id (never a name: a request is bound to one directory object) and is safe to retry.
type Writer interface {
	// RevokeSessions signs the user out everywhere (Graph revokeSignInSessions).
	RevokeSessions(ctx context.Context, userID string) (Result, error)
	// Reregister deletes the user's phone, Authenticator and software OATH methods (the
	// set is configurable) in an order planned before the first write, then revokes
	// sessions. It refuses with KindStale when the user has a method that is not in
	// snapshot (the methods the request was approved against); a method of snapshot
	// that is already gone is reported as such. onStep, if not nil, is called as each
	// step finishes, so the caller can record progress before the next write.
	Reregister(ctx context.Context, userID string, snapshot []MethodRef, onStep func(Step)) (Result, error)
	// IssueTAP creates a temporary access pass. The pass is in the result only once.
	IssueTAP(ctx context.Context, userID string, lifetime time.Duration, usableOnce bool) (TAP, error)
}

// DefaultReregisterTypes are the method types a re-register deletes unless configured
// otherwise: what the portal's "Require re-register MFA" deletes.
func DefaultReregisterTypes() []MethodType {
	return []MethodType{MethodPhone, MethodAuthenticator, MethodSoftwareOath}
}

// MethodRef names one authentication method as it was when a request was filed: what
// the approver saw and approved. Label is masked: it is stored and shown on cards.
type MethodRef struct {
	ID    string     `json:"id"`
	Type  MethodType `json:"type"`
	Label string     `json:"label"`
}

// Snapshot records methods for a request, sorted by type and id so two snapshots of the
// same methods are equal.
func Snapshot(methods []Method) []MethodRef {
	out := make([]MethodRef, 0, len(methods))
	for _, m := range methods {
		out = append(out, MethodRef{ID: m.ID, Type: m.Type, Label: m.Label()})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// SnapshotDiff says how current methods differ from an approved snapshot. Added are
// methods the approver never saw (a new method, or a changed one: another phone number
// behind the same id); Gone are approved methods that no longer exist. Only Added makes
// a snapshot stale: Gone is what a resumed run finds after deleting some already.
type SnapshotDiff struct {
	Added []MethodRef
	Gone  []MethodRef
}

// Stale reports whether acting now would act on something the approver did not see.
func (d SnapshotDiff) Stale() bool { return len(d.Added) > 0 }

// DiffSnapshot compares the current methods with an approved snapshot. The password
// method is ignored on both sides: every user has it, nothing deletes it, and a request
// may leave it out of its snapshot.
func DiffSnapshot(approved, current []MethodRef) SnapshotDiff {
	key := func(r MethodRef) string { return string(r.Type) + "\x00" + strings.ToLower(r.ID) + "\x00" + r.Label }
	inApproved := map[string]bool{}
	for _, r := range approved {
		inApproved[key(r)] = true
	}
	inCurrent := map[string]bool{}
	var d SnapshotDiff
	for _, r := range current {
		if r.Type == MethodPassword {
			continue
		}
		inCurrent[key(r)] = true
		if !inApproved[key(r)] {
			d.Added = append(d.Added, r)
		}
	}
	for _, r := range approved {
		if !inCurrent[key(r)] && r.Type != MethodPassword {
			d.Gone = append(d.Gone, r)
		}
	}
	return d
}

// ReregisterPlan is a whole re-register deletion, planned before the first write so
// that a run Graph would stop half-way never starts.
type ReregisterPlan struct {
	// SetDefault is the sign-in preference (userPreferredMethodForSecondaryAuthentication)
	// to set before any deletion, "" for none; NewDefault is the method it names.
	SetDefault string
	NewDefault Method
	// Delete is the deletion order.
	Delete []Method
}

// PlanReregister orders the deletion of the user's methods of the inScope types by
// Graph's rules: it refuses to delete the default second factor while any other one
// remains, and to delete the mobile phone while an alternate mobile remains. So
// Authenticator and OATH go first, then the office, alternate mobile and mobile phones,
// and the default last. Where the rules conflict (the default is the alternate mobile
// and the mobile goes too) or the default cannot go last (a method out of scope stays),
// the plan first moves the default preference to a method that can. With the default
// unknown (preferences and report unreadable) the run finds it by Graph's refusal,
// except when both mobile phones are present: no order is then known to be safe, and
// the plan refuses. The error says in one sentence why; nothing has been written.
func PlanReregister(ev Evidence, inScope []MethodType) (ReregisterPlan, error) {
	scope := map[MethodType]bool{}
	for _, t := range inScope {
		scope[t] = true
	}
	var del, kept []Method
	for _, m := range ev.Methods {
		switch {
		case scope[m.Type]:
			del = append(del, m)
		case secondFactor(m.Type):
			kept = append(kept, m)
		}
	}
	sort.SliceStable(del, func(i, j int) bool { return deleteRank(del[i]) < deleteRank(del[j]) })
	plan := ReregisterPlan{Delete: del}
	phone := func(ms []Method, t string) int {
		for i, m := range ms {
			if m.Type == MethodPhone && m.PhoneType == t {
				return i
			}
		}
		return -1
	}
	pref := preferredMethod(ev)
	known := ev.Has(SourcePreferences) || (ev.Has(SourceRegistration) && ev.Registration != nil)
	if !known {
		if phone(del, "alternateMobile") >= 0 && phone(del, "mobile") >= 0 {
			return ReregisterPlan{}, &Error{Kind: KindBadRequest, Op: "plan the re-register",
				Message: "The user's default sign-in method could not be read and they have both a mobile and an alternate mobile phone, so no deletion order is known to be safe; nothing was deleted."}
		}
		return plan, nil
	}
	d := defaultMethodIndex(ev.Methods, pref)
	if d < 0 || !scope[ev.Methods[d].Type] {
		return plan, nil // no default, or one that stays: any order of the rest works
	}
	def := ev.Methods[d]
	switch {
	case len(kept) > 0:
		// The default cannot be deleted while a kept second factor remains: make the
		// strongest kept one the default first.
		sort.SliceStable(kept, func(i, j int) bool { return deleteRank(kept[i]) < deleteRank(kept[j]) })
		plan.NewDefault = kept[0]
	case def.Type == MethodPhone && def.PhoneType == "alternateMobile" && phone(del, "mobile") >= 0:
		// The alternate mobile must go before the mobile, and the default last: make
		// the mobile, which goes last anyway, the default first.
		plan.NewDefault = del[phone(del, "mobile")]
	default:
		for i, m := range del {
			if m.ID == def.ID && m.Type == def.Type {
				plan.Delete = append(append(append([]Method(nil), del[:i]...), del[i+1:]...), m)
				break
			}
		}
		return plan, nil
	}
	plan.SetDefault = preferenceFor(plan.NewDefault, pref)
	return plan, nil
}

// secondFactor reports whether a method type can be the default second factor (and so
// keeps Graph from deleting the default while it remains).
func secondFactor(t MethodType) bool {
	return t == MethodPhone || t == MethodAuthenticator || t == MethodSoftwareOath
}

// deleteRank orders deletions: Authenticator and other types first, then software OATH,
// then office, alternate mobile and mobile phones (Graph keeps no alternate mobile
// without a mobile).
func deleteRank(m Method) int {
	switch {
	case m.Type == MethodPhone && m.PhoneType == "mobile":
		return 4
	case m.Type == MethodPhone && m.PhoneType == "alternateMobile":
		return 3
	case m.Type == MethodPhone:
		return 2
	case m.Type == MethodSoftwareOath:
		return 1
	}
	return 0
}

// preferenceFor is the sign-in preference value that makes m the default. A phone keeps
// the current channel (a voice default stays a call), else a text message.
func preferenceFor(m Method, current string) string {
	switch {
	case m.Type == MethodAuthenticator:
		return "push"
	case m.Type == MethodSoftwareOath:
		return "oath"
	case m.PhoneType == "alternateMobile":
		return "voiceAlternateMobile"
	case m.PhoneType == "office":
		return "voiceOffice"
	case strings.HasPrefix(current, "voice"):
		return "voiceMobile"
	}
	return "sms"
}

// Outcome of one step of a write action.
type Outcome string

// Outcomes.
const (
	OutcomeDone        Outcome = "done"
	OutcomeDeleted     Outcome = "deleted"
	OutcomeAlreadyGone Outcome = "already gone"
	OutcomeFailed      Outcome = "failed"
	OutcomeNotTried    Outcome = "not attempted"
)

// Step is one thing a write action did or failed to do. It is stored, audited and shown
// on cards, so it never holds a secret or a full phone number.
type Step struct {
	Action  string    `json:"action"` // "delete method", "revoke sessions", "issue temporary access pass"
	Method  MethodRef `json:"method"` // for deletions; zero otherwise
	Outcome Outcome   `json:"outcome"`
	Reason  string    `json:"reason,omitempty"` // why it failed or was not attempted
	At      time.Time `json:"at"`
}

// String is the step in one line, e.g. "delete method mobile +1 425•••••99: deleted".
func (s Step) String() string {
	out := s.Action
	if s.Method.Label != "" {
		out += " " + s.Method.Label
	}
	out += ": " + string(s.Outcome)
	if s.Reason != "" {
		out += " (" + s.Reason + ")"
	}
	return out
}

// Result is what a write action did, step by step, with an honest summary.
type Result struct {
	Summary string `json:"summary"`
	Steps   []Step `json:"steps"`
}

// Failed reports whether any step failed.
func (r Result) Failed() bool {
	for _, s := range r.Steps {
		if s.Outcome == OutcomeFailed {
			return true
		}
	}
	return false
}

// RevokeSummary is what revoking sessions really does. The portal's "Revoke MFA
// sessions" only clears remembered MFA; Graph has no such call, and
// revokeSignInSessions is broader: it signs the user out of every app and browser.
const RevokeSummary = "Signed the user out everywhere: every refresh token and browser session is revoked (broader than the portal's \"Revoke MFA sessions\"), so they must sign in again, with MFA, on every device. It can take a few minutes to reach every app."

// TAP is a temporary access pass. The pass itself is unexported and read with Reveal:
// formatting, logging (slog), and JSON encoding all show it redacted, so it cannot
// reach a log or an audit event by accident. Deliver it once, privately.
type TAP struct {
	pass       string
	MethodID   string
	Created    time.Time
	Start      time.Time
	Lifetime   time.Duration
	UsableOnce bool
}

// NewTAP wraps a pass returned by the directory.
func NewTAP(pass, methodID string, created, start time.Time, lifetime time.Duration, usableOnce bool) TAP {
	return TAP{pass: pass, MethodID: methodID, Created: created, Start: start, Lifetime: lifetime, UsableOnce: usableOnce}
}

// Reveal returns the pass. Call it only to show the pass to the person who delivers it.
func (t TAP) Reveal() string { return t.pass }

// String describes the pass without revealing it.
func (t TAP) String() string {
	use := "multi-use"
	if t.UsableOnce {
		use = "one-time"
	}
	return fmt.Sprintf("temporary access pass [redacted], %s, valid %s from %s", use, t.Lifetime, t.Start.UTC().Format(time.RFC3339))
}

// GoString keeps %#v from printing the pass.
func (t TAP) GoString() string { return "actions.TAP{" + t.String() + "}" }

// LogValue keeps slog from printing the pass.
func (t TAP) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("pass", "[redacted]"),
		slog.String("method_id", t.MethodID),
		slog.Time("start", t.Start),
		slog.Duration("lifetime", t.Lifetime),
		slog.Bool("usable_once", t.UsableOnce),
	)
}

// MarshalJSON keeps encoders from writing the pass.
func (t TAP) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`{"pass":"[redacted]","method_id":%q,"start":%q,"lifetime_minutes":%d,"usable_once":%t}`,
		t.MethodID, t.Start.UTC().Format(time.RFC3339), int(t.Lifetime/time.Minute), t.UsableOnce)), nil
}

// MaskPhone masks a phone number for anything that leaves the caller's private answer:
// the country code, the first three and the last two digits stay, e.g.
// "+1 4255550199" → "+1 425•••••99". Numbers too short to mask that way keep only their
// last two digits.
func MaskPhone(number string) string {
	number = strings.TrimSpace(number)
	if number == "" {
		return ""
	}
	prefix, national := "", number
	if strings.HasPrefix(number, "+") {
		if cc, rest, ok := strings.Cut(number, " "); ok {
			prefix, national = cc+" ", rest
		}
	}
	var digits []rune
	for _, r := range national {
		if r >= '0' && r <= '9' {
			digits = append(digits, r)
		}
	}
	if len(digits) == 0 {
		return prefix + "•••"
	}
	keepHead, keepTail := 3, 2
	if len(digits) < keepHead+keepTail+3 {
		keepHead = 0
	}
	if len(digits) <= keepTail {
		keepTail = 0
	}
	var b strings.Builder
	b.WriteString(prefix)
	for i, r := range digits {
		if i < keepHead || i >= len(digits)-keepTail {
			b.WriteRune(r)
		} else {
			b.WriteString("•")
		}
	}
	return b.String()
}

// MaskEmail keeps the first letter of the local part and the domain: "j•••@contoso.com".
func MaskEmail(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" {
		return "•••"
	}
	return string([]rune(local)[:1]) + "•••@" + domain
}
