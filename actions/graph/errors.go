package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/mfadesk/mfadesk/actions"
)

// permissionFor names the least-privileged application permission per endpoint, so a 403
// tells the operator what to grant instead of just "forbidden".
var permissionFor = []struct{ path, perm string }{
	{"PATCH /authentication/", "UserAuthenticationMethod.ReadWrite.All"},
	{"/authentication/requirements", "Policy.Read.All"},
	{"/authentication/temporaryAccessPassMethods", "UserAuthenticationMethod.ReadWrite.All"},
	{"/authentication/methods", "UserAuthenticationMethod.Read.All"},
	{"Methods/", "UserAuthenticationMethod.ReadWrite.All"},
	{"/authentication/", "UserAuthenticationMethod.Read.All"},
	{"/revokeSignInSessions", "User.RevokeSessions.All"},
	{"signInActivity", "AuditLog.Read.All and an Entra ID P1 licence"},
	{"/reports/authenticationMethods", "AuditLog.Read.All and an Entra ID P1 licence"},
	{"/auditLogs/signIns", "AuditLog.Read.All + Directory.Read.All and an Entra ID P1 licence"},
	{"/auditLogs/directoryAudits", "AuditLog.Read.All"},
	{"/transitiveMemberOf", "GroupMember.Read.All"},
	{"/checkMemberGroups", "GroupMember.Read.All"},
	{"/roleManagement/directory", "RoleManagement.Read.Directory"},
	{"/identityGovernance/privilegedAccess/group", "PrivilegedEligibilitySchedule.Read.AzureADGroup"},
	{"/groups", "GroupMember.Read.All"},
	{"/users", "User.Read.All"},
}

// PermissionFor returns the permission an endpoint path needs, or "".
func PermissionFor(path string) string {
	for _, p := range permissionFor {
		if strings.Contains(path, p.path) {
			return p.perm
		}
	}
	return ""
}

// classify turns an SDK error into *actions.Error. op says what was being done; path is
// the endpoint, used to name the missing permission on 403.
func classify(op, path string, err error) error {
	if err == nil {
		return nil
	}
	e := &actions.Error{Op: op, Err: err}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		e.Kind, e.Message = actions.KindUnavailable, "Microsoft Graph did not answer in time"
		return e
	}
	status := 0
	var headers *abs.ResponseHeaders
	var oe *odataerrors.ODataError
	var ae *abs.ApiError
	switch {
	case errors.As(err, &oe):
		status = oe.ResponseStatusCode
		headers = oe.GetResponseHeaders()
		// Read the body defensively: Error() and nested getters can be nil.
		if me := oe.GetErrorEscaped(); me != nil {
			if c := me.GetCode(); c != nil {
				e.Code = *c
			}
			if m := me.GetMessage(); m != nil {
				e.Message = *m
			}
			if ie := me.GetInnerError(); ie != nil && ie.GetRequestId() != nil {
				e.RequestID = *ie.GetRequestId()
			}
		}
	case errors.As(err, &ae):
		status = ae.ResponseStatusCode
		headers = ae.ResponseHeaders
	default:
		e.Kind, e.Message = actions.KindUnavailable, "could not reach Microsoft Graph"
		return e
	}
	return finish(e, status, path, headers)
}

// classifyItem turns the answer to one $batch item into *actions.Error. The SDK's typed
// error for an item carries Graph's code and message but not the item's status or
// headers, so those come from the item itself.
func classifyItem(op, path string, status int, headers map[string]string, err error) error {
	e := &actions.Error{Op: op, Err: err}
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		if me := oe.GetErrorEscaped(); me != nil {
			if c := me.GetCode(); c != nil {
				e.Code = *c
			}
			if m := me.GetMessage(); m != nil {
				e.Message = *m
			}
			if ie := me.GetInnerError(); ie != nil && ie.GetRequestId() != nil {
				e.RequestID = *ie.GetRequestId()
			}
		}
	}
	h := abs.NewResponseHeaders()
	for k, v := range headers {
		h.Add(k, v)
	}
	return finish(e, status, path, h)
}

// licenceCode is Graph's error code for reporting calls in a tenant without Entra ID P1.
const licenceCode = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"

func finish(e *actions.Error, status int, path string, headers *abs.ResponseHeaders) error {
	if e.Message == "" {
		e.Message = fmt.Sprintf("Microsoft Graph answered %d", status)
	}
	switch {
	case status == http.StatusNotFound:
		e.Kind = actions.KindNotFound
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		e.Kind = actions.KindForbidden
		e.Permission = PermissionFor(path)
		if e.Code == licenceCode || strings.Contains(e.Message, "premium license") {
			e.Licence = "Entra ID P1 or P2"
		}
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		e.Kind = actions.KindThrottled
		e.RetryAfter = retryAfter(headers)
	case status >= 400 && status < 500:
		e.Kind = actions.KindBadRequest
	default:
		e.Kind = actions.KindUnavailable
	}
	return e
}

// retryAfter reads Retry-After as (possibly fractional) seconds or an HTTP date.
func retryAfter(h *abs.ResponseHeaders) time.Duration {
	if h == nil {
		return 0
	}
	for _, k := range []string{"Retry-After", "retry-after"} {
		for _, v := range h.Get(k) {
			if d := retryAfterHeader(v); d > 0 {
				return d
			}
		}
	}
	return 0
}

// retryAfterHeader parses one Retry-After value; "" or garbage is 0.
func retryAfterHeader(v string) time.Duration {
	v = strings.TrimSpace(v)
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f < 86400 {
		return time.Duration(f * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && time.Until(t) > 0 {
		return time.Until(t)
	}
	return 0
}
