package bot

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
)

// standing is the caller rule, and its only home: a person may act through mfadesk
// only while their directory account exists, is enabled and is a member account (not
// a guest); which of groups they are (transitively) in then says what they may do.
// Every platform's caller goes through it — the router's lookups and forms, and
// approvals (through ApprovalsDirectory.IsMember) at filing, at each decision and at
// execution — so no adapter can forget it. It is asked live, never cached: a disabled
// account loses access at once.
//
// A user who fails the rule gets an *approvals.IneligibleError naming the cause; a
// directory that cannot be asked gets a wrapped error (callers fail closed).
func standing(ctx context.Context, dir Directory, objectID string, groups []string) (actions.User, []string, error) {
	ref, err := linkedRef(objectID)
	if err != nil {
		return actions.User{}, nil, err
	}
	var (
		u      actions.User
		in     []string
		memErr error
	)
	if sr, ok := dir.(standingReader); ok {
		// Both reads in one request.
		u, in, err, memErr = sr.Standing(ctx, ref.Value, groups)
	} else {
		// The two reads are independent: one round trip of waiting, not two.
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			in, memErr = dir.MemberGroups(ctx, ref.Value, groups)
		}()
		u, err = dir.User(ctx, ref)
		wg.Wait()
	}
	return standingRule(ref, u, in, err, memErr)
}

// standingRule is the caller rule applied to the directory's answers about ref: the
// account (u, err) and its memberships (in, memErr).
func standingRule(ref actions.UserRef, u actions.User, in []string, err, memErr error) (actions.User, []string, error) {
	switch {
	case actions.KindOf(err) == actions.KindNotFound:
		return actions.User{}, nil, &approvals.IneligibleError{Why: "no longer exists in the directory"}
	case err != nil:
		return actions.User{}, nil, fmt.Errorf("read the directory account %s: %w", ref.Value, err)
	case !u.Enabled:
		return u, nil, &approvals.IneligibleError{Why: "is disabled"}
	case strings.EqualFold(u.UserType, "Guest"):
		return u, nil, &approvals.IneligibleError{Why: "is a guest account"}
	case !strings.EqualFold(u.UserType, "Member"):
		// Graph says Member or Guest; anything else is not known to be a member.
		return u, nil, &approvals.IneligibleError{Why: fmt.Sprintf("is not a member account (user type %q)", clip(u.UserType, 20))}
	case memErr != nil:
		return u, nil, fmt.Errorf("check the groups of %s: %w", ref.Value, memErr)
	}
	return u, in, nil
}

// linkedRef is the caller rule's first step: a person is named by a directory object
// id, or is not linked at all.
func linkedRef(objectID string) (actions.UserRef, error) {
	ref, err := actions.ParseUserRef(objectID)
	if err != nil || ref.Kind != actions.RefObjectID {
		return actions.UserRef{}, &approvals.IneligibleError{Why: "is not linked to a directory object id"}
	}
	return ref, nil
}

// standingReader is a directory that reads a person's account and group memberships
// together (the Graph client: one $batch). Both answers are live.
type standingReader interface {
	Standing(ctx context.Context, objectID string, groups []string) (u actions.User, in []string, userErr, memErr error)
}

func hasGroup(in []string, group string) bool {
	for _, g := range in {
		if strings.EqualFold(g, group) {
			return true
		}
	}
	return false
}
