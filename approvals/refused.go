package approvals

import "context"

// ErrWrongCard: a decision arrived from somewhere other than the card mfadesk posted
// for that request (another request's card, a private chat, a forged payload).
const ErrWrongCard Code = "wrong_card"

// Refused appends an access_refused event for an attempt refused outside the
// Service's own calls — a lookup by someone without rights, a click on the wrong
// card — so probing is visible in the audit log. It never fails the caller: a
// failure to record is logged. An unaudited code (ErrInvalid) records nothing.
func (s *Service) Refused(ctx context.Context, attempt string, by Actor, requestID string, target Target, code Code, msg string) {
	s.recordRefusal(ctx, attempt, by.normalized(), requestID, "", target, refusef(code, "%s", msg))
}
