package bot

import (
	"errors"

	"github.com/mfadesk/mfadesk/actions"
)

// errNoIdentity: the platform did not say which directory user the caller is (Teams
// sends no aadObjectId for some accounts). Waiting will not change that.
var errNoIdentity = errors.New("caller has no directory identity")

// directoryFailure is the one line a caller reads when the directory could not
// answer something mfadesk must know before acting. what says what could not be done
// ("Your rights could not be checked, so nothing was done."); the rest says why and
// who can fix it. Only a failure that a retry can fix says to try again.
func directoryFailure(c Caller, what string, err error) string {
	if errors.Is(err, errNoIdentity) {
		if c.Platform == PlatformTeams {
			return what + " Teams did not say which directory account you are (the message carries no Entra object id, as for guests and people from other organisations); use your own work account in this organisation."
		}
		return what + " mfadesk does not know which directory account you are; use your own work account in this organisation."
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
