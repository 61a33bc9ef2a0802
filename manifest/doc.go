// Package manifest owns the platform app manifests mfadesk needs to be installed: the
// Slack app manifest (slack.go) and the Teams app package. Each is generated from a
// few options and checked before it is written, so an operator never hand-edits
// scopes or request URLs.
package manifest
