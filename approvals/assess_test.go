package approvals

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// assessDir answers a whole Question at once, as the Graph directory does, and
// counts the questions; after, if set, runs once the first answer is given.
type assessDir struct {
	*fakeDir
	mu        sync.Mutex
	questions []Question
	after     func()
}

func (d *assessDir) Assess(ctx context.Context, q Question) Answers {
	var ans Answers
	for _, m := range q.Members {
		ok, err := d.fakeDir.IsMember(ctx, m.User, m.Group)
		ans.Members = append(ans.Members, MemberAnswer{OK: ok, Err: err})
	}
	if q.Target != "" {
		ans.Protection, ans.ProtectionErr = d.fakeDir.Protection(ctx, q.Target)
	}
	d.mu.Lock()
	d.questions = append(d.questions, q)
	first := len(d.questions) == 1
	d.mu.Unlock()
	if first && d.after != nil {
		d.after()
	}
	return ans
}

// IsMember and Protection must not be asked one by one when the directory takes a
// whole question.
func (d *assessDir) IsMember(context.Context, string, string) (bool, error) {
	return false, errors.New("asked one membership at a time")
}

func (d *assessDir) Protection(context.Context, string) (Protection, error) {
	return Protection{}, errors.New("asked the protection on its own")
}

// TestApprovalAsksTheDirectoryOnce: the last approval asks one question (the
// approver, the requester and the target's protection) and the claim that follows at
// once uses its answers; answers older than shareFor are asked again, and a
// directory that fails then fails the claim closed.
func TestApprovalAsksTheDirectoryOnce(t *testing.T) {
	for _, tt := range []struct {
		name      string
		delay     time.Duration // how long the decision's write takes after the answers
		questions int
		state     State
	}{
		{"claim at once", 0, 1, StateSucceeded},
		{"claim within the bound", shareFor, 1, StateSucceeded},
		{"claim after the bound", shareFor + time.Second, 2, StateFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, nil)
			r := h.submit(nil)
			dir := &assessDir{fakeDir: h.dir, after: func() {
				// The directory goes down right after answering the decision.
				h.dir.setErrors(errors.New("graph: 503"), errors.New("graph: 503"))
				h.clock.Advance(tt.delay)
			}}
			svc, err := New(ctx, Options{Store: h.store, Directory: dir, Executor: h.exec, Policy: h.policy, Clock: h.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			got, err := svc.Decide(ctx, r.ID, actor(oidApprover1, "Avery"), VerdictApprove, "")
			if err != nil || got.State != tt.state {
				t.Fatalf("decide = %s %q, %v; want %s", got.State, got.Error, err, tt.state)
			}
			if len(dir.questions) != tt.questions {
				t.Fatalf("%d questions to the directory, want %d: %+v", len(dir.questions), tt.questions, dir.questions)
			}
			q := dir.questions[0]
			want := []Membership{{oidRequester, groupHelpdesk}, {oidApprover1, groupApprovers}}
			if len(q.Members) != len(want) || q.Members[0] != want[0] || q.Members[1] != want[1] || q.Target != r.Target.ObjectID {
				t.Errorf("question = %+v, want members %v and the target", q, want)
			}
			if tt.state == StateFailed && (!got.Retryable || h.exec.total() != 0) {
				t.Errorf("a claim the directory could not answer ran or is not retryable: %+v", got)
			}
		})
	}
}

// TestSharedAnswersOnlyForTheSameQuestion: a decision's answers serve only the claim
// of the same request about the same people and target, within shareFor.
func TestSharedAnswersOnlyForTheSameQuestion(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	q := Question{Target: oidAdmin, Members: []Membership{{oidRequester, groupHelpdesk}, {oidApprover1, groupApprovers}}}
	sa := &sharedAnswers{id: "R-1", q: q, ans: Answers{Members: make([]MemberAnswer, 2)}, at: at}
	other := func(f func(*Question)) Question {
		c := q
		c.Members = append([]Membership(nil), q.Members...)
		f(&c)
		return c
	}
	for _, tt := range []struct {
		name string
		sa   *sharedAnswers
		q    Question
		id   string
		now  time.Time
		want bool
	}{
		{"same", sa, q, "R-1", at.Add(time.Second), true},
		{"none", nil, q, "R-1", at, false},
		{"another request", sa, q, "R-2", at, false},
		{"too old", sa, q, "R-1", at.Add(shareFor + time.Nanosecond), false},
		{"clock went back", sa, q, "R-1", at.Add(-time.Second), false},
		{"another approver", sa, other(func(c *Question) { c.Members[1].User = oidApprover2 }), "R-1", at, false},
		{"another group", sa, other(func(c *Question) { c.Members[1].Group = groupHelpdesk }), "R-1", at, false},
		{"one more approver", sa, other(func(c *Question) { c.Members = append(c.Members, Membership{oidApprover2, groupApprovers}) }), "R-1", at, false},
		{"another target", sa, other(func(c *Question) { c.Target = oidApprover2 }), "R-1", at, false},
	} {
		if _, ok := tt.sa.answersFor(tt.q, tt.id, tt.now); ok != tt.want {
			t.Errorf("%s: shared = %v, want %v", tt.name, ok, tt.want)
		}
	}
}
