package actions

import (
	"context"
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
	// Usable is false when evidence says the method cannot complete MFA (set by Diagnose).
	Usable *bool
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
