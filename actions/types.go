package actions

import (
	"context"
	"strings"
	"time"
)

// User is what the bot shows about a directory user.
type User struct {
	ID                     string
	DisplayName            string
	UPN                    string
	Mail                   string
	UserType               string // Member or Guest
	Enabled                bool
	OnPremisesSynced       bool
	Created                time.Time
	LastPasswordChange     time.Time
	SessionsValidFrom      time.Time // reset by revokeSignInSessions
	LastSignIn             time.Time // zero when unknown (needs P1 / permission)
	MFAGroups              []string  // configured MFA-relevant groups the user is a transitive member of
	Roles                  []string  // directory roles held
	GroupsNote, SignInNote string    // why a section is missing (permission, licence), if it is
}

// IsAdmin reports whether the user holds any directory role.
func (u User) IsAdmin() bool { return len(u.Roles) > 0 }

// MethodType names an authentication method by its Graph @odata.type suffix.
type MethodType string

// The v1.0 method types.
const (
	MethodPassword        MethodType = "password"
	MethodAuthenticator   MethodType = "microsoftAuthenticator"
	MethodPhone           MethodType = "phone"
	MethodSoftwareOath    MethodType = "softwareOath"
	MethodFido2           MethodType = "fido2"
	MethodWindowsHello    MethodType = "windowsHelloForBusiness"
	MethodPlatformCred    MethodType = "platformCredential"
	MethodEmail           MethodType = "email"
	MethodTemporaryAccess MethodType = "temporaryAccessPass"
	MethodUnknown         MethodType = "unknown"
)

// Method is one registered authentication method.
type Method struct {
	ID          string
	Type        MethodType
	DisplayName string // device name, key name
	PhoneNumber string // full number: mask with MaskPhone before it leaves the caller's private answer
	PhoneType   string // mobile, alternateMobile, office
	Detail      string // e.g. Authenticator version, FIDO2 model, email address
	Created     time.Time
	Default     bool
	// Usable is nil when nothing says either way, false when evidence says the method
	// cannot complete MFA, true when evidence says it can (set by Usability).
	Usable *bool
	// UsableWhy is the evidence behind Usable, in one line.
	UsableWhy string
	// ODataType is Graph's @odata.type, kept for types this package does not know.
	ODataType string
}

// Label names the method for people without personal data: phone numbers and e-mail
// addresses masked. It is what approval cards, audit events and results show.
func (m Method) Label() string {
	switch m.Type {
	case MethodPhone:
		return strings.TrimSpace(phoneTypeLabel(m.PhoneType) + " " + MaskPhone(m.PhoneNumber))
	case MethodEmail:
		return "email " + MaskEmail(m.Detail)
	case MethodPassword:
		return "password"
	case MethodSoftwareOath:
		return "software OATH token"
	case MethodTemporaryAccess:
		return "temporary access pass"
	}
	name := TypeLabel(m.Type)
	if m.DisplayName != "" {
		name += " (" + m.DisplayName + ")"
	}
	return name
}

// TypeLabel names a method type for people.
func TypeLabel(t MethodType) string {
	switch t {
	case MethodPassword:
		return "password"
	case MethodAuthenticator:
		return "Microsoft Authenticator"
	case MethodPhone:
		return "phone"
	case MethodSoftwareOath:
		return "software OATH token"
	case MethodFido2:
		return "FIDO2 security key"
	case MethodWindowsHello:
		return "Windows Hello for Business"
	case MethodPlatformCred:
		return "platform credential"
	case MethodEmail:
		return "email"
	case MethodTemporaryAccess:
		return "temporary access pass"
	}
	return string(t)
}

func phoneTypeLabel(t string) string {
	switch t {
	case "alternateMobile":
		return "alternate mobile"
	case "office":
		return "office phone"
	case "mobile":
		return "mobile"
	}
	return "phone"
}

// StrongMethod reports whether a method type can be a second factor. Password and
// e-mail (SSPR only) cannot.
func StrongMethod(t MethodType) bool {
	switch t {
	case MethodPassword, MethodEmail, MethodUnknown:
		return false
	}
	return true
}

// Directory is what the bot asks of the directory. Implementations return *Error
// for failures the caller should explain to a person.
type Directory interface {
	// User resolves a user by object id, UPN or mail, with MFA groups and roles.
	User(ctx context.Context, ref UserRef) (User, error)
	// MemberGroups returns which of groupIDs the user is a transitive member of
	// (Graph checkMemberGroups). It is how authorisation is decided, so callers
	// treat an error as "not a member".
	MemberGroups(ctx context.Context, userID string, groupIDs []string) ([]string, error)
}
