package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mfadesk/mfadesk/approvals"
)

// dbFlags adds --db and --config, and resolves the database path from either.
func dbFlags(fs interface {
	String(name, value, usage string) *string
}) func(getenv func(string) string) (string, error) {
	db := fs.String("db", "", "bbolt database file (default: the config's database)")
	cfg := fs.String("config", "", "configuration file, to read the database path from")
	return func(getenv func(string) string) (string, error) {
		switch {
		case *db != "":
			return *db, nil
		case *cfg != "":
			c, err := LoadConfig(*cfg, getenv)
			if err != nil {
				return "", err
			}
			if etcdHosts(c.Database) != nil {
				return "", fmt.Errorf("the configured database is etcd (%s); this command reads a bbolt file: name one with --db FILE: %w", c.Database, errUsage)
			}
			return c.Database, nil
		}
		return "", fmt.Errorf("name the database with --db FILE or --config FILE: %w", errUsage)
	}
}

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "export" && args[0] != "verify") {
		fmt.Fprintln(stderr, "Usage: mfadesk audit export [--db FILE] [--since 2026-01-02T15:04:05Z]\n       mfadesk audit verify [--db FILE] [--head SEQ:HASH]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return errUsage
	}
	switch args[0] {
	case "export":
		fs := newFlags("audit export", "audit export [--db FILE | --config FILE] [--since TIME]", stderr)
		path := dbFlags(fs)
		since := fs.String("since", "", "only events at or after this time (RFC 3339)")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		var t time.Time
		if *since != "" {
			var err error
			if t, err = time.Parse(time.RFC3339, *since); err != nil {
				return fmt.Errorf("--since %q is not an RFC 3339 time like 2026-01-02T15:04:05Z: %w", *since, errUsage)
			}
		}
		p, err := path(getenv)
		if err != nil {
			return err
		}
		return approvals.ExportFile(ctx, p, stdout, t)
	default:
		fs := newFlags("audit verify", "audit verify [--db FILE | --config FILE] [--head SEQ:HASH]", stderr)
		path := dbFlags(fs)
		head := fs.String("head", "", "the last chain head posted to the audit channel (SEQ:HASH, hash prefix allowed): detects a truncated log")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		p, err := path(getenv)
		if err != nil {
			return err
		}
		rep, err := approvals.VerifyFile(ctx, p)
		if err != nil {
			return err
		}
		if !rep.OK {
			return fmt.Errorf("audit log is NOT intact: %s", rep)
		}
		if *head != "" {
			seqS, hash, ok := strings.Cut(*head, ":")
			seq, err := strconv.ParseUint(seqS, 10, 64)
			if !ok || err != nil || len(hash) < 8 {
				return fmt.Errorf("--head %q is not SEQ:HASH: %w", *head, errUsage)
			}
			if rep.Head.Seq < seq {
				return fmt.Errorf("audit log is NOT intact: it ends at event %d but the audit channel saw event %d", rep.Head.Seq, seq)
			}
			if rep.Head.Seq == seq && !strings.HasPrefix(rep.Head.Hash, strings.ToLower(hash)) {
				return fmt.Errorf("audit log is NOT intact: event %d's hash differs from the one posted to the audit channel", seq)
			}
		}
		fmt.Fprintf(stdout, "audit log intact: %s\n", rep)
		return nil
	}
}

func cmdApprovals(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "show") {
		fmt.Fprintln(stderr, "Usage: mfadesk approvals list [--db FILE] [--state pending]\n       mfadesk approvals show [--db FILE] ID")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return errUsage
	}
	if args[0] == "list" {
		fs := newFlags("approvals list", "approvals list [--db FILE | --config FILE] [--state STATE] [--limit N]", stderr)
		path := dbFlags(fs)
		state := fs.String("state", "", "only requests in this state (pending, approved, executing, succeeded, failed, denied, expired, cancelled)")
		limit := fs.Int("limit", 50, "at most this many requests, newest first")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		p, err := path(getenv)
		if err != nil {
			return err
		}
		f := approvals.ListFilter{Limit: *limit}
		if *state != "" {
			f.States = []approvals.State{approvals.State(*state)}
		}
		reqs, err := approvals.ListFile(ctx, p, f)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tACTION\tTARGET\tREQUESTER\tSTATE\tCREATED")
		for _, r := range reqs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Action, r.Target, r.Requester, r.State, r.Created.UTC().Format(time.RFC3339))
		}
		return tw.Flush()
	}
	fs := newFlags("approvals show", "approvals show [--db FILE | --config FILE] ID", stderr)
	path := dbFlags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	p, err := path(getenv)
	if err != nil {
		return err
	}
	req, events, err := approvals.ShowFile(ctx, p, fs.Arg(0))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Request approvals.Request `json:"request"`
		History []approvals.Event `json:"history"`
	}{req, events})
}
