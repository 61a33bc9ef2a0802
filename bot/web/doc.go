// Package web is the demo's chat adapter: a local web chat served on loopback where one
// person can act as each demo persona (helpdesk agent, approvers, someone with no
// rights). It turns typed commands and button clicks into bot events and renders bot
// messages as HTML (in the browser, from JSON, with text set through textContent so no
// user text is ever parsed as markup).
//
// Choosing a persona is the demo's only "authentication", so the server refuses to
// listen on anything but loopback, and every API call must carry the per-process token
// embedded in the page (a cross-site page cannot read it).
package web
