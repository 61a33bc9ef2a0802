package actions

// StandingQuery asks for the standing of one person: their account, and which of
// Groups they are a transitive member of.
type StandingQuery struct {
	ID     string
	Groups []string
}

// Standing is the directory's answer to a StandingQuery: UserErr is the account's
// error (KindNotFound when the person is gone), MemErr the membership check's, which
// counts only once the account passed.
type Standing struct {
	User    User
	In      []string
	UserErr error
	MemErr  error
}

// Assessment answers, together, the standing of several people and what the
// protection of one target rests on. Each answer keeps its own error: whoever weighs
// them fails closed on any error it needs.
type Assessment struct {
	People []Standing
	// Target is the target's account with its tenant-wide directory roles (memberOf);
	// its GroupsNote says when they could not be read.
	Target    User
	TargetErr error
	// Roles are the target's roles at any scope or through PIM and groups.
	Roles    []string
	RolesErr error
	// Protected are the protected groups the target is a transitive member of.
	Protected    []string
	ProtectedErr error
}
