package graph

import (
	"log/slog"

	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// RouteSDKLogs sends the Azure SDK's log events — azidentity's token acquisition,
// azcore's retries and failed responses — to log at debug level, so the process keeps
// one log stream, in one format, at one level (kiota and msgraph-sdk-go log nothing of
// their own; the Client logs through Config.Logger). The Azure SDK's listener is
// process-wide, so serve calls this once. Request and response events stay off: they
// carry every URL and header, which the bot's log does not need.
func RouteSDKLogs(log *slog.Logger) {
	azlog.SetEvents(azidentity.EventAuthentication, azlog.EventRetryPolicy, azlog.EventResponseError)
	azlog.SetListener(func(e azlog.Event, msg string) {
		log.Debug(msg, "component", "azure-sdk", "event", string(e))
	})
}
