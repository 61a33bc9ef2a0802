package graph

import (
	"context"
	"fmt"

	"github.com/mfadesk/mfadesk/actions"
)

// Assess reads what an approval and its execution re-check, as one question: the
// standing of each person (as Standing), and the target's account with its directory
// roles (as User reads them), its roles at any scope or through PIM and groups (as
// PrivilegedRoles) and which of protectedGroups it is in (as MemberGroups). All the
// independent reads ride in one JSON $batch (two people and the target take 11 of its
// 20 requests); only the reads that depend on an answer (the roles of groups the
// target is in, scope names, further pages) follow in another round trip. Every read
// is live.
func (c *Client) Assess(ctx context.Context, people []actions.StandingQuery, target string, protectedGroups []string) actions.Assessment {
	var out actions.Assessment
	out.People = make([]actions.Standing, len(people))
	fail := func(err error) actions.Assessment {
		for i := range out.People {
			out.People[i] = actions.Standing{UserErr: err, MemErr: err}
		}
		out.TargetErr, out.RolesErr, out.ProtectedErr = err, err, err
		return out
	}
	if len(protectedGroups) > 20 {
		return fail(fmt.Errorf("assess %s: at most 20 protected groups per call, got %d", target, len(protectedGroups)))
	}
	op := "read the protection of " + target
	if err := objectID(op, target); err != nil {
		return fail(err)
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()

	var all []*fetch
	personal := make([][]*fetch, len(people))
	for i, p := range people {
		if err := objectID("read the standing of "+p.ID, p.ID); err != nil {
			out.People[i] = actions.Standing{UserErr: err, MemErr: err}
			continue
		}
		if len(p.Groups) > 20 {
			err := fmt.Errorf("read the standing of %s: at most 20 groups per call, got %d", p.ID, len(p.Groups))
			out.People[i] = actions.Standing{UserErr: err, MemErr: err}
			continue
		}
		fs, err := c.standingFetches(ctx, p.ID, p.Groups)
		if err != nil {
			out.People[i] = actions.Standing{UserErr: err, MemErr: err}
			continue
		}
		personal[i] = fs
		all = append(all, fs...)
	}
	userQ := actions.Query{Sources: actions.SourceUser | actions.SourceGroups}
	userFs, err := c.plan(ctx, target, userQ, true)
	if err != nil {
		return fail(err)
	}
	roleFs, err := c.userRoleFetches(op, target)
	if err != nil {
		return fail(err)
	}
	all = append(append(all, userFs...), roleFs...)
	var protFetch *fetch
	if len(protectedGroups) > 0 {
		if protFetch, err = c.memberGroupsFetch(ctx, target, protectedGroups); err != nil {
			return fail(err)
		}
		all = append(all, protFetch)
	}

	// Each item keeps its own answer; a batch that failed as a whole fails every item.
	var batchErr error
	for i := 0; i < len(all) && batchErr == nil; i += 20 {
		chunk := all[i:min(i+20, len(all))]
		if c.cfg.Unbatched {
			c.runEach(ctx, c.adapter, chunk)
		} else if err := c.runBatch(ctx, c.adapter, chunk); err != nil {
			batchErr = fmt.Errorf("assess the approval of %s: %w", target, err)
		}
	}
	if batchErr != nil {
		return fail(batchErr)
	}

	for i, fs := range personal {
		if fs != nil {
			s := &out.People[i]
			s.User, s.In, s.UserErr, s.MemErr = parseStanding(people[i].ID, fs)
		}
	}
	ev := actions.Evidence{Query: userQ, Taken: c.cfg.Clock.Now(), Missing: map[actions.Source]error{}}
	ref := actions.UserRef{Kind: actions.RefObjectID, Value: target}
	out.TargetErr = c.interpret(ctx, ref, target, nil, userQ, userFs, &ev)
	out.Target = ev.User
	out.Roles, out.RolesErr = c.privilegedRolesFrom(ctx, op, roleFs)
	if protFetch != nil {
		out.Protected, out.ProtectedErr = parseMemberGroups(target, protFetch)
	}
	return out
}
