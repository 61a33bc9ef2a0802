package bot

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
)

// Backend is everything the bot asks of the directory: lookups, evidence and the two
// write actions. The Graph client implements it; so can a test double.
type Backend interface {
	Directory
	actions.Gatherer
	actions.Writer
}

// AssembleOptions are what Assemble wires together.
type AssembleOptions struct {
	Backend Backend
	Store   approvals.Store
	Policy  approvals.Policy
	// ProtectedGroups are group object ids whose members are protected targets.
	ProtectedGroups []string
	Notifiers       map[Platform]Notifier
	Logger          *slog.Logger
	Clock           func() time.Time
	// Hook, if set, wraps the router's change hook (metrics count transitions there).
	Hook func(next func(approvals.Request)) func(approvals.Request)
}

// Assemble builds the router and the approvals service around one store, with the
// approvals hooks pointing back at the router (cards updated in place, audit posts).
// serve, demo and the adapters' end-to-end tests all wire the bot through it.
func Assemble(ctx context.Context, o AssembleOptions) (*Router, *approvals.Service, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	router, err := NewRouter(RouterOptions{
		Directory: o.Backend,
		Gatherer:  o.Backend,
		Notifiers: o.Notifiers,
		Cards:     StoreCards{Store: o.Store},
		Groups:    Groups{Helpdesk: o.Policy.HelpdeskGroupID, Approvers: o.Policy.ApproversGroupID},
		Logger:    o.Logger,
		Now:       o.Clock,
	})
	if err != nil {
		return nil, nil, err
	}
	onChange := router.OnChange
	if o.Hook != nil {
		onChange = o.Hook(onChange)
	}
	dir := ApprovalsDirectory{Dir: o.Backend, ProtectedGroups: o.ProtectedGroups}
	svc, err := approvals.New(ctx, approvals.Options{
		Store:     o.Store,
		Directory: dir,
		// Bulk runs live under ctx, the process's; serve drains them with Shutdown.
		BulkWork:       BulkReregister(o.Backend, dir.Protection),
		OnBulkProgress: router.OnBulkProgress,
		Background:     ctx,
		Executor:       Executor{W: o.Backend, Deliver: router.tellPrivately},
		Policy:         o.Policy,
		Clock:          o.Clock,
		OnChange:       onChange,
		OnAudit:        router.OnAudit,
		Logger:         o.Logger,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("start approvals: %w", err)
	}
	router.SetRequests(svc)
	if g, ok := o.Backend.(BulkGroups); ok {
		router.enableBulk(g, dir.Protection)
	}
	return router, svc, nil
}
