// Package graphtest is a fake Microsoft Graph tenant that speaks Graph's wire format:
// OData JSON with @odata.type, OData error bodies (always with error.message, since the
// SDK's ODataError.Error panics without one), gzip request bodies (the SDK compresses
// every body), absolute @odata.nextLink paging, and fault injection.
//
// It serves exactly the endpoints mfadesk calls. Tenants are data files (see
// testdata/*.json); the seeds' cases are in the embedded demo tenant. Tests, benchmarks
// and `mfadesk demo` all use it. It never imports the Graph SDK: it must answer what the
// service documents, not what the SDK happens to expect.
package graphtest
