package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dockerStage is one FROM … section of a Dockerfile: its base and instructions.
type dockerStage struct {
	base   string
	instrs [][2]string // instruction (upper case), arguments
}

// parseDockerfile reads instructions, joining continued lines and dropping comments.
func parseDockerfile(t *testing.T, path string) []dockerStage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []dockerStage
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		ins, args, _ := strings.Cut(line, " ")
		ins = strings.ToUpper(ins)
		if ins == "FROM" {
			stages = append(stages, dockerStage{base: strings.Fields(args)[0]})
			return
		}
		if len(stages) == 0 {
			t.Fatalf("%s before FROM", ins)
		}
		s := &stages[len(stages)-1]
		s.instrs = append(s.instrs, [2]string{ins, strings.TrimSpace(args)})
	}
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\") + " ")
			continue
		}
		cur.WriteString(l)
		flush()
	}
	flush()
	return stages
}

func (s dockerStage) all(ins string) []string {
	var out []string
	for _, i := range s.instrs {
		if i[0] == ins {
			out = append(out, i[1])
		}
	}
	return out
}

// No Docker engine runs the tests, so the image is checked from its recipe: a
// multi-stage build of a static, trimmed binary with the go.mod toolchain, and a
// runtime stage with no shell that runs as a non-root user with the database on a
// volume.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join("..", "..", "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a runtime stage", len(stages))
	}
	build, run := stages[0], stages[len(stages)-1]

	gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goVersion == nil || !strings.HasPrefix(build.base, "golang:"+string(goVersion[1])) {
		t.Errorf("build stage FROM %s, want golang:%s (go.mod's toolchain)", build.base, goVersion[1])
	}
	var built bool
	for _, r := range build.all("RUN") {
		if strings.Contains(r, "go build") {
			built = true
			for _, want := range []string{"CGO_ENABLED=0", "-tags grpcnotrace", "-trimpath", "-s -w", "./cmd/mfadesk"} {
				if !strings.Contains(r, want) {
					t.Errorf("build command lacks %q: %s", want, r)
				}
			}
		}
	}
	if !built {
		t.Error("no go build in the build stage")
	}

	if !strings.HasPrefix(run.base, "gcr.io/distroless/static") && run.base != "scratch" {
		t.Errorf("runtime stage FROM %s, want distroless static or scratch (no shell)", run.base)
	}
	if r := run.all("RUN"); len(r) > 0 {
		t.Errorf("runtime stage runs commands %q: it has no shell", r)
	}
	users := run.all("USER")
	if len(users) == 0 {
		t.Fatal("runtime stage sets no USER: it would run as root")
	}
	user, _, _ := strings.Cut(users[len(users)-1], ":")
	if user == "root" || user == "0" || user == "" {
		t.Errorf("runtime USER %q is root", users[len(users)-1])
	}
	if v := strings.Join(run.all("VOLUME"), " "); !strings.Contains(v, "/var/lib/mfadesk") {
		t.Errorf("no VOLUME /var/lib/mfadesk for the database (got %q)", v)
	}
	ep := run.all("ENTRYPOINT")
	if len(ep) != 1 || !strings.HasPrefix(ep[0], `["`) {
		t.Errorf("ENTRYPOINT %q must be exec form: there is no shell", ep)
	}
	var copied bool
	for _, c := range run.all("COPY") {
		copied = copied || strings.HasPrefix(c, "--from=")
	}
	if !copied {
		t.Error("runtime stage does not copy the binary from the build stage")
	}
	// The state directory must belong to the runtime user, or a fresh volume mounted
	// there is root's and the database cannot be created.
	var owned bool
	for _, c := range run.all("COPY") {
		owned = owned || strings.Contains(c, "--chown="+users[len(users)-1]) && strings.HasSuffix(c, " /var/lib/mfadesk")
	}
	if !owned {
		t.Errorf("/var/lib/mfadesk is not copied in owned by the runtime user %s", users[len(users)-1])
	}

	ignore, err := os.ReadFile(filepath.Join("..", "..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "*.db"} {
		if !strings.Contains(string(ignore), want+"\n") {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}

// The systemd unit example runs mfadesk with the hardening an identity tool needs.
func TestSystemdUnit(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "mfadesk.service")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "[") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("not key=value: %q", l)
		}
		keys[k] = append(keys[k], v)
	}
	want := map[string]string{
		"DynamicUser": "yes", "StateDirectory": "mfadesk", "ProtectSystem": "strict", "NoNewPrivileges": "yes",
		"ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": "", "KillSignal": "SIGTERM",
	}
	for k, v := range want {
		if got := keys[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	if es := keys["ExecStart"]; len(es) != 1 || !strings.Contains(es[0], "mfadesk serve --config ") {
		t.Errorf("ExecStart=%q", es)
	}
	for k, vs := range keys {
		for _, v := range vs {
			if k == "Environment" && !strings.Contains(v, "_FILE=") {
				t.Errorf("Environment=%s: secrets go through LoadCredential and *_FILE, never inline", v)
			}
		}
	}
	// systemd's own check, where systemd is installed (the binary path is swapped
	// for one that exists).
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		unit := filepath.Join(t.TempDir(), "mfadesk.service")
		if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/mfadesk", "/bin/true")), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(sa, "verify", unit).CombinedOutput(); err != nil {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}
}
