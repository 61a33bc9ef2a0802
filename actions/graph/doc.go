// Package graph implements actions.Directory with msgraph-sdk-go (v1.0 endpoints through
// the SDK's builders, the few beta-only ones through the same request adapter). It is
// the only package that links the Graph SDK.
package graph
