// Package graphtest is a fake Microsoft Graph tenant that speaks Graph's wire format,
// for exactly the endpoints mfadesk calls, under /v1.0 and /beta:
//
//   - OData JSON with @odata.type and @odata.context, absolute @odata.nextLink paging,
//     and OData error bodies that always carry error.message (the SDK's
//     ODataError.Error panics without one);
//   - gzip request bodies (the SDK compresses every body; a body labelled gzip that is
//     not gzip is refused, as a strict server does);
//   - $batch: at most 20 requests with unique ids, item URLs relative to the batch's
//     version, dependsOn (a failed dependency answers 424), each item's own status,
//     headers (strings) and body, answers in shuffled order;
//   - $filter as Graph supports it on these endpoints (eq/ne/ge/le…, and/or/not,
//     startswith, any/all lambdas), with OData quoting;
//   - Graph's refusals: deleting the default method while others remain, the mobile
//     phone while an alternate remains, DELETE on the generic methods collection or the
//     password, beta-only paths under /v1.0, and the 403 of a tenant without Entra ID P1;
//   - writes: method DELETEs, the default method (beta PATCH signInPreferences, refused
//     for a method the user lacks or the policy disallows), revokeSignInSessions
//     (200 {"value": true}) and temporary access passes (201, the pass returned only then);
//   - roles: assignments and PIM eligibilities of users and role-assignable groups, and
//     PIM for Groups eligible memberships (a $filter on principalId or groupId required).
//
// Faults are injected per call — a request, or one item of a batch — so a 403 on
// sign-ins inside a batch is that item's status: fixed latency (per HTTP request),
// 429 with Retry-After (every Nth call, the first N, or above a rate), 503 (always or
// the first N) and 403 by path. Requests counts round trips.
//
// Tenants are data files under tenants/ kept in Graph's own JSON shape; demo.json holds
// the seeds' cases. Their timestamps are moved at start so the newest event is about an
// hour old (see Tenant.AsOf). Tests, benchmarks and `mfadesk demo` all use it. It never
// imports the Graph SDK: it must answer what the service documents, not what the SDK
// happens to expect.
package graphtest
