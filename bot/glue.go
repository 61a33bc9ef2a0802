package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
)

// ApprovalsDirectory lets approvals check membership and protection through the
// directory, live at decision time. It is the seam between approvals (which knows no
// Graph) and actions (which knows no approvals).
type ApprovalsDirectory struct {
	Dir Directory
	// ProtectedGroups are group object ids whose members are protected targets.
	ProtectedGroups []string
}

var _ approvals.Directory = ApprovalsDirectory{}

// IsMember applies the whole caller rule (see standing): the user exists, is enabled,
// is a member account, and is a transitive member of group. A disabled or guest
// account gets an *approvals.IneligibleError, so the refusal names the real cause.
func (d ApprovalsDirectory) IsMember(ctx context.Context, userObjectID, groupID string) (bool, error) {
	_, in, err := standing(ctx, d.Dir, userObjectID, []string{groupID})
	if err != nil {
		return false, fmt.Errorf("check membership of %s in %s: %w", userObjectID, groupID, err)
	}
	return hasGroup(in, groupID), nil
}

var _ approvals.ManagerDirectory = ApprovalsDirectory{}

// ManagerOf returns the object id of the user's manager, "" when they have none (or
// the directory here cannot say, which refuses what rests on it).
func (d ApprovalsDirectory) ManagerOf(ctx context.Context, userObjectID string) (string, error) {
	mr, ok := d.Dir.(managerReader)
	if !ok {
		return "", errors.New("this directory cannot read managers")
	}
	m, err := mr.Manager(ctx, userObjectID)
	if actions.KindOf(err) == actions.KindNotFound {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the manager of %s: %w", userObjectID, err)
	}
	return m.ID, nil
}

// Protection says whether a target is protected: any directory role (an app-only token
// bypasses Entra's own rule that a helpdesk admin cannot reset an admin), or membership
// of a configured protected group.
func (d ApprovalsDirectory) Protection(ctx context.Context, objectID string) (approvals.Protection, error) {
	oid := strings.ToLower(objectID)
	// The account, the scoped and PIM roles and the protected groups are independent
	// reads of the same object id: asked together, the check waits one round trip,
	// not three. Every answer is still required (fail closed).
	var (
		wg              sync.WaitGroup
		more, in        []string
		rolesErr, inErr error
	)
	if pr, ok := d.Dir.(privilegedRoles); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Scoped and PIM-eligible roles: an eligible admin is an admin one click away.
			more, rolesErr = pr.PrivilegedRoles(ctx, oid)
		}()
	}
	if len(d.ProtectedGroups) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in, inErr = d.Dir.MemberGroups(ctx, oid, d.ProtectedGroups)
		}()
	}
	u, err := d.Dir.User(ctx, actions.UserRef{Kind: actions.RefObjectID, Value: oid})
	wg.Wait()
	return d.protectionFrom(ctx, objectID, u, err, more, rolesErr, in, inErr)
}

// protectionFrom is the protected-target rule applied to the directory's answers: the
// account with its directory roles (u, err), its other roles (more, rolesErr) and its
// protected groups (in, inErr). Every answer is required (fail closed).
func (d ApprovalsDirectory) protectionFrom(ctx context.Context, objectID string, u actions.User, err error, more []string, rolesErr error, in []string, inErr error) (approvals.Protection, error) {
	if err != nil {
		return approvals.Protection{}, fmt.Errorf("check protection of %s: %w", objectID, err)
	}
	if u.GroupsNote != "" {
		// Without the memberships we cannot know the roles: fail closed.
		return approvals.Protection{}, fmt.Errorf("check protection of %s: directory roles unreadable: %s", objectID, u.GroupsNote)
	}
	if rolesErr != nil {
		return approvals.Protection{}, fmt.Errorf("check protection of %s: %w", objectID, rolesErr)
	}
	if inErr != nil {
		return approvals.Protection{}, fmt.Errorf("check protected groups of %s: %w", objectID, inErr)
	}
	var p approvals.Protection
	seen := map[string]bool{}
	for _, r := range append(u.Roles, more...) {
		if seen[r] {
			continue
		}
		seen[r] = true
		p.Reasons = append(p.Reasons, "holds the directory role "+r)
	}
	if len(in) > 0 {
		names := d.groupNames(ctx, in)
		for _, g := range in {
			p.Reasons = append(p.Reasons, "is in the protected group "+names(g))
		}
	}
	p.Protected = len(p.Reasons) > 0
	return p, nil
}

// assessReader is a directory that reads several people's standing and a target's
// protection reads together (the Graph client: one $batch).
type assessReader interface {
	Assess(ctx context.Context, people []actions.StandingQuery, target string, protectedGroups []string) actions.Assessment
}

var _ approvals.Assessor = ApprovalsDirectory{}

// Assess answers a decision's or a claim's whole question. With a directory that reads
// it in one go (assessReader, which reads the scoped and PIM roles too), the caller
// rule (standingRule) and the protected-target rule (protectionFrom) weigh its
// answers exactly as they weigh IsMember's and Protection's; otherwise each question
// is asked on its own.
func (d ApprovalsDirectory) Assess(ctx context.Context, q approvals.Question) approvals.Answers {
	ar, ok := d.Dir.(assessReader)
	if _, roles := d.Dir.(privilegedRoles); !ok || !roles || q.Target == "" {
		return approvals.AskEach(ctx, d, q)
	}
	ans := approvals.Answers{Members: make([]approvals.MemberAnswer, len(q.Members))}
	var (
		people []actions.StandingQuery
		refs   []actions.UserRef
		asked  []int // which member each query answers
	)
	for i, m := range q.Members {
		ref, err := linkedRef(m.User)
		if err != nil {
			ans.Members[i].Err = err
			continue
		}
		people = append(people, actions.StandingQuery{ID: ref.Value, Groups: []string{m.Group}})
		refs = append(refs, ref)
		asked = append(asked, i)
	}
	target := strings.ToLower(q.Target)
	a := ar.Assess(ctx, people, target, d.ProtectedGroups)
	if len(a.People) != len(people) {
		err := fmt.Errorf("the directory answered %d of %d standings", len(a.People), len(people))
		for _, i := range asked {
			ans.Members[i].Err = err
		}
		ans.ProtectionErr = err
		return ans
	}
	for k, i := range asked {
		p := a.People[k]
		_, in, err := standingRule(refs[k], p.User, p.In, p.UserErr, p.MemErr)
		if err != nil {
			ans.Members[i].Err = fmt.Errorf("check membership of %s in %s: %w", q.Members[i].User, q.Members[i].Group, err)
			continue
		}
		ans.Members[i].OK = hasGroup(in, q.Members[i].Group)
	}
	ans.Protection, ans.ProtectionErr = d.protectionFrom(ctx, q.Target, a.Target, a.TargetErr, a.Roles, a.RolesErr, a.Protected, a.ProtectedErr)
	return ans
}

// groupNamer is the directory's optional lookup of group display names.
type groupNamer interface {
	GroupNames(ctx context.Context, ids []string) (map[string]string, error)
}

// groupNames reads the names of groups (one directory call for all of them) and
// returns how to name each: by its display name ("Tier0-Admins"), or by its id when
// the name could not be read. A name is for people only; protection never depends on it, so a failed
// read degrades the wording, not the decision.
func (d ApprovalsDirectory) groupNames(ctx context.Context, ids []string) func(string) string {
	var names map[string]string
	if gn, ok := d.Dir.(groupNamer); ok && len(ids) > 0 {
		var err error
		if names, err = gn.GroupNames(ctx, ids); err != nil {
			slog.WarnContext(ctx, "read protected group names", "err", err)
		}
	}
	return func(id string) string {
		for k, n := range names {
			if strings.EqualFold(k, id) && n != "" {
				return n
			}
		}
		return id
	}
}

// Executor runs approved requests through the directory's write actions.
type Executor struct {
	W actions.Writer
	// Deliver sends a message privately to a person (the requester of a pass). Without
	// it no pass is issued.
	Deliver func(ctx context.Context, to approvals.Actor, msg Message) error
}

var _ approvals.Executor = Executor{}

// Resumable says, per action, whether Recover may run it again after a restart
// (approvals.Policy.Resume). Both actions this executor knows are idempotent on the
// directory: a re-register re-lists and deletes what is left (a deleted method stays
// deleted), and a second sign-out is harmless. An action not listed is failed on
// restart instead. It returns a fresh map each call.
func (Executor) Resumable() map[approvals.Action]bool {
	return map[approvals.Action]bool{approvals.ActionReregister: true, approvals.ActionRevoke: true}
}

// stepRevoke is the name of the sign-out step, as the write actions report it.
const stepRevoke = "revoke sessions"

// Execute performs the request's action and records each step through record. Both
// actions are safe to repeat, so a resumed run runs again — except a sign-out already
// recorded as done, which is the last step of both and is never repeated: the
// request was carried out, only its result was not saved. A throttled or unavailable
// directory, or a timeout, is reported as transient so an approver may retry.
func (e Executor) Execute(ctx context.Context, req approvals.Request, resume bool, record func(context.Context, approvals.Step) error) (approvals.Result, error) {
	if req.Action == approvals.ActionTAP {
		out, err := e.executeTAP(ctx, req, resume, record)
		var ae *actions.Error
		if err != nil && !errors.As(err, &ae) && !errors.Is(err, context.DeadlineExceeded) {
			// mfadesk's own sentence (nothing issued, not delivered): keep it.
			return out, fmt.Errorf("%s: %w", req.Action, err)
		}
		return out, runError(req, err)
	}
	if resume && revokedAlready(req.Steps) {
		return approvals.Result{}, nil
	}
	out := approvals.Result{}
	var recErr error
	// Each step is stored as it finishes, so a restart resumes from what is recorded.
	onStep := func(s actions.Step) {
		st := approvals.Step{Name: s.Action, Target: s.Method.Label, Outcome: string(s.Outcome), Detail: s.Reason, At: s.At}
		out.Steps = append(out.Steps, st)
		if recErr == nil {
			recErr = record(ctx, st)
		}
	}
	var res actions.Result
	var err error
	switch req.Action {
	case approvals.ActionRevoke:
		res, err = e.W.RevokeSessions(ctx, req.Target.ObjectID)
		for _, s := range res.Steps {
			onStep(s)
		}
	case approvals.ActionReregister:
		snap := make([]actions.MethodRef, 0, len(req.Methods))
		for _, m := range req.Methods {
			snap = append(snap, actions.MethodRef{ID: m.ID, Type: actions.MethodType(m.Type), Label: m.Label})
		}
		res, err = e.W.Reregister(ctx, req.Target.ObjectID, snap, onStep)
	default:
		return approvals.Result{}, fmt.Errorf("execute %s: action %q is not supported", req.ID, req.Action)
	}
	if recErr != nil {
		return out, fmt.Errorf("%s: %w", req.Action, recErr)
	}
	if err == nil && res.Failed() {
		err = errors.New("one or more steps failed")
	}
	return out, runError(req, err)
}

// runError words a run's error in one line, still wrapping the directory error, and
// marks a throttled or unavailable directory, or a timeout, as transient.
func runError(req approvals.Request, err error) error {
	if err != nil {
		k := actions.KindOf(err)
		transient := k == actions.KindThrottled || k == actions.KindUnavailable || errors.Is(err, context.DeadlineExceeded)
		// Same one line as before, still wrapping the directory error so its kind
		// stays visible to whoever reads the chain.
		err = fmt.Errorf("%s: %w", req.Action, actions.Explained(err))
		if transient {
			return approvals.Transient(err)
		}
		return err
	}
	return nil
}

// revokedAlready reports whether a sign-out is recorded as done.
func revokedAlready(steps []approvals.Step) bool {
	for _, s := range steps {
		if s.Name == stepRevoke && s.Outcome == string(actions.OutcomeDone) {
			return true
		}
	}
	return false
}
