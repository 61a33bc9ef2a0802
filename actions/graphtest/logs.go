package graphtest

import (
	"fmt"
	"time"
)

// AddAudit appends a directoryAudit event about the user, completed with what Graph
// always sends (target, id, category), as if the service had just logged it.
func (s *Server) AddAudit(userID string, ev map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.tenant.FindUser(userID)
	if u == nil {
		return fmt.Errorf("add audit event: no user %s", userID)
	}
	u.Audits = append(u.Audits, ev)
	u.complete()
	return nil
}

// AddSignIn appends a sign-in of the user (beta shape), completed with the user's id
// and name, as if the user had just signed in.
func (s *Server) AddSignIn(userID string, si map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.tenant.FindUser(userID)
	if u == nil {
		return fmt.Errorf("add sign-in: no user %s", userID)
	}
	u.SignIns = append(u.SignIns, si)
	u.complete()
	return nil
}

// SelfRegistration is the audit event the Authentication Methods service logs when a
// user registers a method themselves in My Security Info: the user is both the
// initiator (with the address they came from) and the target, the method is in
// resultReason. id must be unique in the tenant.
func SelfRegistration(id, userID, upn, reason, ip string, at time.Time) map[string]any {
	return map[string]any{
		"id": id, "activityDisplayName": "User registered security info", "activityDateTime": at.UTC().Format(time.RFC3339),
		"loggedByService": "Authentication Methods", "category": "UserManagement", "operationType": "Add",
		"result": "success", "resultReason": reason, "correlationId": id + "-c",
		"initiatedBy": map[string]any{"app": nil, "user": map[string]any{
			"id": userID, "displayName": nil, "userPrincipalName": upn, "ipAddress": ip, "userType": nil, "homeTenantId": nil, "homeTenantName": nil}},
		"targetResources":   []any{map[string]any{"id": userID, "type": "User", "displayName": nil, "userPrincipalName": upn, "modifiedProperties": []any{}}},
		"additionalDetails": []any{},
	}
}

// SignInFrom is a successful interactive sign-in of the user from ip in city, country
// (a two-letter code), in the beta shape the tenant files use.
func SignInFrom(id, ip, city, country string, at time.Time) map[string]any {
	return map[string]any{
		"id": id, "createdDateTime": at.UTC().Format(time.RFC3339), "appDisplayName": "My Signins",
		"clientAppUsed": "Browser", "ipAddress": ip, "isInteractive": true, "conditionalAccessStatus": "notApplied",
		"location":                  map[string]any{"city": city, "state": nil, "countryOrRegion": country, "geoCoordinates": nil},
		"status":                    map[string]any{"errorCode": 0, "failureReason": nil, "additionalDetails": nil},
		"authenticationRequirement": "singleFactorAuthentication", "signInEventTypes": []any{"interactiveUser"},
	}
}
