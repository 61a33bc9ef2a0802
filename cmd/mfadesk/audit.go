package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
		head := fs.String("head", "", "the last chain head posted to the audit channel, as SEQ:HASH or as posted (\"chain head #42 3fa9c2…\"), at least 16 hex digits: detects a truncated or rewritten log")
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
			seq, prefix, err := parseHead(*head)
			if err != nil {
				return err
			}
			// Compare the event of that number wherever it is now: a rewritten chain
			// with events appended after it has a different head, but not the same
			// event seq.
			hash, found, err := approvals.EventHashFile(ctx, p, seq)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("audit log is NOT intact: it ends at event %d but the audit channel saw event %d: events were removed from the end", rep.Events, seq)
			}
			if !strings.HasPrefix(hash, prefix) {
				return fmt.Errorf("audit log is NOT intact: event %d's hash differs from the one posted to the audit channel (%s…, now %s…): the chain was rewritten", seq, prefix[:minHeadHex], hash[:minHeadHex])
			}
		}
		fmt.Fprintln(stdout, rep) // says "audit log intact: …" itself
		return nil
	}
}

// minHeadHex is the shortest hash prefix --head accepts: the audit channel posts 16
// hex digits (64 bits); fewer would let a rewritten chain be searched for a match.
const minHeadHex = 16

// parseHead reads --head as an operator may paste it: "42:3fa9…", "#42 3fa9…", or the
// whole "· chain head #42 3fa9c2…" tail of an audit-channel post.
func parseHead(s string) (uint64, string, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSpace(strings.TrimPrefix(t, "·"))
	if len(t) >= len("chain head") && strings.EqualFold(t[:len("chain head")], "chain head") {
		t = strings.TrimSpace(t[len("chain head"):])
	}
	t = strings.TrimPrefix(t, "#")
	seqS, hash, ok := strings.Cut(t, ":")
	if !ok {
		seqS, hash, ok = strings.Cut(t, " ")
	}
	hash = strings.ToLower(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(hash), "…. ")))
	seq, err := strconv.ParseUint(strings.TrimSpace(seqS), 10, 64)
	if !ok || err != nil || seq == 0 || hash == "" {
		return 0, "", fmt.Errorf("--head %q is not a chain head: give SEQ:HASH or paste \"chain head #SEQ HASH\" from the audit channel: %w", s, errUsage)
	}
	for _, c := range hash {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return 0, "", fmt.Errorf("--head %q: the hash is not hexadecimal: %w", s, errUsage)
		}
	}
	if len(hash) < minHeadHex || len(hash) > 64 {
		return 0, "", fmt.Errorf("--head %q: the hash has %d hex digits; give at least %d (as posted in the audit channel) and at most 64: %w", s, len(hash), minHeadHex, errUsage)
	}
	return seq, hash, nil
}

func cmdApprovals(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "show") {
		fmt.Fprintln(stderr, "Usage: mfadesk approvals list [--db FILE] [--state pending]\n       mfadesk approvals show [--db FILE] [--results] ID")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return errUsage
	}
	if args[0] == "list" {
		fs := newFlags("approvals list", "approvals list [--db FILE | --config FILE] [--state STATE] [--limit N]", stderr)
		path := dbFlags(fs)
		state := fs.String("state", "", "only requests in this state ("+stateList()+")")
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
			st, err := approvals.ParseState(*state)
			if err != nil {
				return fmt.Errorf("--state %w: %w", err, errUsage)
			}
			f.States = []approvals.State{st}
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
	fs := newFlags("approvals show", "approvals show [--db FILE | --config FILE] [--json] [--results] ID", stderr)
	path := dbFlags(fs)
	asJSON := fs.Bool("json", false, "print the request and its history as JSON")
	results := fs.Bool("results", false, "print the per-user results of a bulk request as JSON lines")
	// The id may come before or after the flags.
	var id string
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		id, args = args[1], append([]string{args[0]}, args[2:]...)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	} else if id == "" || fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	p, err := path(getenv)
	if err != nil {
		return err
	}
	if *results {
		return approvals.BulkResultsFile(ctx, p, id, stdout)
	}
	req, events, err := approvals.ShowFile(ctx, p, strings.ToUpper(id))
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Request approvals.Request `json:"request"`
			History []approvals.Event `json:"history"`
		}{req, events})
	}
	return writeRequest(stdout, req, events)
}

func stateList() string {
	states := approvals.States()
	names := make([]string, len(states))
	for i, s := range states {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// writeRequest prints a request and its history for a person: labelled lines, then
// one line per audit event, times in UTC.
func writeRequest(w io.Writer, r approvals.Request, events []approvals.Event) error {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(tw, "%s\t%s\n", label, value)
		}
	}
	line("Request", r.ID)
	line("Action", string(r.Action))
	line("Target", fmt.Sprintf("%s (%s)", r.Target, r.Target.ObjectID))
	line("State", string(r.State))
	line("Requested by", fmt.Sprintf("%s (%s)", r.Requester, r.Requester.Platform))
	line("Reason", r.Reason)
	line("Verified by", strings.TrimSpace(string(r.Verification.Method)+" "+r.Verification.Detail))
	line("Ticket", r.Ticket)
	line("Created", ts(r.Created))
	line("Expires", ts(r.Expires))
	line("Approvals needed", strconv.Itoa(r.ApprovalsNeeded))
	for _, d := range r.Decisions {
		line("Decision", strings.TrimSpace(fmt.Sprintf("%s by %s at %s %s", d.Verdict, d.By, ts(d.At), d.Justification)))
	}
	for _, s := range r.Steps {
		line("Step", strings.TrimSpace(fmt.Sprintf("%s %s: %s %s", s.Name, s.Target, s.Outcome, s.Detail)))
	}
	line("Error", r.Error)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nHistory:")
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, e := range events {
		who := "mfadesk" // a zero actor is mfadesk itself (expiry, recovery)
		if e.Actor.ObjectID != "" || e.Actor.ChatID != "" {
			who = e.Actor.String()
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", e.Seq, ts(e.Time), e.Kind, who, e.Detail)
	}
	return tw.Flush()
}

// cmdBackup writes a consistent copy of the database (bbolt's hot-copy in one read
// transaction), then verifies the copy's audit chain. The copy is created 0600 and
// never overwrites a file: it holds the audit log.
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlags("backup", "backup [--db FILE | --config FILE] --out FILE", stderr)
	path := dbFlags(fs)
	out := fs.String("out", "", "where to write the copy (must not exist)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("name the copy with --out FILE: %w", errUsage)
	}
	p, err := path(getenv)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create backup: %w", err)
	}
	n, err := approvals.BackupFile(ctx, p, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(*out) // a partial copy must not pass for a backup
		return err
	}
	rep, err := approvals.VerifyFile(ctx, *out)
	if err != nil {
		return fmt.Errorf("verify the copy %s: %w", *out, err)
	}
	if !rep.OK {
		return fmt.Errorf("the copy %s: %s", *out, rep)
	}
	fmt.Fprintf(stdout, "backup %s written (%d bytes); %s\n", *out, n, rep)
	return nil
}
