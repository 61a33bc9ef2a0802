// Package web is the demo's chat adapter: a local web chat, served on loopback, where
// one person can act as each demo persona (helpdesk agent, approvers, someone with no
// rights) and watch the whole two-person flow.
//
// It owns four panes and the API that fills them:
//   - a persona's conversation with mfadesk: typed commands (router.Handle) and the
//     answers, with request forms rendered as HTML forms (POST /api/submit →
//     router.Submit; field errors shown beside the fields);
//   - the "#mfa-approvals" channel: approval cards posted and updated in place through
//     the chat.Notifier that Server implements for platform "web", with Approve / Deny
//     buttons (POST /api/decide → router.Decide) whose answer only the clicker sees;
//   - the persona's inbox: chat.Notifier.Tell, keyed by Caller.ChatID = persona id;
//   - the "#mfa-audit" channel: chat.Notifier.PostAudit.
//
// The page polls GET /api/state?persona=ID&since=VERSION every second. Polling rather
// than Server-Sent Events keeps the page token in a header: EventSource cannot send one.
// All state is in memory; the requests and the audit log live in the approvals store.
//
// Choosing a persona is the demo's only "authentication", so the server refuses to
// listen on anything but loopback, answers only requests addressed to a loopback host
// name (against DNS rebinding), and every API call must carry the per-process token
// embedded in the page (a cross-site page cannot read it). The page is a static file
// whose only server-filled parts are two attribute slots (the token and mfadesk's own
// links), so no template package is linked; the page sets all text through
// textContent, under a CSP without inline event handlers or remote sources, so no user
// text is ever parsed as markup. Only chat.LinkURLs become links.
package web
