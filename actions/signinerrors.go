package actions

import (
	"fmt"
	"sort"
	"strings"
)

// SignInError is what a helpdesk person needs to know about one Entra sign-in error
// code: what it means in plain words and what to do next.
type SignInError struct {
	Code    int
	Meaning string // plain words, no trailing full stop
	Next    string // the helpdesk's next step, a sentence
}

// signInErrors holds the codes a helpdesk meets most. The meanings follow Microsoft's
// published reference, "Microsoft Entra authentication and authorization error codes":
// https://learn.microsoft.com/entra/identity-platform/reference-error-codes
// A code whose meaning is not documented there precisely is left out on purpose: an
// unknown code shows Graph's own failure reason rather than a guess.
//
// The bot keys on the code, never on failureReason's text (which Microsoft rewords).
var signInErrors = map[int]SignInError{
	// Interrupts and prompts: steps of a normal sign-in, logged with a code.
	16000: {Meaning: "the user was asked to pick one of several signed-in accounts (an interrupt, not a failure)", Next: "Nothing to fix; the user picks the right account."},
	16001: {Meaning: "the account the user picked from the list cannot be used for this sign-in", Next: "Have the user sign out of all accounts in the browser and sign in again with the work account."},
	50058: {Meaning: "silent sign-in found no signed-in session (the user was not signed in yet)", Next: "Nothing to fix on its own; the app asks the user to sign in interactively."},
	50074: {Meaning: "MFA was required and the user was prompted for it (an interrupt)", Next: "Nothing to fix on its own; check the next sign-in to see whether the MFA step succeeded."},
	50076: {Meaning: "MFA is required here (Conditional Access, per-user MFA, or a new location) and the sign-in had not done it", Next: "Usually an interrupt; if it repeats with no success, check the user's methods (methods) and the MFA detail."},
	50097: {Meaning: "the device had to authenticate first (device authentication required)", Next: "Usually an interrupt; if it repeats, check that the device is registered or joined in Entra ID."},
	50125: {Meaning: "sign-in was interrupted by a password reset or password-reset registration step", Next: "Nothing to fix on its own; the user completes the reset or registration prompt."},
	50140: {Meaning: "the \"Stay signed in?\" prompt interrupted the sign-in", Next: "Nothing to fix; it is a normal prompt."},
	50199: {Meaning: "Entra asked the user to confirm the sign-in for security reasons (an interrupt)", Next: "Nothing to fix on its own; the user confirms and continues."},
	// MFA registration and completion.
	50072:  {Meaning: "the user must register for MFA before signing in (interactive prompt)", Next: "Send the user to https://aka.ms/mysecurityinfo to register a method."},
	50079:  {Meaning: "the user must register for MFA (a policy, or a new location, now requires it)", Next: "Send the user to https://aka.ms/mysecurityinfo to register a method."},
	500121: {Meaning: "the MFA step failed: the prompt was denied, timed out, or the code was wrong", Next: "Ask the user whether they tried to sign in then; prompts they did not expect mean someone else knows the password: reset it and revoke sessions."},
	50088:  {Meaning: "the limit on MFA telephone calls was reached", Next: "Have the user wait a few minutes, or use the Authenticator app instead of a phone call."},
	50158:  {Meaning: "an external security challenge (a third-party MFA or identity provider) was not satisfied", Next: "Check the external MFA provider set up in Conditional Access (custom controls or external authentication methods)."},
	53004:  {Meaning: "the user must register for MFA, and Entra blocked that registration because the sign-in or account is at risk", Next: "An administrator reviews the user's risk in Entra ID Protection; do not help the user register until that is resolved."},
	53010:  {Meaning: "the user cannot register security info from here: policy requires a trusted location or device for registration", Next: "Have the user register from the office network or a managed device."},
	90072:  {Meaning: "the account is not in the tenant it signed in to, so it cannot do that tenant's MFA (an external account not added, or an on-premises anchor mismatch for a synced user)", Next: "Add the account as a guest in the tenant, or, for a synced user, have the identity team check the sourceAnchor/ImmutableID match."},
	// Passwords and account state.
	50126: {Meaning: "wrong user name or password", Next: "If the user did not try to sign in then, someone else is guessing their password; otherwise have them reset it through self-service password reset."},
	50053: {Meaning: "account locked: too many wrong passwords, or sign-in from an IP address known for malicious activity", Next: "Check where the attempts came from (signins --failed); the smart lockout ends by itself, and attempts the user did not make mean an attack."},
	50055: {Meaning: "the password has expired", Next: "Have the user change the password through self-service password reset."},
	50144: {Meaning: "the user's on-premises Active Directory password has expired", Next: "Have the user change the password (self-service reset with writeback) or reset it in Active Directory."},
	50056: {Meaning: "the user has no password in the directory (invalid or empty password)", Next: "Set a password for the user, or check how the account signs in (federation, passwordless)."},
	50057: {Meaning: "the account is disabled", Next: "Find out why it was disabled before enabling it (user shows the state; synced accounts are enabled on-premises)."},
	50034: {Meaning: "the account does not exist in this directory", Next: "Check the spelling of the user name, and that the user signs in to the right tenant."},
	50135: {Meaning: "a password change is required because of account risk", Next: "The user changes the password; an administrator reviews the risk in Entra ID Protection."},
	50142: {Meaning: "a password change is required by a Conditional Access policy", Next: "The user changes the password when prompted."},
	50133: {Meaning: "the session is no longer valid because the password expired or was changed recently", Next: "The user signs in again with the current password."},
	50132: {Meaning: "the session is no longer valid because the password expired or was changed recently", Next: "The user signs in again with the current password."},
	50173: {Meaning: "the token was revoked (by an administrator or the user), so a fresh sign-in is needed", Next: "The user signs in again; expected after a revoke or a password change."},
	50089: {Meaning: "the sign-in took too long and its flow token expired", Next: "The user starts the sign-in again."},
	// Conditional Access and devices.
	53003:  {Meaning: "blocked by a Conditional Access policy", Next: "Look up the policy in the sign-in's Conditional Access detail in the Entra admin center; the policy owner decides."},
	530032: {Meaning: "blocked by a tenant security policy", Next: "An administrator checks the tenant's security policies (Conditional Access, security defaults) against this sign-in."},
	530035: {Meaning: "blocked by security defaults (legacy authentication or an unsafe request)", Next: "The user signs in with a modern client that supports MFA; legacy protocols stay blocked."},
	53000:  {Meaning: "Conditional Access requires a compliant device, and this device is not compliant", Next: "Have the user enroll the device in Intune or fix its compliance, then try again."},
	53001:  {Meaning: "Conditional Access requires a domain-joined device, and this device is not", Next: "The user signs in from a company device."},
	53002:  {Meaning: "the app used is not an approved app for Conditional Access", Next: "The user signs in with an approved app (for example Outlook instead of the built-in mail app)."},
	50131:  {Meaning: "Conditional Access failed (bad device state, suspicious activity, or an access or security policy)", Next: "Read the Conditional Access detail of the sign-in in the Entra admin center."},
	530034: {Meaning: "a delegated administrator was blocked because of account risk in their home tenant", Next: "The administrator's home tenant resolves the account risk."},
	70043:  {Meaning: "the session expired under the sign-in frequency set by Conditional Access", Next: "Nothing to fix; the user signs in again."},
	70044:  {Meaning: "the session expired under the sign-in frequency set by Conditional Access", Next: "Nothing to fix; the user signs in again."},
	50005:  {Meaning: "the user signed in from a device platform that Conditional Access does not support or allow", Next: "The user signs in from a supported platform; the policy owner decides on exceptions."},
	50155:  {Meaning: "device authentication failed for this user", Next: "Check the device's registration in Entra ID; re-register or re-join it if needed."},
	// Tokens and sessions.
	70008:  {Meaning: "the refresh token expired or was revoked", Next: "The user signs in again."},
	700082: {Meaning: "the refresh token expired because it was not used for a long time", Next: "The user signs in again."},
	81010:  {Meaning: "seamless single sign-on failed: the user's Kerberos ticket expired or is invalid", Next: "The user signs in with the password, or signs out of Windows and back in to get a fresh ticket."},
	81012:  {Meaning: "the user signing in is not the user signed in to the device (not an error on its own)", Next: "Nothing to fix unless the user is stuck; it can be ignored in the logs."},
	// Apps and consent.
	50105:   {Meaning: "the user is not assigned to this app (it requires assignment)", Next: "The app owner assigns the user or a group the user belongs to."},
	50020:   {Meaning: "the user's account is not allowed in this tenant (for example a guest that was never invited)", Next: "Invite the user as a guest, or check the user signs in with the right account."},
	65001:   {Meaning: "nobody has consented to the app's permissions for this user", Next: "An administrator grants consent to the app, or the user consents when asked."},
	65004:   {Meaning: "the user declined to consent to the app", Next: "The user signs in again and accepts, or an administrator grants consent."},
	90094:   {Meaning: "the app needs an administrator's consent", Next: "An administrator reviews the app and grants consent (or the user files an admin consent request)."},
	90095:   {Meaning: "the app needs an administrator's consent (the tenant asks for admin review of such apps)", Next: "The user submits the admin consent request; an administrator reviews the app."},
	700016:  {Meaning: "the app was not found in the tenant (not installed or consented)", Next: "The app owner checks the app id and that the app is added to the tenant."},
	7000112: {Meaning: "the app is disabled", Next: "The app owner or an administrator enables the app's enterprise application."},
	500011:  {Meaning: "the resource the app asked for is not in the tenant (its service principal is missing)", Next: "An administrator adds or consents to the resource app in the tenant."},
	50011:   {Meaning: "the app's reply address does not match the addresses registered for it", Next: "The app owner fixes the app's redirect URIs; nothing the user can do."},
	50001:   {Meaning: "the resource the app asked for is disabled or does not exist", Next: "The app owner checks the resource the app requests; nothing the user can do."},
	50059:   {Meaning: "the sign-in request did not say which tenant to sign in to", Next: "The app owner fixes the app's sign-in request (tenant or domain hint)."},
	7000215: {Meaning: "the app presented an invalid client secret", Next: "The app owner renews the app's secret; nothing the user can do."},
}

func init() {
	for code, e := range signInErrors {
		e.Code = code
		signInErrors[code] = e
	}
}

// SignInErrorOf returns the plain explanation of a sign-in error code, if the table
// has one.
func SignInErrorOf(code int) (SignInError, bool) {
	e, ok := signInErrors[code]
	return e, ok
}

// SignInErrorText explains a sign-in error code in plain words, or "" for codes not in
// the table.
func SignInErrorText(code int) string { return signInErrors[code].Meaning }

// SignInReason is the reason shown for a failed sign-in: the plain explanation when
// the code is known, else Graph's own failure reason, else the bare code.
func SignInReason(s SignIn) string {
	if e, ok := signInErrors[s.ErrorCode]; ok {
		return e.Meaning
	}
	if r := strings.TrimSuffix(strings.TrimSpace(s.FailureReason), "."); r != "" {
		return r
	}
	return fmt.Sprintf("error %d", s.ErrorCode)
}

// SignInErrorsIn returns the table's entry for each known code among the failed
// sign-ins, once per code, in code order. Unknown codes are left out: their raw reason
// is already shown beside them.
func SignInErrorsIn(signIns []SignIn) []SignInError {
	seen := map[int]bool{}
	var out []SignInError
	for _, s := range signIns {
		if e, ok := signInErrors[s.ErrorCode]; ok && s.Failed() && !seen[s.ErrorCode] {
			seen[s.ErrorCode] = true
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}
