// Package slack is mfadesk's Slack adapter. It owns everything that is specific to
// Slack and nothing else:
//
//   - the two transports, Socket Mode (the default: the host that holds Graph
//     credentials opens no inbound port) and HTTP request URLs (v0 signature check,
//     replay refusal, body limit), feeding one handling path;
//   - acknowledging every command, click and form within Slack's 3 seconds and doing
//     the slow work afterwards, answering lookups privately through response_url;
//   - mapping a Slack user to a directory identity (users.info → verified profile
//     email → Resolver), refusing guests, strangers, bots, deleted users and users of
//     other workspaces;
//   - rendering chat.Message as Block Kit within Slack's limits, with user text escaped
//     and a top-level text that summarises the answer for screen readers;
//   - the request modal (views.open / views.update, signed private_metadata) and the
//     deny-reason modal;
//   - the outbound chat.Notifier: approval cards (chat.postMessage / chat.update),
//     direct messages and audit-channel posts.
//
// It knows neither Graph nor bbolt: decisions belong to the Handler (bot.Router), and
// the directory is reached only through the Resolver it is given.
package slack
