package graph

import (
	"context"
	"time"

	"github.com/mfadesk/mfadesk/actions"
)

var _ actions.TAPReplacer = (*Client)(nil)

// DeleteTAPs deletes every temporary access pass of the user, so that an approved pass
// can be created: Graph refuses a new pass while one is valid. A pass already gone
// (404) counts as deleted; each step is retried within the write retry budget.
func (c *Client) DeleteTAPs(ctx context.Context, userID string) ([]actions.Step, error) {
	op := "delete the temporary access passes of " + userID
	if err := objectID(op, userID); err != nil {
		return nil, err
	}
	b := c.newRetryBudget()
	var ids []string
	err := b.do(ctx, "list temporary access passes", func(ctx context.Context) error {
		res, err := c.sdk.Users().ByUserId(userID).Authentication().TemporaryAccessPassMethods().Get(ctx, nil)
		if err != nil {
			return classify(op, "/authentication/temporaryAccessPassMethods", err)
		}
		ids = ids[:0]
		for _, m := range res.GetValue() {
			if id := deref(m.GetId()); id != "" {
				ids = append(ids, id)
			}
		}
		return nil
	})
	if err != nil {
		c.log.WarnContext(ctx, "list temporary access passes failed", "user", userID, "err", err)
		return nil, err
	}
	var steps []actions.Step
	for _, id := range ids {
		m := actions.Method{ID: id, Type: actions.MethodTemporaryAccess}
		var gone bool
		err := b.do(ctx, "delete temporary access pass", func(ctx context.Context) error {
			var err error
			gone, err = c.deleteMethod(ctx, userID, m)
			return err
		})
		step := actions.Step{Action: "delete temporary access pass", Method: actions.MethodRef{ID: id, Type: m.Type, Label: m.Label()},
			Outcome: actions.OutcomeDeleted, At: time.Now().UTC()}
		if gone {
			step.Outcome = actions.OutcomeAlreadyGone
		}
		if err != nil {
			step.Outcome, step.Reason = actions.OutcomeFailed, actions.Explain(err)
			return append(steps, step), err
		}
		steps = append(steps, step)
	}
	return steps, nil
}
