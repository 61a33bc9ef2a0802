// Package bot owns what is the same on every chat platform: the command grammar
// (`/mfa <verb> …` in Slack, `@mfadesk <verb> …` in Teams, the demo's web chat), the
// platform-neutral message model that adapters render (Block Kit, Adaptive Cards, HTML),
// the identity of the caller, and the Router that turns an event into lookups or
// requests.
//
// It knows neither Slack's nor Teams' wire formats, nor Graph: it talks to the
// directory through the small interfaces declared in router.go.
package bot
