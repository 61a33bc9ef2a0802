package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/slack"
	"github.com/mfadesk/mfadesk/bot/teams"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlags("serve", "serve --config FILE", stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(stderr, "serve needs --config FILE")
		fs.Usage()
		return errUsage
	}
	cfg, err := LoadConfig(*path, getenv)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, newLogger(stderr, cfg.LogLevel), nil)
}

// newGraphClient builds the Graph client serve uses. It logs through log, as does the
// Azure SDK under it, so every line is serve's JSON at the configured log_level.
func newGraphClient(cfg *Config, log *slog.Logger, m *metrics) (*graph.Client, error) {
	graph.RouteSDKLogs(log)
	cred, err := graphCredential(cfg.Graph)
	if err != nil {
		return nil, err
	}
	dir, err := graph.New(graph.Config{
		BaseURL: cfg.Graph.BaseURL, Credential: cred, MFAGroups: cfg.Graph.MFAGroups, Logger: log,
		WriteRetryBudget: cfg.Graph.WriteRetryBudget,
		HTTPClient:       &http.Client{Transport: graphTransport{next: graph.SharedTransport(), m: m}},
	})
	if err != nil {
		return nil, fmt.Errorf("create graph client: %w", err)
	}
	return dir, nil
}

// serve runs the bot until ctx ends. started, if not nil, receives the address of the
// listener once everything is ready (tests).
func serve(ctx context.Context, cfg *Config, log *slog.Logger, started chan<- string) error {
	m := newMetrics()
	dir, err := newGraphClient(cfg, log, m)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer store.Close()
	// On etcd, several replicas share the store and one leader sweeps and recovers.
	shared, _ := store.(*approvals.EtcdStore)

	// Outbound sides first: the router posts through them.
	notifiers := map[bot.Platform]bot.Notifier{}
	var slackOpts slack.Options
	if cfg.Slack.Enabled {
		slackOpts = slack.Options{
			Mode: slack.Mode(cfg.Slack.Mode), BotToken: cfg.Slack.BotToken, AppToken: cfg.Slack.AppToken,
			SigningSecret: cfg.Slack.SigningSecret, APIURL: cfg.Slack.APIURL,
			TeamID: cfg.Slack.TeamID, EnterpriseID: cfg.Slack.EnterpriseID,
			ApprovalsChannel: cfg.Slack.ApprovalsChannel, AuditChannel: cfg.Slack.AuditChannel, Logger: log,
			SecurityChannel:  cfg.Slack.SecurityChannel,
			ResponseURLHosts: cfg.Slack.ResponseURLHosts, OnRefused: m.refusedBy(bot.PlatformSlack),
		}
		// A Slack stand-in on this machine (api_url on loopback: tests, benchmarks) also
		// serves the response_urls; real Slack's are always on slack.com.
		if u, err := url.Parse(cfg.Slack.APIURL); err == nil && graph.IsLoopback(u) && len(cfg.Slack.ResponseURLHosts) == 0 {
			slackOpts.ResponseURLHosts = []string{u.Hostname()}
		}
		n, err := slack.NewNotifier(slackOpts)
		if err != nil {
			return fmt.Errorf("slack: %w", err)
		}
		notifiers[bot.PlatformSlack] = n
	}
	var teamsAdapter *teams.Adapter
	if cfg.Teams.Enabled {
		tcred, err := teamsCredential(cfg.Teams)
		if err != nil {
			return fmt.Errorf("teams: %w", err)
		}
		teamsAdapter, err = teams.New(teams.Options{
			AppID: cfg.Teams.AppID, TenantID: cfg.Teams.TenantID, Credential: tcred, ServiceURL: cfg.Teams.ServiceURL, ServiceHosts: cfg.Teams.ServiceHosts,
			ApprovalsChannel: cfg.Teams.ApprovalsChannel, AuditChannel: cfg.Teams.AuditChannel, SecurityChannel: cfg.Teams.SecurityChannel,
			OpenIDMetadataURL: cfg.Teams.OpenIDMetadataURL, EntraMetadataURL: cfg.Teams.EntraMetadataURL, KeyRetry: teamsKeyRetry, Logger: log,
			EntraTenants: cfg.Teams.EntraTenants, EntraCallers: cfg.Teams.EntraCallers,
		})
		if err != nil {
			return fmt.Errorf("teams: %w", err)
		}
		defer teamsAdapter.Close() // on an early return; after a drain it returns at once
		notifiers[bot.PlatformTeams] = teamsAdapter
	}

	router, svc, err := bot.Assemble(ctx, bot.AssembleOptions{
		Backend: dir, Store: store, Notifiers: notifiers, Logger: log,
		ProtectedGroups: cfg.Approvals.ProtectedGroups,
		Policy: approvals.Policy{
			HelpdeskGroupID: cfg.Groups.Helpdesk, ApproversGroupID: cfg.Groups.Approvers,
			Protected: approvals.ProtectedMode(cfg.Approvals.Protected), AllowPhoneKBA: cfg.Approvals.AllowPhoneKBA,
			TTL: cfg.Approvals.Expiry, RateLimit: cfg.Approvals.RateLimit, RateWindow: cfg.Approvals.RateWindow,
			BulkTwoApproversAbove: cfg.Approvals.BulkTwoApproversAbove, BulkMax: cfg.Approvals.BulkMax,
			Resume:               bot.Executor{}.Resumable(),
			MinEvidence:          evidenceMinimums(cfg.Approvals.Evidence, approvals.DefaultMinEvidence()),
			MinEvidenceProtected: evidenceMinimums(cfg.Approvals.EvidenceProtected, nil),
			ConfirmTTL:           cfg.Approvals.ConfirmExpiry, FreezeFor: cfg.Approvals.FreezeFor,
			NotifyManager: cfg.Approvals.NotifyManager,
			WatchFor:      cfg.Approvals.WatchFor(),
		},
		Hook: m.onChange,
	})
	if err != nil {
		return err
	}
	if shared == nil {
		if resumed, err := svc.Recover(ctx); err != nil {
			return fmt.Errorf("recover interrupted requests: %w", err)
		} else if len(resumed) > 0 {
			log.Info("recovered interrupted requests", "count", len(resumed))
		}
	}
	h := countingHandler{r: router, m: m}

	var ready atomic.Bool
	var slackAdapter *slack.Adapter
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() || (slackAdapter != nil && !slackAdapter.Ready()) || (teamsAdapter != nil && !teamsAdapter.Ready()) {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if shared != nil {
			fmt.Fprintln(w, replicaStatus(r.Context(), shared))
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", m.handler())

	errc := make(chan error, 4)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The watch after a reset polls on one process only: this one on bbolt, the leader
	// on etcd (lead runs it), so each registration is read and reported by one poller.
	var watcher *approvals.Watcher
	if cfg.Approvals.WatchFor() > 0 {
		watcher = svc.NewWatcher(dir)
	}
	go func() {
		if shared != nil {
			lead(runCtx, shared, svc, m, log, watcher, cfg.Approvals.WatchInterval)
			return
		}
		if watcher != nil {
			go watcher.Run(runCtx, cfg.Approvals.WatchInterval)
		}
		if err := svc.Run(runCtx, 30*time.Second); err != nil {
			errc <- fmt.Errorf("expiry sweeper: %w", err)
		}
	}()
	if cfg.Slack.Enabled {
		slackOpts.Handler = h
		// Slack's verified profile email → directory user, mapped by the core; the core's caller rule then refuses disabled and guest accounts.
		// The identity fields and the standing in one Graph round trip per new Slack user (Router.ObjectIDByEmail).
		slackOpts.Resolver = router
		slackAdapter, err = slack.New(slackOpts)
		if err != nil {
			return fmt.Errorf("slack: %w", err)
		}
		if cfg.Slack.Mode == "http" {
			mux.Handle("/slack/", m.observeAck(bot.PlatformSlack, slackAdapter.HTTPHandler()))
		} else {
			go func() {
				if err := slackAdapter.RunSocketMode(runCtx); err != nil {
					errc <- fmt.Errorf("slack socket mode: %w", err)
				}
			}()
		}
	}
	if teamsAdapter != nil {
		// Keys that cannot be read yet do not stop serve: Slack, the sweeper and the
		// health endpoints keep working, /readyz says not ready, Teams requests get 503
		// until the keys load, and loading is retried.
		go loadTeamsKeys(runCtx, teamsAdapter, log)
		mux.Handle("POST /api/messages", m.observeAck(bot.PlatformTeams, teamsAdapter.Handler(h)))
	}

	srv := &http.Server{Addr: cfg.Listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := listen(cfg.Listen)
	if err != nil {
		return err
	}
	go func() { errc <- srv.Serve(ln) }()
	ready.Store(true)
	log.Info("mfadesk serving", "listen", ln.Addr().String(), "version", version, "slack", cfg.Slack.Enabled, "slack_mode", cfg.Slack.Mode, "teams", cfg.Teams.Enabled)
	if started != nil {
		started <- ln.Addr().String()
	}

	var runErr error
	reason := "context ended"
	select {
	case <-ctx.Done():
		reason = context.Cause(ctx).Error()
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = err
			reason = err.Error()
		}
	}
	// Stop taking work, then let work already taken finish: an approved request
	// half-executed at a hard kill would have to wait for recovery at the next start.
	log.Info("mfadesk stopping: draining in-flight work", "reason", reason, "deadline", drainTimeout.String())
	ready.Store(false)
	sctx, scancel := context.WithTimeout(context.Background(), drainTimeout)
	defer scancel()
	steps := []drainStep{
		// Shutdown closes the listener and waits for running handlers (Teams card
		// clicks and approvals decide and execute inside the request).
		{"http server", func(ctx context.Context) error { return srv.Shutdown(ctx) }},
		// Bulk runs stop at their next user (each finished user is stored); the next
		// start resumes them where they stopped.
		{"bulk runs", svc.Shutdown},
	}
	if slackAdapter != nil {
		steps = append(steps, drainStep{"slack follow-ups", slackAdapter.Shutdown})
	}
	if teamsAdapter != nil {
		steps = append(steps, drainStep{"teams messages", func(context.Context) error { return teamsAdapter.Close() }})
	}
	// The sweeper and Socket Mode stop last: a Slack decision in flight still needs
	// its connection to answer.
	steps = append(steps, drainStep{"background loops", func(context.Context) error { cancel(); return nil }})
	if err := drain(sctx, log, steps); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// teamsKeyRetry is how often serve retries reading the Teams signing keys.
var teamsKeyRetry = 30 * time.Second

// loadTeamsKeys reads the Teams signing keys, retrying until they load or ctx ends.
func loadTeamsKeys(ctx context.Context, a *teams.Adapter, log *slog.Logger) {
	for {
		err := a.LoadKeys(ctx)
		if err == nil {
			log.InfoContext(ctx, "teams: signing keys loaded; ready")
			return
		}
		log.ErrorContext(ctx, "teams: signing keys not loaded; not ready, retrying", "retry_in", teamsKeyRetry, "err", err)
		t := time.NewTimer(teamsKeyRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// drainTimeout bounds the drain at shutdown; keep it below the supervisor's stop
// timeout (systemd TimeoutStopSec=30 in docs/mfadesk.service; docker stop -t 30).
const drainTimeout = 20 * time.Second

// drainStep is one thing serve waits for at shutdown.
type drainStep struct {
	name string
	wait func(ctx context.Context) error
}

// drain runs the steps in order under one deadline and logs each; a step that does
// not finish in time is logged and abandoned, and the error names it.
func drain(ctx context.Context, log *slog.Logger, steps []drainStep) error {
	start := time.Now()
	var errs []error
	for _, s := range steps {
		done := make(chan error, 1)
		go func() { done <- s.wait(ctx) }()
		var err error
		select {
		case err = <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("drain: not finished", "step", s.name, "err", err)
			errs = append(errs, fmt.Errorf("drain %s: %w", s.name, err))
			continue
		}
		log.Info("drain: done", "step", s.name)
	}
	log.Info("mfadesk stopped", "drained", len(errs) == 0, "took", time.Since(start).Round(time.Millisecond).String())
	return errors.Join(errs...)
}
