// Package graph implements actions.Directory, actions.Gatherer and actions.Writer with
// msgraph-sdk-go: v1.0 endpoints through the SDK's builders, the few beta-only ones
// (per-user MFA state, sign-in preferences, sign-ins with MFA detail) through the same
// request adapter pointed at /beta, never the beta SDK. It is the only package that
// links the Graph SDK.
//
// Reads: Gather fetches every source a lookup needs in one JSON $batch (msgraph-sdk-go-
// core's BatchRequest), one request per source, each answer handled on its own: a
// refused or throttled source is recorded as missing with a typed *actions.Error and the
// rest still comes. A batch addresses one API version, so a lookup that needs a
// beta-only source sends the whole batch to /beta/$batch (the v1.0 models read beta
// answers; beta-only properties are decoded from the raw JSON). Throttled items are sent
// again after the longest Retry-After, within a bounded wait; the SDK retries whole
// requests only.
//
// Writes: RevokeSessions, Reregister (typed DELETEs in Graph's order, stale-snapshot
// check, resumable) and IssueTAP (the pass redacts itself everywhere but Reveal).
//
// The HTTP pipeline is built in a fixed order (compression outside retry): kiota-http-go
// ranges over a map to build its default list, and with retry outside compression a
// POST retried after a 429 is resent as gzip-labelled plain text (still so in v1.5.5).
package graph
