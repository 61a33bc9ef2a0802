package bot

import (
	"context"
	"fmt"

	"github.com/mfadesk/mfadesk/actions"
)

// Evidence windows of the lookups. Graph keeps sign-ins and audit events for 30 days;
// usability and diagnose read the whole audit window because an unfinished
// registration is often weeks old when the user first notices it.
const (
	diagnoseSignIns = 50
	diagnoseDays    = 7
)

// lookupQuery is what each read-only verb asks the directory for.
func lookupQuery(cmd Command) actions.Query {
	switch cmd.Verb {
	case VerbMethods:
		return actions.Query{Sources: actions.ForMethods, AuditDays: actions.MaxDays}
	case VerbStatus:
		return actions.Query{Sources: actions.ForStatus}
	case VerbSignins:
		return actions.Query{Sources: actions.ForSignIns, SignInLast: cmd.Last, SignInFailedOnly: cmd.Failed, SignInDays: actions.MaxDays}
	case VerbAudit:
		return actions.Query{Sources: actions.ForAudit, AuditDays: cmd.Days}
	default:
		return actions.Query{Sources: actions.ForDiagnose, SignInLast: diagnoseSignIns, SignInDays: diagnoseDays, AuditDays: actions.MaxDays}
	}
}

// lookup answers methods, status, signins, audit and diagnose from one gathering of
// evidence (one Graph round trip when the user is named by object id).
func (r *Router) lookup(ctx context.Context, cmd Command) Message {
	if r.gather == nil {
		return Refuse(fmt.Sprintf("%s is not available on this mfadesk: it has no directory evidence source.", cmd.Verb))
	}
	ev, err := r.gather.Gather(ctx, cmd.User, lookupQuery(cmd))
	if err != nil {
		return r.lookupFailed(ctx, cmd, err)
	}
	switch cmd.Verb {
	case VerbMethods:
		return RenderMethods(ev)
	case VerbStatus:
		return RenderStatus(ev)
	case VerbSignins:
		return RenderSignIns(ev)
	case VerbAudit:
		return RenderAudit(ev)
	default:
		return RenderDiagnosis(ev, actions.Diagnose(ev, r.now()), cmd.Platform)
	}
}
