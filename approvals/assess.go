package approvals

import (
	"context"
	"sync"
	"time"
)

// Membership is one question of the caller rule: is User an eligible (transitive)
// member of Group.
type Membership struct {
	User, Group string
}

// Question is everything a decision or a claim asks the directory: memberships and,
// when Target is set, the target's protection.
type Question struct {
	Members []Membership
	Target  string
}

// Answers are the directory's answers to a Question, in its order. Each answer keeps
// its own error, read exactly as IsMember's and Protection's: the policy applies the
// same rules to them as to single calls.
type Answers struct {
	Members       []MemberAnswer
	Protection    Protection
	ProtectionErr error
}

// MemberAnswer is IsMember's answer to one Membership.
type MemberAnswer struct {
	OK  bool
	Err error
}

// Assessor is a Directory that answers a whole Question at once (the Graph directory:
// one $batch for every standing and the protection reads, rather than one request
// each). Every answer must be live, as IsMember's and Protection's are.
type Assessor interface {
	Assess(ctx context.Context, q Question) Answers
}

// ask puts q to the directory: as one question when it can take one, otherwise as
// concurrent single questions (AskEach).
func (s *Service) ask(ctx context.Context, q Question) Answers {
	if a, ok := s.dir.(Assessor); ok {
		ans := a.Assess(ctx, q)
		if len(ans.Members) == len(q.Members) {
			return ans
		}
		// A short answer must not read as "no error": every question is refused.
		out := Answers{Members: make([]MemberAnswer, len(q.Members)), ProtectionErr: errShortAnswer}
		for i := range out.Members {
			out.Members[i].Err = errShortAnswer
		}
		return out
	}
	return AskEach(ctx, s.dir, q)
}

// AskEach answers q with d's single questions, asked concurrently so the caller waits
// for the slowest answer, not their sum: what a Directory without Assess answers.
func AskEach(ctx context.Context, d Directory, q Question) Answers {
	ans := Answers{Members: make([]MemberAnswer, len(q.Members))}
	var wg sync.WaitGroup
	for i, m := range q.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := d.IsMember(ctx, m.User, m.Group)
			ans.Members[i] = MemberAnswer{OK: ok, Err: err}
		}()
	}
	if q.Target != "" {
		ans.Protection, ans.ProtectionErr = d.Protection(ctx, q.Target)
	}
	wg.Wait()
	return ans
}

// errShortAnswer is a directory that answered fewer questions than it was asked.
var errShortAnswer = &Error{Code: ErrDirectoryUnavailable, Msg: "The directory answered only part of the question."}

// claimQuestion is what the claim of r re-checks: the requester is an eligible
// helpdesk member, each approver whose approval counts an eligible approver, and the
// target's protection (not for a bulk request: each of its users is re-read just
// before it runs).
func (s *Service) claimQuestion(r Request) Question {
	q := Question{}
	if r.Bulk == nil {
		q.Target = r.Target.ObjectID
	}
	q.Members = append(q.Members, Membership{User: r.Requester.ObjectID, Group: s.policy.HelpdeskGroupID})
	for _, d := range r.Approvals() {
		q.Members = append(q.Members, Membership{User: d.By.ObjectID, Group: s.policy.ApproversGroupID})
	}
	return q
}

// shareFor bounds how old the directory's answers at a decision may be when the
// claim of the same request, in the same execution, uses them instead of asking
// again: the two run back to back (only the decision's own write lies between), so
// the bound only guards a stalled store. Answers are never kept beyond that call, nor
// shared between requests: decisions stay live.
const shareFor = 5 * time.Second

// sharedAnswers are the answers a decision got, handed to the claim it leads to.
type sharedAnswers struct {
	id  string
	q   Question
	ans Answers
	at  time.Time
}

// answersFor returns the shared answers if they answer exactly the claim question of
// r (the same request, the same people in the same roles, the same target) and are
// at most shareFor old at now.
func (sa *sharedAnswers) answersFor(q Question, id string, now time.Time) (Answers, bool) {
	if sa == nil || sa.id != id || now.Before(sa.at) || now.Sub(sa.at) > shareFor ||
		!sameOID(sa.q.Target, q.Target) || len(sa.q.Members) != len(q.Members) {
		return Answers{}, false
	}
	for i, m := range q.Members {
		if !sameOID(sa.q.Members[i].User, m.User) || sa.q.Members[i].Group != m.Group {
			return Answers{}, false
		}
	}
	return sa.ans, true
}
