package approvals

// Refusal codes of the caller rule, for refusals the bot makes before a request
// exists (a lookup, a form) and for the directory's answer at filing and decision.
const (
	// ErrIneligible: the caller's directory account may not act through mfadesk at
	// all, whatever its groups: disabled, a guest, or no longer in the directory.
	ErrIneligible Code = "ineligible"
	// ErrNoRights: the caller is in neither the helpdesk nor the approvers group.
	ErrNoRights Code = "no_rights"
)

// IneligibleError is what a Directory's IsMember returns for a user who exists in
// no usable form (disabled, a guest, deleted): group membership is then beside the
// point, and the refusal must name the real cause rather than "not in the group".
type IneligibleError struct {
	// Why completes "The directory account …", e.g. "is disabled".
	Why string
}

func (e *IneligibleError) Error() string { return "the directory account " + e.Why }
