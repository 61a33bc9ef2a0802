// Package actions owns what mfadesk can ask of the directory: the typed lookups
// (user, methods, registration status, sign-ins, security-info audit events), the
// diagnose findings as pure functions over a lookup snapshot, and the write actions.
//
// The package defines the domain types and the Directory interface; it knows no chat
// platform. The Microsoft Graph implementation lives in actions/graph and the fake
// Graph tenant used by tests, benchmarks and the demo in actions/graphtest, so that
// packages which only need the types do not link the (very large) Graph SDK.
package actions
