package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/bot"
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
	log := newLogger(stderr, cfg.LogLevel)

	cred, err := graphCredential(cfg.Graph)
	if err != nil {
		return err
	}
	dir, err := graph.New(graph.Config{BaseURL: cfg.Graph.BaseURL, Credential: cred, MFAGroups: cfg.Graph.MFAGroups})
	if err != nil {
		return fmt.Errorf("create graph client: %w", err)
	}
	router, err := bot.NewRouter(bot.RouterOptions{Directory: dir, Groups: bot.Groups{Helpdesk: cfg.Groups.Helpdesk, Approvers: cfg.Groups.Approvers}, Logger: log})
	if err != nil {
		return err
	}
	_ = router

	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	srv := &http.Server{Addr: cfg.Listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	ready.Store(true)
	log.Info("mfadesk serving", "listen", cfg.Listen, "version", version, "slack", cfg.Slack.Enabled, "teams", cfg.Teams.Enabled)

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("listen %s: %w", cfg.Listen, err)
		}
	}
	ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
