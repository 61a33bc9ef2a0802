package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
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

// serve runs the bot until ctx ends. started, if not nil, receives the address of the
// listener once everything is ready (tests).
func serve(ctx context.Context, cfg *Config, log *slog.Logger, started chan<- string) error {
	m := newMetrics()
	cred, err := graphCredential(cfg.Graph)
	if err != nil {
		return err
	}
	dir, err := graph.New(graph.Config{
		BaseURL: cfg.Graph.BaseURL, Credential: cred, MFAGroups: cfg.Graph.MFAGroups,
		HTTPClient: &http.Client{Transport: graphTransport{next: http.DefaultTransport, m: m}},
	})
	if err != nil {
		return fmt.Errorf("create graph client: %w", err)
	}
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer store.Close()
	// On etcd, several replicas share the store and one leader sweeps and recovers.
	shared, _ := store.(*approvals.EtcdStore)

	// Outbound sides first: the router posts through them.
	notifiers := map[string]bot.Notifier{}
	var slackOpts slack.Options
	if cfg.Slack.Enabled {
		slackOpts = slack.Options{
			Mode: slack.Mode(cfg.Slack.Mode), BotToken: cfg.Slack.BotToken, AppToken: cfg.Slack.AppToken,
			SigningSecret: cfg.Slack.SigningSecret, APIURL: cfg.Slack.APIURL,
			TeamID: cfg.Slack.TeamID, EnterpriseID: cfg.Slack.EnterpriseID,
			ApprovalsChannel: cfg.Slack.ApprovalsChannel, AuditChannel: cfg.Slack.AuditChannel, Logger: log,
		}
		n, err := slack.NewNotifier(slackOpts)
		if err != nil {
			return fmt.Errorf("slack: %w", err)
		}
		notifiers["slack"] = n
	}
	var teamsAdapter *teams.Adapter
	if cfg.Teams.Enabled {
		tcred, err := teams.NewCredential(teams.CredentialConfig{
			Kind: cfg.Teams.Credential, TenantID: cfg.Teams.TenantID, AppID: cfg.Teams.AppID,
			Secret: cfg.Teams.AppPassword, CertificateFile: cfg.Teams.CertificateFile, CertificatePassword: cfg.Teams.CertificatePass,
		})
		if err != nil {
			return fmt.Errorf("teams: %w", err)
		}
		teamsAdapter, err = teams.New(teams.Options{
			AppID: cfg.Teams.AppID, TenantID: cfg.Teams.TenantID, Credential: tcred, ServiceURL: cfg.Teams.ServiceURL,
			ApprovalsChannel: cfg.Teams.ApprovalsChannel, AuditChannel: cfg.Teams.AuditChannel,
			OpenIDMetadataURL: cfg.Teams.OpenIDMetadataURL, Logger: log,
			EntraTenants: cfg.Teams.EntraTenants, EntraCallers: cfg.Teams.EntraCallers,
		})
		if err != nil {
			return fmt.Errorf("teams: %w", err)
		}
		defer teamsAdapter.Close()
		notifiers["teams"] = teamsAdapter
	}

	router, svc, err := bot.Assemble(ctx, bot.AssembleOptions{
		Backend: dir, Store: store, Notifiers: notifiers, Logger: log,
		ProtectedGroups: cfg.Approvals.ProtectedGroups,
		Policy: approvals.Policy{
			HelpdeskGroupID: cfg.Groups.Helpdesk, ApproversGroupID: cfg.Groups.Approvers,
			Protected: approvals.ProtectedMode(cfg.Approvals.Protected), AllowPhoneKBA: cfg.Approvals.AllowPhoneKBA,
			TTL: cfg.Approvals.Expiry, RateLimit: cfg.Approvals.RateLimit, RateWindow: cfg.Approvals.RateWindow,
			// Both actions are safe to repeat: a reregister re-lists and deletes what is
			// left; a revoke just revokes again.
			Resume: map[approvals.Action]bool{approvals.ActionReregister: true, approvals.ActionRevoke: true},
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
		if !ready.Load() || (slackAdapter != nil && !slackAdapter.Ready()) {
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
	go func() {
		if shared != nil {
			lead(runCtx, shared, svc, m, log)
			return
		}
		if err := svc.Run(runCtx, 30*time.Second); err != nil {
			errc <- fmt.Errorf("expiry sweeper: %w", err)
		}
	}()
	if cfg.Slack.Enabled {
		slackOpts.Handler = h
		// Slack's verified profile email → directory user; disabled and guest accounts are refused.
		slackOpts.Resolver = slack.DirectoryResolver(dir)
		slackAdapter, err = slack.New(slackOpts)
		if err != nil {
			return fmt.Errorf("slack: %w", err)
		}
		if cfg.Slack.Mode == "http" {
			mux.Handle("/slack/", m.observeAck("slack", slackAdapter.HTTPHandler()))
		} else {
			go func() {
				if err := slackAdapter.RunSocketMode(runCtx); err != nil {
					errc <- fmt.Errorf("slack socket mode: %w", err)
				}
			}()
		}
	}
	if teamsAdapter != nil {
		if err := teamsAdapter.LoadKeys(ctx); err != nil {
			return fmt.Errorf("teams: load Bot Framework signing keys: %w", err)
		}
		mux.Handle("POST /api/messages", m.observeAck("teams", teamsAdapter.Handler(h)))
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
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = err
		}
	}
	ready.Store(false)
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if slackAdapter != nil {
		_ = slackAdapter.Shutdown(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil && runErr == nil && !strings.Contains(err.Error(), "closed") {
		runErr = err
	}
	return runErr
}
