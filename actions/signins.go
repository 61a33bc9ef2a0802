package actions

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Interrupts are normal steps of a sign-in (an MFA prompt, "stay signed in?"), logged
// with an error code: they are not failures to count.
var signInInterrupts = map[int]bool{50074: true, 50076: true, 50125: true, 50140: true, 50097: true, 50058: true, 16000: true}

// Enrolment interrupts mean Entra ID wants the user to register for MFA.
var signInEnrolment = map[int]bool{50072: true, 50079: true}

// MFA failures: the second factor was tried and did not succeed.
var signInMFAFailure = map[int]bool{500121: true, 50088: true, 50158: true}

type failureGroup struct {
	code        int
	reason      string
	count       int
	details     map[string]int
	first, last time.Time
	ips, places map[string]bool
	apps        map[string]bool
}

type failureSummary struct {
	total, mfa, denied, fraud int
	enrolment                 int
	enrolmentCodes            []string
	groups                    []*failureGroup
	unfamiliar                []string
	first, last               time.Time
}

// summariseFailures groups the failed sign-ins of the burst window (the 24 hours up to
// the newest failure) by error code.
func summariseFailures(ev Evidence) failureSummary {
	var f failureSummary
	if !ev.Has(SourceSignIns) {
		return f
	}
	var newest time.Time
	for _, s := range ev.SignIns {
		if s.Failed() && s.Time.After(newest) {
			newest = s.Time
		}
	}
	okPlaces := map[string]bool{}
	byCode := map[int]*failureGroup{}
	enrolCodes := map[string]bool{}
	for _, s := range ev.SignIns {
		if !s.Failed() {
			okPlaces[s.Location] = true
			continue
		}
		if signInEnrolment[s.ErrorCode] {
			f.enrolment++
			enrolCodes[fmt.Sprint(s.ErrorCode)] = true
			continue
		}
		if signInInterrupts[s.ErrorCode] || newest.Sub(s.Time) > burstWindow {
			continue
		}
		g := byCode[s.ErrorCode]
		if g == nil {
			g = &failureGroup{code: s.ErrorCode, reason: SignInReason(s), details: map[string]int{},
				ips: map[string]bool{}, places: map[string]bool{}, apps: map[string]bool{}, first: s.Time, last: s.Time}
			byCode[s.ErrorCode] = g
		}
		g.count++
		f.total++
		if s.Time.Before(g.first) {
			g.first = s.Time
		}
		if s.Time.After(g.last) {
			g.last = s.Time
		}
		if f.first.IsZero() || s.Time.Before(f.first) {
			f.first = s.Time
		}
		if s.Time.After(f.last) {
			f.last = s.Time
		}
		g.ips[s.IP] = true
		g.places[s.Location] = true
		if s.App != "" {
			g.apps[s.App] = true
		}
		if signInMFAFailure[s.ErrorCode] {
			f.mfa++
		}
		if d := s.MFADetail(); d != "" {
			g.details[d]++
			ld := strings.ToLower(d)
			if strings.Contains(ld, "fraud") {
				f.fraud++
			}
			if strings.Contains(ld, "denied") || strings.Contains(ld, "declined") || strings.Contains(ld, "fraud") {
				f.denied++
			}
		}
	}
	for c := range enrolCodes {
		f.enrolmentCodes = append(f.enrolmentCodes, c)
	}
	sort.Strings(f.enrolmentCodes)
	for _, g := range byCode {
		f.groups = append(f.groups, g)
	}
	sort.Slice(f.groups, func(i, j int) bool {
		if f.groups[i].count != f.groups[j].count {
			return f.groups[i].count > f.groups[j].count
		}
		return f.groups[i].code < f.groups[j].code
	})
	// Places of failures never seen in a successful sign-in: only meaningful when there
	// are successes to compare with.
	if len(okPlaces) > 0 {
		seen := map[string]bool{}
		for _, g := range f.groups {
			for p := range g.places {
				if p != "" && !okPlaces[p] && !seen[p] {
					seen[p] = true
					f.unfamiliar = append(f.unfamiliar, p)
				}
			}
		}
		sort.Strings(f.unfamiliar)
	}
	return f
}

// suspicious: the pattern of someone else holding the password: MFA prompts the user
// declined or reported, or MFA failures from places the user does not sign in from.
func (f failureSummary) suspicious() bool {
	return f.fraud > 0 || f.denied >= burstCount || (len(f.unfamiliar) > 0 && (f.denied > 0 || f.mfa > 0))
}

func (f failureSummary) title() string {
	span := f.last.Sub(f.first)
	if span < 2*time.Hour {
		return fmt.Sprintf("%d failed sign-ins in %d minutes", f.total, int(span.Minutes())+1)
	}
	return fmt.Sprintf("%d failed sign-ins between %s and %s", f.total, when(f.first), when(f.last))
}

func (f failureSummary) detail() string {
	var parts []string
	for _, g := range f.groups {
		p := fmt.Sprintf("%d × %d (%s", g.code, g.count, g.reason)
		if len(g.details) > 0 {
			p += ": " + countList(g.details)
		}
		parts = append(parts, p+")")
	}
	out := "By error code: " + strings.Join(parts, "; ") + "."
	for _, g := range f.groups {
		if e, ok := SignInErrorOf(g.code); ok {
			out += fmt.Sprintf(" For %d: %s", g.code, e.Next)
		}
	}
	if f.denied > 0 {
		out += " An MFA prompt means the password was accepted: prompts the user did not expect mean someone else likely knows it."
	}
	if f.fraud > 0 {
		out += " The user reported fraud on a prompt."
	}
	if len(f.unfamiliar) > 0 {
		out += " Failures came from places not seen in the user's successful sign-ins: " + strings.Join(f.unfamiliar, "; ") + "."
	}
	return out
}

func (f failureSummary) evidence() []string {
	var out []string
	for _, g := range f.groups {
		out = append(out, fmt.Sprintf("sign-ins: error %d × %d, %s – %s, app %s, IP %s, from %s",
			g.code, g.count, when(g.first), g.last.UTC().Format("15:04 UTC"), keys(g.apps), keys(g.ips), keys(g.places)))
	}
	return out
}

func countList(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].v != l[j].v {
			return l[i].v > l[j].v
		}
		return l[i].k < l[j].k
	})
	var out []string
	for _, e := range l {
		out = append(out, fmt.Sprintf("%d × “%s”", e.v, e.k))
	}
	return strings.Join(out, ", ")
}

func keys(m map[string]bool) string {
	var out []string
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "unknown"
	}
	return strings.Join(out, ", ")
}
