package bot

import (
	"context"
	"sync"
	"time"
)

// lookupRolesMaxAge is how old a caller's standing may be when a read-only lookup
// reuses it. Only lookups reuse it: filing, decisions and execution ask the
// directory live (approvals' IsMember is never cached), so a disabled or removed
// person can at most read for this long, and never act.
const lookupRolesMaxAge = 60 * time.Second

// maxCachedRoles bounds the cache; a full cache drops its expired entries first.
const maxCachedRoles = 4096

// roleCache holds the callers' standing answers that granted a right. A refusal is
// never kept: someone just added to a group gets in at once.
type roleCache struct {
	mu sync.Mutex
	m  map[string]cachedRoles
}

type cachedRoles struct {
	roles callerRoles
	at    time.Time
}

// isLookup says whether a verb only reads (and so may reuse a recent standing).
func isLookup(v Verb) bool {
	switch v {
	case VerbUser, VerbMethods, VerbStatus, VerbSignins, VerbAudit, VerbDiagnose:
		return true
	}
	return false
}

// rolesFor is the caller rule for a command: live, except that a read-only lookup
// reuses a granting answer of an earlier lookup at most lookupRolesMaxAge old. Any
// live refusal, whatever the command, drops the kept answer.
func (r *Router) rolesFor(ctx context.Context, c Caller, v Verb) (callerRoles, error) {
	now := r.now()
	if isLookup(v) && c.ObjectID != "" {
		r.roleCache.mu.Lock()
		e, ok := r.roleCache.m[c.ObjectID]
		r.roleCache.mu.Unlock()
		if ok && !now.Before(e.at) && now.Sub(e.at) < lookupRolesMaxAge {
			return e.roles, nil
		}
	}
	roles, err := r.roles(ctx, c)
	r.roleCache.mu.Lock()
	defer r.roleCache.mu.Unlock()
	if err != nil || (!roles.helpdesk && !roles.approver) {
		delete(r.roleCache.m, c.ObjectID)
		return roles, err
	}
	if !isLookup(v) {
		// Only a lookup's own answer is kept for lookups: a form or a decision says
		// nothing about the next minute.
		return roles, nil
	}
	r.roleCache.keepLocked(c.ObjectID, roles, now)
	return roles, nil
}

// keep stores a standing answer read live at now, for lookups (see rolesFor); an
// answer that grants nothing drops what was kept.
func (rc *roleCache) keep(objectID string, roles callerRoles, now time.Time) {
	if !roles.helpdesk && !roles.approver {
		rc.drop(objectID)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.keepLocked(objectID, roles, now)
}

// keepLocked is keep for a caller holding mu.
func (rc *roleCache) keepLocked(objectID string, roles callerRoles, now time.Time) {
	if rc.m == nil {
		rc.m = map[string]cachedRoles{}
	}
	if len(rc.m) >= maxCachedRoles {
		for id, e := range rc.m {
			if now.Sub(e.at) >= lookupRolesMaxAge || now.Before(e.at) {
				delete(rc.m, id)
			}
		}
		if len(rc.m) >= maxCachedRoles {
			clear(rc.m)
		}
	}
	rc.m[objectID] = cachedRoles{roles: roles, at: now}
}

// drop forgets the standing kept for objectID.
func (rc *roleCache) drop(objectID string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	delete(rc.m, objectID)
}
