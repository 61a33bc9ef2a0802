package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/mfadesk/mfadesk/actions/graph"
	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/web"
)

// Demo personas: who the demo user can act as, by their UPN's local part in the demo tenant.
var demoPersonas = []struct{ id, local, role string }{
	{"hana", "hana.helpdesk", "helpdesk agent"},
	{"alex", "alex.approver", "approver (also helpdesk)"},
	{"sam", "sam.approver", "second approver"},
	{"nora", "nora.norights", "no rights"},
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "demo [--listen 127.0.0.1:8765]", stderr)
	listen := fs.String("listen", "127.0.0.1:8765", "address of the web chat (loopback only)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := newLogger(stderr, "warn")

	tenant := graphtest.MustTenant("demo")
	groupID := func(name string) string {
		for _, g := range tenant.Groups {
			if g.DisplayName == name {
				return g.ID
			}
		}
		return ""
	}
	var personas []web.Persona
	for _, p := range demoPersonas {
		u := tenant.FindUser(tenant.Email(p.local))
		if u == nil {
			return fmt.Errorf("demo tenant has no user %s", p.local)
		}
		name, _ := u.User["displayName"].(string)
		personas = append(personas, web.Persona{ID: p.id, Name: name, Role: p.role, ObjectID: u.ID(), UPN: u.UPN()})
	}
	groups := bot.Groups{Helpdesk: groupID("mfadesk-helpdesk"), Approvers: groupID("mfadesk-approvers")}

	// The fake Graph tenant, on loopback; the real SDK talks HTTP to it.
	fake := graphtest.NewServer(tenant)
	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start fake graph: %w", err)
	}
	gsrv := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = gsrv.Serve(gln) }()
	defer gsrv.Close()

	dir, err := graph.New(graph.Config{BaseURL: "http://" + gln.Addr().String() + "/v1.0", MFAGroups: []string{"mfaoptin"}})
	if err != nil {
		return fmt.Errorf("create graph client: %w", err)
	}
	router, err := bot.NewRouter(bot.RouterOptions{Directory: dir, Groups: groups, Logger: log})
	if err != nil {
		return err
	}
	chat, err := web.New(router, personas, log)
	if err != nil {
		return err
	}
	ln, err := web.Listen(*listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: chat.Handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	fmt.Fprintf(stdout, "mfadesk demo: open http://%s/ in a browser\n", ln.Addr())
	fmt.Fprintf(stdout, "  fake Microsoft Graph tenant %s at http://%s/v1.0\n", tenant.Domain, gln.Addr())
	fmt.Fprintf(stdout, "  try: /mfa user mfatest2@%s   (act as Hana, the helpdesk agent)\n", tenant.Domain)
	fmt.Fprintln(stdout, "  stop with Ctrl-C")

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("web chat: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
