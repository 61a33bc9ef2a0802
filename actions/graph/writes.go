package graph

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/mfadesk/mfadesk/actions"
)

// objectID refuses anything but an object id before any call: write actions are bound
// to one directory object, never to a name that could now mean someone else.
func objectID(op, id string) error {
	ref, err := actions.ParseUserRef(id)
	if err != nil || ref.Kind != actions.RefObjectID {
		return &actions.Error{Kind: actions.KindInvalidInput, Op: op, Message: fmt.Sprintf("%q is not a directory object id", id)}
	}
	return nil
}

// RevokeSessions signs the user out everywhere. Graph answers 200 {"value": true}
// although it documents 204; any 2xx is success.
func (c *Client) RevokeSessions(ctx context.Context, userID string) (actions.Result, error) {
	op := "revoke the sessions of " + userID
	if err := objectID(op, userID); err != nil {
		return actions.Result{Summary: "Nothing was done: " + actions.Explain(err)}, err
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	step, err := c.revoke(ctx, userID)
	res := actions.Result{Steps: []actions.Step{step}, Summary: actions.RevokeSummary}
	if err != nil {
		res.Summary = "Revoking sessions failed: " + actions.Explain(err)
	}
	return res, err
}

func (c *Client) revoke(ctx context.Context, userID string) (actions.Step, error) {
	op := "revoke the sessions of " + userID
	_, err := c.sdk.Users().ByUserId(userID).RevokeSignInSessions().PostAsRevokeSignInSessionsPostResponse(ctx, nil)
	step := actions.Step{Action: "revoke sessions", Outcome: actions.OutcomeDone, At: time.Now().UTC()}
	if err != nil {
		err = classify(op, "/revokeSignInSessions", err)
		step.Outcome, step.Reason = actions.OutcomeFailed, actions.Explain(err)
		c.log.WarnContext(ctx, "revoke sessions failed", "user", userID, "err", err)
		return step, err
	}
	c.log.InfoContext(ctx, "revoked sessions", "user", userID)
	return step, nil
}

// Reregister deletes the user's phone, Authenticator and software OATH methods (the set
// is Config.ReregisterTypes), then revokes their sessions: what the portal's "Require
// re-register MFA" does, which Graph has no single call for.
//
// It first re-reads the methods and refuses (KindStale) if any is one the approver did
// not see. Methods of the snapshot that are already gone are recorded as such: that is
// how a retry after a partial failure carries on where it stopped. Deletions go on each
// type's own endpoint, alternate phones before the mobile phone (Graph keeps no
// alternate without a mobile) and the default method last (Graph refuses to delete the
// default while others remain). The first failure stops the run; the steps say which
// methods were deleted, already gone, failed and not attempted.
func (c *Client) Reregister(ctx context.Context, userID string, snapshot []actions.MethodRef) (actions.Result, error) {
	op := "re-register " + userID
	if err := objectID(op, userID); err != nil {
		return actions.Result{Summary: "Nothing was done: " + actions.Explain(err)}, err
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	ev, err := c.Gather(ctx, actions.UserRef{Kind: actions.RefObjectID, Value: strings.ToLower(userID)},
		actions.Query{Sources: actions.SourceMethods | actions.SourcePreferences | actions.SourceRegistration})
	if err == nil && !ev.Has(actions.SourceMethods) {
		err = ev.Missing[actions.SourceMethods]
	}
	if err != nil {
		return actions.Result{Summary: "Nothing was done: the user's methods could not be read: " + actions.Explain(err)}, fmt.Errorf("%s: %w", op, err)
	}
	methods := actions.Usability(ev) // marks the default
	diff := actions.DiffSnapshot(snapshot, actions.Snapshot(methods))
	if diff.Stale() {
		var added []string
		for _, m := range diff.Added {
			added = append(added, m.Label)
		}
		err := &actions.Error{Kind: actions.KindStale, Op: op, Err: ErrStaleSnapshot,
			Message: "The user's methods changed since the request was approved (not approved: " + strings.Join(added, ", ") + "); nothing was deleted. File a new request."}
		return actions.Result{Summary: err.Message}, err
	}

	inScope := map[actions.MethodType]bool{}
	for _, t := range c.cfg.ReregisterTypes {
		inScope[t] = true
	}
	var res actions.Result
	now := func() time.Time { return time.Now().UTC() }
	for _, g := range diff.Gone {
		if inScope[g.Type] {
			res.Steps = append(res.Steps, actions.Step{Action: "delete method", Method: g, Outcome: actions.OutcomeAlreadyGone, At: now()})
		}
	}
	var todo []actions.Method
	for _, m := range methods {
		if inScope[m.Type] {
			todo = append(todo, m)
		}
	}
	sort.SliceStable(todo, func(i, j int) bool { return deleteRank(todo[i]) < deleteRank(todo[j]) })

	deferred := map[string]bool{}
	var failure error
	for i := 0; i < len(todo); i++ {
		m := todo[i]
		ref := actions.MethodRef{ID: m.ID, Type: m.Type, Label: m.Label()}
		if failure != nil {
			res.Steps = append(res.Steps, actions.Step{Action: "delete method", Method: ref, Outcome: actions.OutcomeNotTried, Reason: "an earlier step failed", At: now()})
			continue
		}
		gone, err := c.deleteMethod(ctx, userID, m)
		switch {
		case err == nil && gone:
			res.Steps = append(res.Steps, actions.Step{Action: "delete method", Method: ref, Outcome: actions.OutcomeAlreadyGone, At: now()})
		case err == nil:
			res.Steps = append(res.Steps, actions.Step{Action: "delete method", Method: ref, Outcome: actions.OutcomeDeleted, At: now()})
		case isDefaultRefusal(err) && i < len(todo)-1 && !deferred[m.ID]:
			// The default was not where the evidence said (the report lags): try it last.
			deferred[m.ID] = true
			todo = append(todo, m)
		default:
			failure = err
			res.Steps = append(res.Steps, actions.Step{Action: "delete method", Method: ref, Outcome: actions.OutcomeFailed, Reason: actions.Explain(err), At: now()})
		}
	}
	if failure != nil {
		res.Steps = append(res.Steps, actions.Step{Action: "revoke sessions", Outcome: actions.OutcomeNotTried, Reason: "an earlier step failed", At: now()})
		res.Summary = summary(res) + " Stopped at a failure: retrying carries on where it stopped."
		return res, fmt.Errorf("%s: %w", op, failure)
	}
	step, err := c.revoke(ctx, userID)
	res.Steps = append(res.Steps, step)
	res.Summary = summary(res)
	if err != nil {
		return res, fmt.Errorf("%s: %w", op, err)
	}
	res.Summary += " The user must register MFA again at their next sign-in (a temporary access pass lets them do it without their old methods)."
	return res, nil
}

// ErrStaleSnapshot is wrapped by Reregister's refusal when the methods changed since approval.
var ErrStaleSnapshot = errors.New("methods changed since approval")

// deleteRank orders deletions: other methods first, alternate and office phones before
// the mobile phone, and the default second factor last.
func deleteRank(m actions.Method) int {
	r := 0
	switch {
	case m.Type == actions.MethodPhone && m.PhoneType == "mobile":
		r = 3
	case m.Type == actions.MethodPhone:
		r = 2
	case m.Type == actions.MethodSoftwareOath:
		r = 1
	}
	if m.Default {
		r += 10
	}
	return r
}

// deleteMethod deletes one method on its typed endpoint (Graph has no DELETE on the
// generic /authentication/methods/{id}). gone reports a 404: deleted before, which a
// retry treats as done.
func (c *Client) deleteMethod(ctx context.Context, userID string, m actions.Method) (gone bool, err error) {
	auth := c.sdk.Users().ByUserId(userID).Authentication()
	op := "delete " + m.Label() + " of " + userID
	var path string
	switch m.Type {
	case actions.MethodPhone:
		path, err = "/authentication/phoneMethods/", auth.PhoneMethods().ByPhoneAuthenticationMethodId(m.ID).Delete(ctx, nil)
	case actions.MethodAuthenticator:
		path, err = "/authentication/microsoftAuthenticatorMethods/", auth.MicrosoftAuthenticatorMethods().ByMicrosoftAuthenticatorAuthenticationMethodId(m.ID).Delete(ctx, nil)
	case actions.MethodSoftwareOath:
		path, err = "/authentication/softwareOathMethods/", auth.SoftwareOathMethods().BySoftwareOathAuthenticationMethodId(m.ID).Delete(ctx, nil)
	case actions.MethodFido2:
		path, err = "/authentication/fido2Methods/", auth.Fido2Methods().ByFido2AuthenticationMethodId(m.ID).Delete(ctx, nil)
	case actions.MethodWindowsHello:
		path, err = "/authentication/windowsHelloForBusinessMethods/", auth.WindowsHelloForBusinessMethods().ByWindowsHelloForBusinessAuthenticationMethodId(m.ID).Delete(ctx, nil)
	case actions.MethodPlatformCred:
		path, err = "/authentication/platformCredentialMethods/", auth.PlatformCredentialMethods().ByPlatformCredentialAuthenticationMethodId(m.ID).Delete(ctx, nil)
	case actions.MethodEmail:
		path, err = "/authentication/emailMethods/", auth.EmailMethods().ByEmailAuthenticationMethodId(m.ID).Delete(ctx, nil)
	case actions.MethodTemporaryAccess:
		path, err = "/authentication/temporaryAccessPassMethods/", auth.TemporaryAccessPassMethods().ByTemporaryAccessPassAuthenticationMethodId(m.ID).Delete(ctx, nil)
	default:
		return false, &actions.Error{Kind: actions.KindBadRequest, Op: op, Message: "Graph cannot delete a " + actions.TypeLabel(m.Type) + " method"}
	}
	if err == nil {
		c.log.InfoContext(ctx, "deleted authentication method", "user", userID, "method", m.Label(), "id", m.ID)
		return false, nil
	}
	err = classify(op, path, err)
	if actions.KindOf(err) == actions.KindNotFound {
		return true, nil
	}
	c.log.WarnContext(ctx, "delete authentication method failed", "user", userID, "method", m.Label(), "err", err)
	return false, err
}

func isDefaultRefusal(err error) bool {
	var e *actions.Error
	return errors.As(err, &e) && e.Kind == actions.KindBadRequest && strings.Contains(strings.ToLower(e.Message), "default")
}

func summary(r actions.Result) string {
	n := map[actions.Outcome]int{}
	for _, s := range r.Steps {
		if s.Action == "delete method" {
			n[s.Outcome]++
		}
	}
	out := fmt.Sprintf("Deleted %d method(s)", n[actions.OutcomeDeleted])
	if n[actions.OutcomeAlreadyGone] > 0 {
		out += fmt.Sprintf(", %d already gone", n[actions.OutcomeAlreadyGone])
	}
	if n[actions.OutcomeFailed] > 0 {
		out += fmt.Sprintf(", %d failed", n[actions.OutcomeFailed])
	}
	if n[actions.OutcomeNotTried] > 0 {
		out += fmt.Sprintf(", %d not attempted", n[actions.OutcomeNotTried])
	}
	out += "."
	for _, s := range r.Steps {
		if s.Action == "revoke sessions" && s.Outcome == actions.OutcomeDone {
			out += " " + actions.RevokeSummary
		}
	}
	return out
}

// IssueTAP creates a temporary access pass (lifetime 10 min – 30 days; 0 means the
// policy's default). Graph returns the pass only in this answer; it is never logged.
func (c *Client) IssueTAP(ctx context.Context, userID string, lifetime time.Duration, usableOnce bool) (actions.TAP, error) {
	op := "issue a temporary access pass for " + userID
	if err := objectID(op, userID); err != nil {
		return actions.TAP{}, err
	}
	minutes := int32(lifetime / time.Minute)
	if lifetime != 0 && (minutes < 10 || minutes > 43200) {
		return actions.TAP{}, &actions.Error{Kind: actions.KindInvalidInput, Op: op, Message: "a temporary access pass lasts from 10 minutes to 30 days"}
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	body := models.NewTemporaryAccessPassAuthenticationMethod()
	if minutes != 0 {
		body.SetLifetimeInMinutes(&minutes)
	}
	body.SetIsUsableOnce(&usableOnce)
	res, err := c.sdk.Users().ByUserId(userID).Authentication().TemporaryAccessPassMethods().Post(ctx, body, nil)
	if err != nil {
		err = classify(op, "/authentication/temporaryAccessPassMethods", err)
		c.log.WarnContext(ctx, "issue temporary access pass failed", "user", userID, "err", err)
		return actions.TAP{}, err
	}
	if res == nil || res.GetTemporaryAccessPass() == nil {
		return actions.TAP{}, &actions.Error{Kind: actions.KindUnavailable, Op: op, Message: "Microsoft Graph returned no pass", Err: errNoBody}
	}
	tap := actions.NewTAP(*res.GetTemporaryAccessPass(), deref(res.GetId()), derefTime(res.GetCreatedDateTime()),
		derefTime(res.GetStartDateTime()), time.Duration(deref(res.GetLifetimeInMinutes()))*time.Minute, deref(res.GetIsUsableOnce()))
	c.log.InfoContext(ctx, "issued temporary access pass", "user", userID, "tap", tap)
	return tap, nil
}
