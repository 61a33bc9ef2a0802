package approvals

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Directory is what the policy needs to know about directory users. bot.ApprovalsDirectory
// implements it over the directory reads of actions; it is asked at filing, at every
// decision and again when an approved request is claimed for execution, never cached
// here, so removing someone from a group takes effect at once.
type Directory interface {
	// IsMember reports whether the user is a (transitive) member of the group.
	IsMember(ctx context.Context, userObjectID, groupID string) (bool, error)
	// Protection reports whether the user is a protected account and why.
	Protection(ctx context.Context, objectID string) (Protection, error)
}

// Protection says whether a target is protected (holds a directory role, is flagged
// isAdmin, or is in a configured protected group) and why, in words for the card.
type Protection struct {
	Protected bool     `json:"protected"`
	Reasons   []string `json:"reasons,omitempty"`
}

// ProtectedMode is what the policy does with requests about protected targets.
type ProtectedMode string

// Protected modes.
const (
	// ProtectedRefuse refuses requests about protected targets; it is the default.
	ProtectedRefuse ProtectedMode = "refuse"
	// ProtectedTwoApprovers requires two distinct approvers.
	ProtectedTwoApprovers ProtectedMode = "two_approvers"
)

// Policy defaults.
const (
	DefaultTTL        = 30 * time.Minute
	DefaultRateLimit  = 5
	DefaultRateWindow = time.Hour
)

// Policy is the configured two-person rule. Zero values mean the documented default;
// the two groups have no default, and New refuses to start without them.
type Policy struct {
	// HelpdeskGroupID is the directory group whose members may file requests.
	HelpdeskGroupID string
	// ApproversGroupID is the directory group whose members may decide requests.
	ApproversGroupID string
	// Protected says what to do with protected targets; "" means ProtectedRefuse.
	Protected ProtectedMode
	// AllowPhoneKBA allows phone_kba as verification for targets that are not
	// protected. It is never enough for a protected target.
	AllowPhoneKBA bool
	// TTL is how long a request may stay pending (default 30 minutes).
	TTL time.Duration
	// RateLimit is how many requests one requester may file per RateWindow
	// (defaults 5 per hour).
	RateLimit  int
	RateWindow time.Duration
	// TicketOptional lets requests be filed without a ticket id.
	TicketOptional bool
	// RequireJustification makes approvers give a justification with every decision.
	RequireJustification bool
	// Resume lists, per action, whether Recover resumes a request interrupted by a
	// restart (true: Execute is called again) or marks it failed (false or absent).
	Resume map[Action]bool
	// MinEvidence says, per action, whether the identity check must be performed
	// by mfadesk (target confirmation) or may be claimed by the agent; an absent
	// action means claimed. MinEvidenceProtected, when set, replaces it for
	// protected targets. See DefaultMinEvidence.
	MinEvidence          map[Action]Minimum
	MinEvidenceProtected map[Action]Minimum
	// ConfirmTTL is how long a target confirmation may be answered (default 10 minutes).
	ConfirmTTL time.Duration
	// FreezeFor is how long "This is not me" freezes the target (default 24 hours).
	FreezeFor time.Duration
	// NotifyManager sends the target's manager a copy of the notice after every
	// executed write (the bot reads it; approvals does not).
	NotifyManager bool
	// WatchFor is how long, after a re-register or a temporary access pass ran,
	// mfadesk watches the target's security-info registrations (see Watcher); 0 turns
	// the watch off.
	WatchFor time.Duration
	// BulkTwoApproversAbove is the size of a bulk request above which two distinct
	// approvers are required (default DefaultBulkTwoApproversAbove).
	BulkTwoApproversAbove int
	// BulkMax is the most users one bulk request may name (default DefaultBulkMax).
	BulkMax int
}

// normalized fills in defaults and refuses a policy that would fail open.
func (p Policy) normalized() (Policy, error) {
	var ok bool
	if p.HelpdeskGroupID, ok = normOID(p.HelpdeskGroupID); !ok {
		return p, errors.New("the helpdesk group id is missing or not a GUID; without it nobody could be told apart from helpdesk staff")
	}
	if p.ApproversGroupID, ok = normOID(p.ApproversGroupID); !ok {
		return p, errors.New("the approvers group id is missing or not a GUID; without it nobody could be told apart from approvers")
	}
	switch p.Protected {
	case "":
		p.Protected = ProtectedRefuse
	case ProtectedRefuse, ProtectedTwoApprovers:
	default:
		return p, fmt.Errorf("protected mode %q is neither %q nor %q", p.Protected, ProtectedRefuse, ProtectedTwoApprovers)
	}
	if p.TTL < 0 || p.RateLimit < 0 || p.RateWindow < 0 {
		return p, errors.New("ttl, rate limit and rate window must not be negative")
	}
	if p.TTL == 0 {
		p.TTL = DefaultTTL
	}
	if p.BulkTwoApproversAbove < 0 || p.BulkMax < 0 {
		return p, errors.New("bulk_two_approvers_above and bulk_max must not be negative")
	}
	if p.BulkTwoApproversAbove == 0 {
		p.BulkTwoApproversAbove = DefaultBulkTwoApproversAbove
	}
	if p.BulkMax == 0 {
		p.BulkMax = DefaultBulkMax
	}
	if p.RateLimit == 0 {
		p.RateLimit = DefaultRateLimit
	}
	if p.RateWindow == 0 {
		p.RateWindow = DefaultRateWindow
	}
	if p.WatchFor < 0 {
		return p, errors.New("the watch after a reset must not be negative (0 turns it off)")
	}
	resume := make(map[Action]bool, len(p.Resume))
	for a, v := range p.Resume {
		if !a.valid() {
			return p, fmt.Errorf("resume names unknown action %q", a)
		}
		resume[a] = v
	}
	p.Resume = resume // a copy, so the caller's map can't change policy underneath us
	if err := p.normalizeEvidence(); err != nil {
		return p, err
	}
	return p, nil
}

// requireMember refuses unless the user is in the group; a directory error refuses
// too, because an unknown answer must not open the door.
func (s *Service) requireMember(ctx context.Context, userOID, groupID string, code Code, msg string) error {
	ok, err := s.dir.IsMember(ctx, userOID, groupID)
	return memberRefusal(ok, err, code, msg)
}

// memberRefusal is requireMember's rule applied to the directory's answer.
func memberRefusal(ok bool, err error, code Code, msg string) error {
	var ie *IneligibleError
	if errors.As(err, &ie) {
		return &Error{Code: ErrIneligible, Msg: "Your directory account " + ie.Why + ", so mfadesk cannot act for you.", Err: err}
	}
	if err != nil {
		return &Error{Code: ErrDirectoryUnavailable,
			Msg: "The directory could not be asked about group membership, so nothing was done; try again shortly.",
			Err: err}
	}
	if !ok {
		return refusef(code, "%s", msg)
	}
	return nil
}

// assessTarget asks the directory whether the target is protected and applies the
// protected-target and verification-strength rules. It returns the protection and
// how many distinct approvals the request needs.
func (s *Service) assessTarget(ctx context.Context, action Action, t Target, v Verification) (Protection, int, error) {
	prot, err := s.dir.Protection(ctx, t.ObjectID)
	return s.targetAssessment(prot, err, t, v)
}

// targetAssessment is assessTarget's rules applied to the directory's answer.
func (s *Service) targetAssessment(prot Protection, err error, t Target, v Verification) (Protection, int, error) {
	if err != nil {
		return Protection{}, 0, &Error{Code: ErrDirectoryUnavailable,
			Msg: fmt.Sprintf("The directory could not be asked whether %s is a protected account, so nothing was done; try again shortly.", t),
			Err: err}
	}
	needed := 1
	why := strings.Join(prot.Reasons, "; ")
	if why == "" {
		why = "the directory says so"
	}
	if prot.Protected {
		if s.policy.Protected == ProtectedRefuse {
			return prot, 0, refusef(ErrProtectedTarget,
				"The account %s is protected (%s), and requests about protected accounts are refused here; ask a Global or Privileged Authentication Administrator.", t, why)
		}
		needed = 2
	}
	// Every action that names a verification is held to the policy, not only those
	// that require one: a weak check must not be recorded as accepted anywhere.
	if v.Method != "" && !s.policy.Accepts(v.Method, prot.Protected) {
		return prot, 0, weakVerification(prot.Protected, why)
	}
	return prot, needed, nil
}

// weakVerification refuses a verification method the policy does not accept.
func weakVerification(protected bool, why string) *Error {
	if protected {
		return refusef(ErrWeakVerification,
			"A phone knowledge check is not enough for a protected account (%s); verify in person, by video with ID, by a challenge to an existing factor, by callback to the number on record, or by manager attestation.", why)
	}
	return refusef(ErrWeakVerification,
		"A phone knowledge check is not accepted as identity verification here; verify in person, by video with ID, by a challenge to an existing factor, by callback to the number on record, or by manager attestation.")
}

// Accepts reports whether the policy accepts m as identity verification for a
// target (protected or not). It is the one rule both the refusal at filing and the
// choices a form offers follow, so a form never offers what filing refuses.
func (p Policy) Accepts(m VerificationMethod, protected bool) bool {
	if !m.valid() {
		return false
	}
	if m == VerifyPhoneKBA {
		return p.AllowPhoneKBA && !protected
	}
	return true
}

// checkDecision applies the state and identity rules to a decision by `by` at `now`.
// It is pure, so the same rules run before asking the directory (to spare a Graph
// call on a doomed click) and again inside the transaction that writes the decision.
func checkDecision(r Request, by Actor, now time.Time) *Error {
	switch r.State {
	case StatePending:
	case StateExpired:
		return expiredError(r)
	default:
		return alreadyDecided(r)
	}
	if !now.Before(r.Expires) {
		return expiredError(r)
	}
	if sameOID(by.ObjectID, r.Requester.ObjectID) {
		return refusef(ErrSelfApproval, "You cannot decide request %s because you filed it; another approver must.", r.ID)
	}
	if r.concerns(by.ObjectID) {
		return refusef(ErrTargetIsActor, "You cannot decide request %s because it is about your own account.", r.ID)
	}
	for _, d := range r.Approvals() {
		if sameOID(d.By.ObjectID, by.ObjectID) {
			return refusef(ErrAlreadyDecided, "You already approved request %s; it needs a second approval from someone else.", r.ID)
		}
	}
	return nil
}

func expiredError(r Request) *Error {
	return refusef(ErrExpired, "Request %s expired at %s; file a new request if it is still needed.", r.ID, fmtTime(r.Expires))
}

func alreadyDecided(r Request) *Error {
	last := Actor{}
	if n := len(r.Decisions); n > 0 {
		last = r.Decisions[n-1].By
	}
	switch r.State {
	case StateApproved, StateExecuting:
		return refusef(ErrAlreadyDecided, "Request %s was already approved by %s and is being carried out.", r.ID, last)
	case StateSucceeded:
		return refusef(ErrAlreadyDecided, "Request %s was already approved by %s and carried out.", r.ID, last)
	case StateFailed:
		return refusef(ErrAlreadyDecided, "Request %s was already approved, and carrying it out failed; see its card.", r.ID)
	case StateDenied:
		return refusef(ErrAlreadyDecided, "Request %s was already denied by %s.", r.ID, last)
	case StateCancelled:
		return refusef(ErrAlreadyDecided, "Request %s was cancelled by its requester.", r.ID)
	}
	return refusef(ErrAlreadyDecided, "Request %s is already %s.", r.ID, r.State)
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// fmtWindow says a duration the way a person would.
func fmtWindow(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "hour"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}
