// Package teams is mfadesk's Microsoft Teams adapter. It owns:
//
//   - the Bot Framework endpoint (Adapter.Handler, mounted at POST /api/messages):
//     token validation, tenant check, activity decoding, @mention stripping, and
//     routing of commands, request forms, Approve / Deny clicks and a target's
//     number / "This is not me" clicks to the bot's router; a click's work runs off
//     the invoke, whose answer comes at once, and a result later than the invoke
//     window updates the card clicked (or comes as a 1:1 message), once;
//   - the rendering of chat.Message as Adaptive Cards 1.5 (FactSet, tables, findings
//     with their severity in words, the request form, approval cards with
//     Action.Execute buttons and Action.Submit fallbacks);
//   - the outbound Bot Connector client, and through it chat.Notifier: approval cards
//     as new threads in the approvals channel, their updates in place, 1:1 messages to
//     people, and audit lines in the audit channel.
//
// It knows nothing of Graph or bbolt: who may do what, and whether a request is still
// pending, is the router's business. The adapter's own guarantees are transport ones:
// only validly signed activities of our tenant reach the router, the caller is the
// activity's from.aadObjectId (never anything a card carries), a click Teams re-sends
// is worked on once, and the bot's bearer token only goes to allowed connector URLs.
//
// # Inbound authentication
//
// The Bot Framework spec (learn.microsoft.com, "Authenticate requests with the Bot
// Connector API"): a Bearer JWT, RS256 from the keys of the OpenID metadata, issuer
// https://api.botframework.com, audience our app id, exp and nbf with 5 minutes of
// skew, the signing key endorsed for the activity's channel ("msteams"), and the
// serviceurl claim equal to the activity's serviceUrl. Entra-issued tokens (single-
// tenant bots; Azure Bot Service's move to Entra tokens) are accepted only from the
// configured tenants' v1/v2 issuers, with tid bound to the issuer's tenant. JWT
// parsing is golang-jwt/jwt/v5; signing keys are cached by MicahParks/keyfunc/v3 (on
// jwkset), refreshed at least daily and, rate-limited, on an unknown key id. jwkset
// drops the non-standard "endorsements" of each key, so the HTTP client that fetches
// the key set records them on the way through (endorsementRecorder).
//
// # What of msbotbuilder-go is used, and what is replaced
//
// The project uses github.com/infracloudio/msbotbuilder-go v0.2.5 for its schema
// types only: schema.Activity (embedded in Activity), ChannelAccount,
// ConversationAccount, ResourceResponse and ConversationResourceResponse. Everything
// else is replaced, because:
//
//   - its token validator fetches the metadata on every request and leaks the
//     response, caches keys for 5 days without refresh on an unknown kid, checks no
//     clock skew and no endorsements, knows no Entra issuer, panics on unexpected
//     claims, and turns validation off when the app id is empty;
//   - its connector client takes tokens only from the deprecated botframework.com
//     tenant (single-tenant bots get AADSTS700016), caches failed token responses,
//     races, has no timeouts or retries, drops the id of a posted activity and cannot
//     create conversations; ours takes tokens from an azcore.TokenCredential
//     (azidentity secret, certificate or managed identity) and sends them only to
//     allowed service URLs;
//   - its adapter cannot answer an invoke in the HTTP response (adaptiveCard/action
//     needs the card there), rejects most activity types, and has no context;
//   - its schema.Entity drops the mention's text and id, schema.Activity.Value
//     rejects non-object values, and its outbound activities serialise zero times and
//     empty objects; Activity overrides those fields and outbound activities are
//     our own types.
package teams
