package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `mfadesk — an MFA helpdesk bot for Slack and Microsoft Teams, with a two-person rule.

Usage:
  mfadesk serve --config FILE   run the bot (Slack and/or Teams, Microsoft Graph)
  mfadesk demo [--listen ADDR] [--db FILE] [--expiry 30m]
                                run the whole bot locally: fake tenant, web chat
  mfadesk validate --config FILE check the configuration against Graph, Slack, Teams, the database
  mfadesk manifest slack|teams  print the Slack app manifest, or write the Teams app package
  mfadesk audit export|verify   export the audit log as JSON lines, or verify its hash chain
  mfadesk approvals list|show   list requests, or show one with its history
  mfadesk migrate --from FILE.db --to etcd://host:2379
                                copy a bbolt database into etcd, then verify it there
  mfadesk backup --db FILE --out FILE
                                a consistent copy of the database (serve stopped), verified
  mfadesk version               print the version

Run 'mfadesk <command> --help' for a command's flags.
`

func main() {
	ctx, stop := signalContext(os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// signalContext is cancelled by the first of the signals, with the signal as its
// cause (context.Cause), so serve can log why it stops. A second signal then has its
// default effect: an operator can still kill a stuck drain.
func signalContext(sigs ...os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch)
			cancel(&stopSignal{s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel(context.Canceled) }
}

// stopSignal is the cause of a stop by signal.
type stopSignal struct{ sig os.Signal }

func (s *stopSignal) Error() string { return "received signal " + s.sig.String() }

// errUsage marks a usage problem already explained to the user.
var errUsage = errors.New("usage")

// run is main without the process: tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr, getenv)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr)
	case "audit":
		err = cmdAudit(ctx, args[1:], stdout, stderr, getenv)
	case "manifest":
		err = cmdManifest(ctx, args[1:], stdout, stderr, getenv)
	case "validate":
		err = cmdValidate(ctx, args[1:], stdout, stderr, getenv)
	case "approvals":
		err = cmdApprovals(ctx, args[1:], stdout, stderr, getenv)
	case "migrate":
		err = cmdMigrate(ctx, args[1:], stdout, stderr, getenv)
	case "backup":
		err = cmdBackup(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version":
		fmt.Fprintln(stdout, "mfadesk", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "mfadesk: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		if msg := strings.TrimSuffix(err.Error(), ": "+errUsage.Error()); err != errUsage {
			fmt.Fprintln(stderr, "mfadesk:", msg)
		}
		return 2
	default:
		fmt.Fprintln(stderr, "mfadesk:", err)
		return 1
	}
}

// newFlags makes a sub-command's flag set that prints its usage to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: mfadesk %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses and turns a flag error into errUsage (the flag package has said why).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, nil
}
