package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
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
// although it documents 204; any 2xx is success. Transient errors are retried within
// Config.WriteRetryBudget: revoking twice is revoking once.
func (c *Client) RevokeSessions(ctx context.Context, userID string) (actions.Result, error) {
	op := "revoke the sessions of " + userID
	if err := objectID(op, userID); err != nil {
		return actions.Result{Summary: "Nothing was done: " + actions.Explain(err)}, err
	}
	step, err := c.revoke(ctx, c.newRetryBudget(), userID)
	res := actions.Result{Steps: []actions.Step{step}, Summary: actions.RevokeSummary}
	if err != nil {
		res.Summary = "Revoking sessions failed: " + actions.Explain(err)
	}
	return res, err
}

func (c *Client) revoke(ctx context.Context, b *retryBudget, userID string) (actions.Step, error) {
	op := "revoke the sessions of " + userID
	err := b.do(ctx, "revoke sessions", func(ctx context.Context) error {
		_, err := c.sdk.Users().ByUserId(userID).RevokeSignInSessions().PostAsRevokeSignInSessionsPostResponse(ctx, nil)
		return classify(op, "/revokeSignInSessions", err)
	})
	step := actions.Step{Action: "revoke sessions", Outcome: actions.OutcomeDone, At: time.Now().UTC()}
	if err != nil {
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
// It first re-reads the methods and the default sign-in preference and refuses
// (KindStale) if any method is one the approver did not see. Methods of the snapshot
// that are already gone (removed outside mfadesk, or by an earlier run) are what the
// approver approved deleting: they are reported "already gone" and do not stop the run.
// Then it plans the whole deletion (actions.PlanReregister) and refuses, having deleted
// nothing, when Graph's rules leave no order that completes; when the plan moves the
// default first and Graph refuses that, nothing is deleted either. The first failed
// deletion stops the run; the steps say which methods were deleted, already gone,
// failed and not attempted, and onStep hears each step as it finishes. Transient Graph
// errors are retried within Config.WriteRetryBudget.
func (c *Client) Reregister(ctx context.Context, userID string, snapshot []actions.MethodRef, onStep func(actions.Step)) (actions.Result, error) {
	op := "re-register " + userID
	if err := objectID(op, userID); err != nil {
		return actions.Result{Summary: "Nothing was done: " + actions.Explain(err)}, err
	}
	b := c.newRetryBudget()
	var ev actions.Evidence
	err := b.do(ctx, "read the methods", func(ctx context.Context) error {
		var err error
		ev, err = c.Gather(ctx, actions.UserRef{Kind: actions.RefObjectID, Value: strings.ToLower(userID)},
			actions.Query{Sources: actions.SourceMethods | actions.SourcePreferences | actions.SourceRegistration})
		if err != nil {
			return err
		}
		if e := ev.Missing[actions.SourceMethods]; e != nil {
			return e
		}
		// The default decides the order: wait out a throttled read of it rather than
		// plan without it.
		if e := ev.Missing[actions.SourcePreferences]; e != nil && transient(e) {
			return e
		}
		return nil
	})
	if err != nil {
		return actions.Result{Summary: "Nothing was done: the user's methods could not be read: " + actions.Explain(err)}, fmt.Errorf("%s: %w", op, err)
	}
	diff := actions.DiffSnapshot(snapshot, actions.Snapshot(ev.Methods))
	if diff.Stale() {
		var added []string
		for _, m := range diff.Added {
			added = append(added, m.Label)
		}
		err := &actions.Error{Kind: actions.KindStale, Op: op, Err: ErrStaleSnapshot,
			Message: "The user's methods changed since the request was approved (not approved: " + strings.Join(added, ", ") + "); nothing was deleted. File a new request."}
		return actions.Result{Summary: err.Message}, err
	}
	plan, err := actions.PlanReregister(ev, c.cfg.ReregisterTypes)
	if err != nil {
		return actions.Result{Summary: actions.Explain(err)}, fmt.Errorf("%s: %w", op, err)
	}

	var res actions.Result
	add := func(s actions.Step) {
		s.At = time.Now().UTC()
		res.Steps = append(res.Steps, s)
		if onStep != nil {
			onStep(s)
		}
	}
	inScope := map[actions.MethodType]bool{}
	for _, t := range c.cfg.ReregisterTypes {
		inScope[t] = true
	}
	var gone []string
	for _, g := range diff.Gone {
		if inScope[g.Type] {
			gone = append(gone, g.Label)
			add(actions.Step{Action: "delete method", Method: g, Outcome: actions.OutcomeAlreadyGone})
		}
	}
	notTried := func(from int, why string) {
		for _, m := range plan.Delete[from:] {
			add(actions.Step{Action: "delete method", Method: methodRef(m), Outcome: actions.OutcomeNotTried, Reason: why})
		}
		add(actions.Step{Action: "revoke sessions", Outcome: actions.OutcomeNotTried, Reason: why})
	}

	if plan.SetDefault != "" {
		err := b.do(ctx, "change the default method", func(ctx context.Context) error {
			return c.setDefault(ctx, userID, plan.SetDefault)
		})
		if err != nil {
			add(actions.Step{Action: "change default method", Method: methodRef(plan.NewDefault), Outcome: actions.OutcomeFailed, Reason: actions.Explain(err)})
			notTried(0, "the default method could not be changed")
			res.Summary = "Nothing was deleted: Graph deletes the default method only last, so the default had to move to " +
				plan.NewDefault.Label() + " first, and that failed: " + actions.Explain(err)
			return res, fmt.Errorf("%s: %w", op, err)
		}
		add(actions.Step{Action: "change default method", Method: methodRef(plan.NewDefault), Outcome: actions.OutcomeDone})
	}

	deferred := false
	for i := 0; i < len(plan.Delete); i++ {
		m := plan.Delete[i]
		var gone404 bool
		tries := 0
		err := b.do(ctx, "delete "+m.Label(), func(ctx context.Context) error {
			var err error
			tries++
			gone404, err = c.deleteMethod(ctx, userID, m)
			return err
		})
		switch {
		case err == nil && gone404 && tries > 1:
			// A 404 after a timed-out or failed attempt: that attempt most likely did it.
			add(actions.Step{Action: "delete method", Method: methodRef(m), Outcome: actions.OutcomeDeleted, Reason: "confirmed gone on retry"})
		case err == nil && gone404:
			gone = append(gone, m.Label())
			add(actions.Step{Action: "delete method", Method: methodRef(m), Outcome: actions.OutcomeAlreadyGone})
		case err == nil:
			add(actions.Step{Action: "delete method", Method: methodRef(m), Outcome: actions.OutcomeDeleted})
		case isDefaultRefusal(err) && i < len(plan.Delete)-1 && !deferred:
			// The default was unknown (or the report lagged) and Graph named it by
			// refusing: it goes last. (An unknown default with both mobile phones,
			// where last could break the phone rule, was refused by the plan.)
			deferred = true
			plan.Delete = append(append(plan.Delete[:i:i], plan.Delete[i+1:]...), m)
			i--
		default:
			add(actions.Step{Action: "delete method", Method: methodRef(m), Outcome: actions.OutcomeFailed, Reason: actions.Explain(err)})
			notTried(i+1, "an earlier step failed")
			res.Summary = summary(res, gone) + " Stopped at a failure: retrying carries on where it stopped."
			return res, fmt.Errorf("%s: %w", op, err)
		}
	}
	step, err := c.revoke(ctx, b, userID)
	add(step)
	res.Summary = summary(res, gone)
	if err != nil {
		return res, fmt.Errorf("%s: %w", op, err)
	}
	res.Summary += " The user must register MFA again at their next sign-in (a temporary access pass lets them do it without their old methods)."
	return res, nil
}

// ErrStaleSnapshot is wrapped by Reregister's refusal when the methods changed since approval.
var ErrStaleSnapshot = errors.New("methods changed since approval")

func methodRef(m actions.Method) actions.MethodRef {
	return actions.MethodRef{ID: m.ID, Type: m.Type, Label: m.Label()}
}

// setDefault sets the user's default second factor (beta signInPreferences: the v1.0
// SDK has no builder for it) to one of the preference values, e.g. "sms". Setting it
// twice is setting it once.
func (c *Client) setDefault(ctx context.Context, userID, preference string) error {
	body, err := json.Marshal(map[string]string{"userPreferredMethodForSecondaryAuthentication": preference})
	if err != nil {
		return fmt.Errorf("encode sign-in preference: %w", err)
	}
	ri := abs.NewRequestInformation()
	ri.Method = abs.PATCH
	ri.UrlTemplate = "{+baseurl}/users/{user%2Did}/authentication/signInPreferences"
	ri.PathParameters["user%2Did"] = userID
	ri.Headers.TryAdd("Accept", "application/json")
	ri.SetStreamContentAndContentType(body, "application/json")
	if err := c.beta.SendNoContent(ctx, ri, errorMap); err != nil {
		err = classify("change the default method of "+userID+" to "+preference, "PATCH /authentication/signInPreferences", err)
		c.log.WarnContext(ctx, "change default method failed", "user", userID, "preference", preference, "err", err)
		return err
	}
	c.log.InfoContext(ctx, "changed default method", "user", userID, "preference", preference)
	return nil
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

// summary counts the deletions, names the methods that were already gone, and says
// what revoking did.
func summary(r actions.Result, gone []string) string {
	n := map[actions.Outcome]int{}
	for _, s := range r.Steps {
		if s.Action == "delete method" {
			n[s.Outcome]++
		}
	}
	out := fmt.Sprintf("Deleted %d method(s)", n[actions.OutcomeDeleted])
	if n[actions.OutcomeAlreadyGone] > 0 {
		out += fmt.Sprintf(", %d already gone (%s)", n[actions.OutcomeAlreadyGone], strings.Join(gone, ", "))
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
	if lifetime != 0 {
		if err := actions.CheckTAPLifetime(lifetime); err != nil {
			return actions.TAP{}, &actions.Error{Kind: actions.KindInvalidInput, Op: op, Message: actions.Explain(err), Err: err}
		}
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
