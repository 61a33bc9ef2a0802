// Package chat is the contract between the bot and its chat adapters (Slack, Teams, the
// web demo): the platform-neutral message model the adapters render, the caller and the
// events they deliver, the inbound Handler they call and the Notifier they implement.
//
// It holds types and pure helpers only, so an adapter that imports it depends on neither
// the approvals store nor the directory.
package chat
