package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mfadesk/mfadesk/approvals"
)

// EtcdConfig is the connection to etcd when database is "etcd://host:2379,host2:2379".
// With ca_file (or a client certificate) the endpoints are dialled over TLS.
type EtcdConfig struct {
	Prefix   string `yaml:"prefix"`    // key prefix, default /mfadesk
	CAFile   string `yaml:"ca_file"`   // CA of the etcd servers' certificates
	CertFile string `yaml:"cert_file"` // client certificate, with key_file
	KeyFile  string `yaml:"key_file"`
	// LeaseTTL is how long a replica that died keeps leadership and its running
	// requests before another takes over (default 10s).
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	Username string        `yaml:"-"` // MFADESK_ETCD_USERNAME(_FILE)
	Password string        `yaml:"-"` // secret: MFADESK_ETCD_PASSWORD(_FILE)
}

const etcdScheme = "etcd://"

// etcdHosts returns the host:port list of an etcd:// database, nil for a bbolt file.
func etcdHosts(database string) []string {
	if !strings.HasPrefix(database, etcdScheme) {
		return nil
	}
	return strings.Split(strings.TrimPrefix(database, etcdScheme), ",")
}

func (e *EtcdConfig) tls() bool { return e.CAFile != "" || e.CertFile != "" }

// validate checks an etcd:// database and its etcd section.
func (e *EtcdConfig) validate(database string, bad func(string, string, ...any) error) error {
	hosts := etcdHosts(database)
	loopback := true
	for _, h := range hosts {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" || port == "" {
			return bad("database", "%q is not etcd://host:port[,host:port...]", database)
		}
		loopback = loopback && isLoopbackHost(host)
	}
	if e.Prefix != "" && (!strings.HasPrefix(e.Prefix, "/") || strings.HasSuffix(e.Prefix, "/")) {
		return bad("etcd.prefix", "must start with / and not end with one, like /mfadesk, not %q", e.Prefix)
	}
	if (e.CertFile == "") != (e.KeyFile == "") {
		return bad("etcd.cert_file", "cert_file and key_file go together")
	}
	if e.Password != "" && !e.tls() && !loopback {
		return bad("etcd.ca_file", "is required with MFADESK_ETCD_PASSWORD: the password would cross the network in clear text")
	}
	if (e.Username == "") != (e.Password == "") {
		return bad("MFADESK_ETCD_USERNAME", "MFADESK_ETCD_USERNAME and MFADESK_ETCD_PASSWORD go together")
	}
	if e.LeaseTTL != 0 && (e.LeaseTTL < 2*time.Second || e.LeaseTTL > 5*time.Minute) {
		return bad("etcd.lease_ttl", "must be between 2s and 5m, not %s", e.LeaseTTL)
	}
	return nil
}

// etcdOptions builds the client options: TLS material read now, so a missing file
// is named at start.
func (e *EtcdConfig) etcdOptions(database string, log *slog.Logger) (approvals.EtcdOptions, error) {
	opts := approvals.EtcdOptions{Prefix: e.Prefix, Username: e.Username, Password: e.Password,
		LeaseTTL: int(e.LeaseTTL / time.Second), Logger: log}
	scheme := "http://"
	if e.tls() {
		scheme = "https://"
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if e.CAFile != "" {
			pem, err := os.ReadFile(e.CAFile)
			if err != nil {
				return opts, &ConfigError{Key: "etcd.ca_file", Msg: fmt.Sprintf("cannot read %s: %v", e.CAFile, errors.Unwrap(err))}
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return opts, &ConfigError{Key: "etcd.ca_file", Msg: e.CAFile + " holds no PEM certificate"}
			}
		}
		if e.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(e.CertFile, e.KeyFile)
			if err != nil {
				return opts, &ConfigError{Key: "etcd.cert_file", Msg: fmt.Sprintf("cannot load the client certificate: %v", err)}
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts.TLS = tc
	}
	for _, h := range etcdHosts(database) {
		opts.Endpoints = append(opts.Endpoints, scheme+h)
	}
	return opts, nil
}

// openStore opens the configured database: the bbolt file, or etcd.
func openStore(ctx context.Context, cfg *Config, log *slog.Logger) (approvals.Store, error) {
	if etcdHosts(cfg.Database) == nil {
		return approvals.OpenBolt(cfg.Database, approvals.BoltOptions{})
	}
	opts, err := cfg.Etcd.etcdOptions(cfg.Database, log)
	if err != nil {
		return nil, err
	}
	return approvals.OpenEtcd(ctx, opts)
}

// cmdMigrate copies a bbolt database into etcd (see approvals.Migrate).
func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlags("migrate", "migrate --from FILE.db --to etcd://host:2379[,host:2379] [--config FILE]", stderr)
	from := fs.String("from", "", "bbolt database file to copy (mfadesk serve must be stopped)")
	to := fs.String("to", "", "etcd://host:port[,host:port...] to copy into (default: the config's database)")
	cfgPath := fs.String("config", "", "configuration file, for the etcd section (TLS, prefix)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var ec EtcdConfig
	if *cfgPath != "" {
		c, err := LoadConfig(*cfgPath, getenv)
		if err != nil {
			return err
		}
		ec = c.Etcd
		if *to == "" {
			*to = c.Database
		}
	} else {
		for _, s := range []struct {
			name string
			dst  *string
		}{{"ETCD_USERNAME", &ec.Username}, {"ETCD_PASSWORD", &ec.Password}} {
			if err := secret(getenv, s.name, s.dst); err != nil {
				return err
			}
		}
	}
	if *from == "" || etcdHosts(*to) == nil {
		return fmt.Errorf("migrate needs --from FILE.db and --to etcd://host:port: %w", errUsage)
	}
	if err := ec.validate(*to, func(key, msg string, a ...any) error {
		return &ConfigError{Key: key, Msg: fmt.Sprintf(msg, a...)}
	}); err != nil {
		return err
	}
	src, err := approvals.OpenBolt(*from, approvals.BoltOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer src.Close()
	opts, err := ec.etcdOptions(*to, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	dst, err := approvals.OpenEtcd(ctx, opts)
	if err != nil {
		return err
	}
	defer dst.Close()
	rep, err := approvals.Migrate(ctx, src, dst)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied %d keys from %s to %s under %s:", rep.Keys, *from, *to, dst.Prefix())
	for _, b := range slices.Sorted(maps.Keys(rep.Buckets)) {
		fmt.Fprintf(stdout, " %s %d", b, rep.Buckets[b])
	}
	fmt.Fprintf(stdout, "\naudit chain verified on etcd: %s\n", rep.Verify)
	return nil
}

// leaderInterval is how often the leader sweeps expired requests and looks for
// interrupted ones (serve's sweeper interval on bbolt).
const leaderInterval = 30 * time.Second

// lead runs the leader's work on a shared store until ctx ends: the expiry sweeper
// and recovery of requests whose replica died, only while this replica holds the
// etcd leadership, stopped the moment it loses it. Recovery repeats each interval,
// since a replica can die at any time, and leaves alone requests whose runner is alive.
//
// watcher, if not nil, is the watch after a reset: it polls only while this replica
// leads, and stops with the leadership.
func lead(ctx context.Context, es *approvals.EtcdStore, svc *approvals.Service, m *metrics, log *slog.Logger, watcher *approvals.Watcher, watchEvery time.Duration) {
	leader := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mfadesk_leader", Help: "1 while this replica is the leader (runs the expiry sweeper and recovery), else 0.",
	})
	m.reg.MustRegister(leader)
	es.Lead(ctx, func(leading bool, replica string) {
		if leading {
			leader.Set(1)
			log.Info("this replica is the leader: it runs the expiry sweeper and recovery", "replica", replica)
			return
		}
		leader.Set(0)
		log.Warn("this replica is no longer the leader", "replica", replica)
	}, func(ctx context.Context) {
		if watcher != nil {
			var wg sync.WaitGroup
			wg.Go(func() { watcher.Run(ctx, watchEvery) })
			defer wg.Wait() // ctx ends with the leadership; the poll stops before work returns
		}
		t := time.NewTicker(leaderInterval)
		defer t.Stop()
		for {
			if resumed, err := svc.Recover(ctx); err != nil && ctx.Err() == nil {
				log.Error("recover interrupted requests", "err", err)
			} else if len(resumed) > 0 {
				log.Info("recovered interrupted requests", "count", len(resumed))
			}
			if _, err := svc.Sweep(ctx); err != nil && ctx.Err() == nil {
				log.Warn("sweep expired requests", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// replicaStatus is /readyz's body on a shared store. An unreachable etcd leaves the
// replica ready, because lookups still work, and says what is refused and why.
func replicaStatus(ctx context.Context, es *approvals.EtcdStore) string {
	if err := es.Ping(ctx); err != nil {
		return "ready, degraded: the approvals database (etcd) does not answer, so requests and decisions are refused until it does; lookups still work (" + err.Error() + ")"
	}
	role := "follower"
	if es.Leading() {
		role = "leader"
	}
	return fmt.Sprintf("ready: replica %s, %s", es.Replica(), role)
}
