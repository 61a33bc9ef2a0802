package actions

// Reasons a bulk re-register skips a user under the rule of Microsoft's rollback
// procedure: roll a user back only if they have methods to reset and per-user MFA is
// not turned on for them.
const (
	SkipNoMethods  = "no phone, Authenticator or OATH method"
	SkipPerUserMFA = "per-user MFA is enabled or enforced"
	SkipGuest      = "guest account"
	SkipUnreadable = "methods or per-user MFA state could not be read"
)

// ReregisterSkip applies the rollback rule to a user's evidence (methods and per-user
// MFA state): "" when the user is eligible, else the reason to skip them. It fails
// closed: a source that could not be read skips the user rather than guess.
func ReregisterSkip(ev Evidence, inScope []MethodType) string {
	if ev.User.UserType == "Guest" {
		return SkipGuest
	}
	if !ev.Has(SourceMethods) || !ev.Has(SourcePerUserMFA) || ev.PerUserMFA == "" {
		return SkipUnreadable
	}
	if ev.PerUserMFA == "enabled" || ev.PerUserMFA == "enforced" {
		return SkipPerUserMFA
	}
	scope := map[MethodType]bool{}
	for _, t := range inScope {
		scope[t] = true
	}
	for _, m := range ev.Methods {
		if scope[m.Type] {
			return ""
		}
	}
	return SkipNoMethods
}
