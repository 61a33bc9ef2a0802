package bot

import (
	"errors"

	"github.com/mfadesk/mfadesk/actions"
)

// errUnlinked: the adapter mapped the chat user to no directory user (Teams sends no
// aadObjectId for some accounts; a Slack email matched no one). Waiting will not
// change that.
var errUnlinked = errors.New("the chat account is linked to no directory user")

// unlinkedText says why an unlinked caller gets nothing, in the words of their platform.
func unlinkedText(c Caller) string {
	if c.Platform == PlatformTeams {
		return "Your Teams account is not linked to a directory user: Teams did not say which directory account you are (the message carries no Entra object id, as for guests and people from other organisations), so mfadesk cannot act for you; use your own work account in this organisation."
	}
	return "Your chat account is not linked to a directory user, so mfadesk cannot act for you; use your own work account in this organisation."
}

// directoryFailure is the one line a caller reads when the directory could not
// answer something mfadesk must know before acting. what says what could not be done
// ("Your rights could not be checked, so nothing was done."); the rest says why and
// who can fix it. Only a failure that a retry can fix says to try again.
func directoryFailure(c Caller, what string, err error) string {
	if errors.Is(err, errUnlinked) {
		return what + " " + unlinkedText(c)
	}
	switch actions.KindOf(err) {
	case actions.KindForbidden:
		// A missing application permission: only an administrator can fix it.
		return what + " " + actions.Explain(err) + " An Entra ID administrator must grant it (admin consent); trying again will not help."
	case actions.KindThrottled, actions.KindUnavailable:
		return what + " " + actions.Explain(err)
	case actions.KindNotFound:
		return what + " Your account was not found in the directory; ask an identity administrator."
	default:
		return what + " The cause is in mfadesk's log; tell the mfadesk operator."
	}
}
