// Package etcdtest runs a real single-node etcd for tests: the etcd binary from
// $PATH (Debian's etcd-server package), on loopback with ports the kernel picked and
// a temporary data directory, stopped when the test ends. When the binary is missing
// the test is skipped, except under CI (CI set), where it fails: CI must install it.
package etcdtest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Server is one etcd process.
type Server struct {
	t        testing.TB
	bin      string
	dataDir  string
	client   string // client URL
	peer     string // peer URL
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	logLines []string
}

// Binary returns the etcd binary, skipping (or, under CI, failing) the test when
// there is none.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("etcd is not installed (CI must install Debian's etcd-server): %v", err)
		}
		t.Skipf("etcd is not installed (apt-get install etcd-server): %v", err)
	}
	return bin
}

// Start starts etcd and waits until it answers. Its data lives on tmpfs when the
// machine has /dev/shm (thousands of fsyncs would otherwise time the disk), else in
// the test's temporary directory.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() && os.Getenv("MFADESK_ETCD_DISK") == "" {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "mfadesk-etcd-")
	if err != nil {
		dir = t.TempDir()
	} else {
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
	}
	s := &Server{t: t, bin: bin, dataDir: filepath.Join(dir, "data"),
		client: "http://" + freeAddr(t), peer: "http://" + freeAddr(t)}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Endpoint is the client URL.
func (s *Server) Endpoint() string { return s.client }

// start runs etcd (again, on the same data and ports) and waits for it to answer.
func (s *Server) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin,
		"--name", "test", "--data-dir", s.dataDir,
		"--listen-client-urls", s.client, "--advertise-client-urls", s.client,
		"--listen-peer-urls", s.peer, "--initial-advertise-peer-urls", s.peer,
		"--initial-cluster", "test="+s.peer, "--initial-cluster-state", "new",
		"--heartbeat-interval", "50", "--election-timeout", "500",
		"--log-level", "warn", "--logger", "zap")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout = nil
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start etcd: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			if len(s.logLines) < 200 {
				s.logLines = append(s.logLines, sc.Text())
			}
			s.mu.Unlock()
		}
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.client}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		s.t.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Get(ctx, "/health-probe")
		cancel()
		if err == nil {
			return
		}
		select {
		case <-exited:
			s.t.Fatalf("etcd exited at start:\n%s", s.log())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("etcd did not answer within 30s: %v\n%s", err, s.log())
		}
		time.Sleep(50 * time.Millisecond) // polling a process we do not control
	}
}

func (s *Server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.logLines, "\n")
}

// Stop kills etcd and waits for it to exit; stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts a stopped server again on the same data and ports.
func (s *Server) Restart() {
	s.t.Helper()
	s.start()
}

// String names the server for messages.
func (s *Server) String() string { return fmt.Sprintf("etcd at %s", s.client) }
