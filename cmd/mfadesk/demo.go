package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/web"
)

// Demo personas: who the demo user can act as, by their UPN's local part in the demo
// tenant. Between them they cover every branch of the two-person rule: Hana files,
// Alex or Sam approves, Hana cannot approve her own, Nora may do nothing. MFA Test 2
// is an employee the requests are about: their inbox gets the confirmation with its
// three numbers and "This is not me", and the notice after a change.
var demoPersonas = []struct{ id, local, role string }{
	{"hana", "hana.helpdesk", "helpdesk agent"},
	{"alex", "alex.approver", "approver, also helpdesk"},
	{"sam", "sam.approver", "second approver"},
	{"nora", "nora.norights", "no rights"},
	{"mfatest2", "mfatest2", "target employee"},
}

type demoOptions struct {
	listen   string
	db       string // "" means a new file in a new directory under os.TempDir
	expiry   time.Duration
	logLevel string
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "demo [--listen 127.0.0.1:8765] [--db FILE] [--expiry 30m]", stderr)
	var o demoOptions
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8765", "address of the web chat (loopback only)")
	fs.StringVar(&o.db, "db", "", "bbolt database file for requests and the audit log (default: a new file under "+os.TempDir()+")")
	fs.DurationVar(&o.expiry, "expiry", approvals.DefaultTTL, "how long a request waits for an approver before it expires")
	fs.StringVar(&o.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.expiry <= 0 {
		fmt.Fprintf(stderr, "--expiry %s must be positive\n", o.expiry)
		return errUsage
	}
	return runDemo(ctx, o, stdout, newLogger(stderr, o.logLevel))
}

// runDemo runs the whole bot on this machine until ctx ends: the fake Graph tenant on
// loopback, the real Graph SDK talking HTTP to it, approvals on a bbolt file, the
// expiry sweeper, and the web chat as the only platform.
func runDemo(ctx context.Context, o demoOptions, stdout io.Writer, log *slog.Logger) (err error) {
	tenant, err := graphtest.LoadTenant("demo")
	if err != nil {
		return fmt.Errorf("load the demo tenant: %w", err)
	}
	personas, policy, err := demoDirectory(tenant)
	if err != nil {
		return err
	}
	policy.TTL = o.expiry
	// Listen first: a refused address should not leave a database file behind.
	ln, err := web.Listen(o.listen)
	if err != nil {
		return err
	}
	defer ln.Close()

	dbPath := o.db
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "mfadesk-demo-")
		if err != nil {
			return fmt.Errorf("create the demo's database directory: %w", err)
		}
		dbPath = filepath.Join(dir, "mfadesk.db")
	}
	store, err := approvals.OpenBolt(dbPath, approvals.BoltOptions{})
	if err != nil {
		return err
	}
	// Closed last: the web chat and the sweeper are stopped first, so no transaction
	// is cut off and `mfadesk audit verify` can open the file at once.
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close database %s: %w", dbPath, cerr)
		}
	}()

	// The fake Graph tenant, on loopback; the real SDK talks HTTP to it.
	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the fake Graph tenant: %w", err)
	}
	gsrv := &http.Server{Handler: graphtest.NewServer(tenant), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = gsrv.Serve(gln) }()
	defer gsrv.Close()
	graphURL := "http://" + gln.Addr().String() + "/v1.0"
	client, err := graph.New(graph.Config{BaseURL: graphURL, MFAGroups: []string{"mfaoptin"}, Logger: log})
	if err != nil {
		return fmt.Errorf("create the Graph client: %w", err)
	}

	chat, err := web.New(personas, log)
	if err != nil {
		return err
	}
	router, svc, err := bot.Assemble(ctx, bot.AssembleOptions{
		Backend:   client,
		Store:     store,
		Policy:    policy,
		Notifiers: map[bot.Platform]bot.Notifier{bot.PlatformWeb: chat},
		Logger:    log,
	})
	if err != nil {
		return err
	}
	// A reused --db may hold requests an earlier run left approved or executing.
	if done, err := svc.Recover(ctx); err != nil {
		log.Warn("recover interrupted requests", "err", err)
	} else if len(done) > 0 {
		log.Info("recovered interrupted requests", "count", len(done))
	}

	srv := &http.Server{Handler: chat.Handler(router), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		if err := svc.Run(sweepCtx, sweepInterval(o.expiry)); err != nil {
			log.Error("expiry sweeper", "err", err)
		}
	}()

	fmt.Fprintf(stdout, "mfadesk demo is running: open http://%s/ in a browser\n", ln.Addr())
	fmt.Fprintf(stdout, "  personas: %s\n", personaList(personas))
	fmt.Fprintf(stdout, "  tenant:   fake Microsoft Graph tenant %s at %s\n", tenant.Domain, graphURL)
	fmt.Fprintf(stdout, "  database: %s (requests expire after %s)\n", dbPath, o.expiry)
	fmt.Fprintf(stdout, "  try, as Hana: diagnose mfatest2@%s, then reregister mfatest2@%s\n", tenant.Domain, tenant.Domain)
	fmt.Fprintln(stdout, "  then, as MFA Test 2: pick the number Hana was told in the inbox (or, as Nora, the manager: attest); approve as Alex")
	fmt.Fprintln(stdout, "  stop with Ctrl-C")

	var serveErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("web chat: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shutErr := errors.Join(srv.Shutdown(sctx), svc.Shutdown(sctx))
	stopSweep()
	<-swept
	fmt.Fprintf(stdout, "mfadesk demo stopped; check its audit log with: mfadesk audit verify --db %s\n", dbPath)
	if serveErr != nil {
		return serveErr
	}
	if shutErr != nil {
		return fmt.Errorf("stop the web chat: %w", shutErr)
	}
	return nil
}

// demoDirectory finds the personas and the two rights groups in the demo tenant, by
// name: the tenant file is the one source of its ids.
func demoDirectory(tenant *graphtest.Tenant) ([]web.Persona, approvals.Policy, error) {
	var personas []web.Persona
	for _, p := range demoPersonas {
		u := tenant.FindUser(tenant.Email(p.local))
		if u == nil {
			return nil, approvals.Policy{}, fmt.Errorf("demo tenant has no user %s", p.local)
		}
		name, _ := u.User["displayName"].(string)
		personas = append(personas, web.Persona{ID: p.id, Name: name, Role: p.role, ObjectID: u.ID(), UPN: u.UPN()})
	}
	policy := approvals.Policy{
		// A request cut off by a stop is finished on the next start with the same --db.
		Resume: bot.Executor{}.Resumable(),
		// The evidence rule serve applies by default: a re-register or a pass waits for
		// the user's confirmation (MFA Test 2) or their manager's attestation (Nora),
		// and the manager gets a copy of the notice.
		MinEvidence:   approvals.DefaultMinEvidence(),
		NotifyManager: true,
	}
	policy.HelpdeskGroupID = tenant.GroupID("mfadesk-helpdesk")
	policy.ApproversGroupID = tenant.GroupID("mfadesk-approvers")
	if policy.HelpdeskGroupID == "" || policy.ApproversGroupID == "" {
		return nil, approvals.Policy{}, errors.New("demo tenant lacks the mfadesk-helpdesk or mfadesk-approvers group")
	}
	return personas, policy, nil
}

// sweepInterval is how often expired requests are looked for: often enough that a card
// turns "expired" soon after its time (a twentieth of the expiry), at most every five
// seconds, and not so often that a very short test expiry spins.
func sweepInterval(expiry time.Duration) time.Duration {
	return min(max(expiry/20, 50*time.Millisecond), 5*time.Second)
}

func personaList(ps []web.Persona) string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s (%s)", p.Name, p.Role))
	}
	return strings.Join(out, ", ")
}
