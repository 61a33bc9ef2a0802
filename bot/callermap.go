package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/mfadesk/mfadesk/actions"
)

// standingByNameReader is a directory that reads a person named by UPN or mail and
// their group memberships together (the Graph client: one $batch).
type standingByNameReader interface {
	StandingByName(ctx context.Context, ref actions.UserRef, groups []string) (u actions.User, in []string, userErr, memErr error)
}

// ObjectIDByEmail maps a chat account's verified email (an adapter's identity rules
// decide which email is verified) to the directory user's object id. It only maps:
// whether the account may act is the caller rule's answer for each command. It reads
// the account and the person's standing in one round trip where the directory can,
// and keeps a standing that grants a right for the lookups of the next
// lookupRolesMaxAge (rolesFor), so the command that follows need not read it again;
// filing, decisions and execution still ask live. An email that matches no directory
// user, or several, is an *actions.Error of kind KindNotFound or KindBadRequest.
func (r *Router) ObjectIDByEmail(ctx context.Context, email string) (string, error) {
	ref, err := actions.ParseUserRef(email)
	if err != nil {
		return "", fmt.Errorf("the chat email is not a directory name: %w", err)
	}
	sr, ok := r.dir.(standingByNameReader)
	if !ok {
		u, err := r.dir.User(ctx, ref)
		if err != nil {
			return "", fmt.Errorf("look up the directory user of a chat email: %w", err)
		}
		return u.ID, nil
	}
	now := r.now()
	u, in, userErr, memErr := sr.StandingByName(ctx, ref, []string{r.groups.Helpdesk, r.groups.Approvers})
	if userErr != nil {
		return "", fmt.Errorf("look up the directory user of a chat email: %w", userErr)
	}
	if u.ID == "" {
		return "", errors.New("look up the directory user of a chat email: the directory returned no object id")
	}
	id, err := actions.ParseUserRef(u.ID)
	if err != nil || id.Kind != actions.RefObjectID {
		return "", fmt.Errorf("look up the directory user of a chat email: the directory returned the object id %q", clip(u.ID, 40))
	}
	// The caller rule itself weighs the answer. Only a granting one is kept, and, as in
	// rolesFor, any other answer drops what was kept.
	if _, in, err := standingRule(id, u, in, nil, memErr); err == nil {
		r.roleCache.keep(id.Value, callerRoles{user: u, helpdesk: hasGroup(in, r.groups.Helpdesk), approver: hasGroup(in, r.groups.Approvers)}, now)
	} else {
		r.roleCache.drop(id.Value)
	}
	return id.Value, nil
}
