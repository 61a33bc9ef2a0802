package bot

import "github.com/mfadesk/mfadesk/approvals"

// offeredVerifications are the verification methods the form offers: all of them,
// less phone_kba when the policy refuses it (the default), so nobody picks an option
// only to be refused. Display only: approvals checks the method again on filing.
func (r *Router) offeredVerifications() []Choice {
	all := VerificationChoices()
	p, ok := r.req.(interface{ Policy() approvals.Policy })
	if !ok || p.Policy().AllowPhoneKBA {
		return all
	}
	out := all[:0:0]
	for _, c := range all {
		if c.Value != string(approvals.VerifyPhoneKBA) {
			out = append(out, c)
		}
	}
	return out
}
