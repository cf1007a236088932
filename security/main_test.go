//go:build linux

package security

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// The binaries under test, by the names the kubelet execs them by.
const (
	acrBin       = "acr-credential-provider"
	ecrBin       = "ecr-credential-provider"
	gcrBin       = "gcr-credential-provider"
	dockercfgBin = "dockercfg-credential-provider"
	pullkeysBin  = "pullkeys"
	rssrunBin    = "rssrun" // testdata/rssrun: measures a program's peak memory
)

// kubeletKill is when the kubelet kills a plugin and discards its answer. A binary still
// running then has hung, whatever the test asked of it.
const kubeletKill = time.Minute

var (
	buildOnce sync.Once
	binDir    string // holds the binaries once built
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary returns the path of the named binary, building all of them on first use: once per
// test run, without the race detector, from this module's ./cmd.
func binary(t testing.TB, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "pullkeys-security-bin-")
		if buildErr != nil {
			return
		}
		// Readable by all: one test runs a binary as another user.
		if buildErr = os.Chmod(binDir, 0o755); buildErr != nil {
			return
		}
		root, err := filepath.Abs("..")
		if err != nil {
			buildErr = err
			return
		}
		// Static and -trimpath, as a release builds.
		args := []string{"build", "-trimpath", "-o", binDir + string(filepath.Separator)}
		for _, b := range []string{acrBin, ecrBin, gcrBin, dockercfgBin, pullkeysBin} {
			args = append(args, "./cmd/"+b)
		}
		args = append(args, "./security/testdata/"+rssrunBin)
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build the binaries: %v", buildErr)
	}
	return filepath.Join(binDir, name)
}

// proc is one run of a binary.
type proc struct {
	args  []string
	env   []string  // the whole environment: see newEnv
	stdin io.Reader // nil: empty
	dir   string    // working directory; "" means a new temporary directory
	cred  *syscall.Credential
	rss   bool // measure the peak resident memory (outcome.maxRSS)
}

// outcome is what a run produced.
type outcome struct {
	code           int // -1 when killed
	stdout, stderr string
	maxRSS         int64 // bytes, when proc.rss
	elapsed        time.Duration
}

// run runs the binary at path as the kubelet would, and fails the test if it is still running
// at the kubelet's one-minute kill. The binary runs in a process group of its own, killed
// whole at that point.
func run(t testing.TB, path string, p proc) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubeletKill)
	defer cancel()
	args, rssFile := p.args, ""
	if p.rss {
		rssFile = filepath.Join(t.TempDir(), "maxrss")
		args = append([]string{rssFile, path}, args...)
		path = binary(t, rssrunBin)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = p.env
	cmd.Stdin = p.stdin
	cmd.Dir = p.dir
	if cmd.Dir == "" {
		cmd.Dir = t.TempDir()
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	o := outcome{code: -1, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("%s %s: still running at the kubelet's %v kill; stderr:\n%s", filepath.Base(path), strings.Join(p.args, " "), kubeletKill, o.stderr)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	o.code = cmd.ProcessState.ExitCode()
	if p.rss {
		data, err := os.ReadFile(rssFile)
		if err != nil {
			t.Fatalf("%s: peak memory not recorded: %v; stderr:\n%s", rssrunBin, err, o.stderr)
		}
		kib, err := strconv.ParseInt(string(data), 10, 64)
		if err != nil {
			t.Fatalf("%s: peak memory %q: %v", rssrunBin, data, err)
		}
		o.maxRSS = kib << 10
	}
	return o
}

// env is a binary's whole environment, built from scratch so that nothing of the developer's
// (AWS profiles, credentials, a real metadata server) reaches a test, and with every endpoint a
// binary could call pointed at loopback: a closed port unless a fake is set.
type env map[string]string

func newEnv(t testing.TB) env {
	t.Helper()
	home := t.TempDir()
	closed := "http://" + closedAddr(t)
	return env{
		"PATH":                              os.Getenv("PATH"),
		"HOME":                              home,
		"AWS_CONFIG_FILE":                   filepath.Join(home, "aws-config-absent"),
		"AWS_SHARED_CREDENTIALS_FILE":       filepath.Join(home, "aws-credentials-absent"),
		"AWS_EC2_METADATA_DISABLED":         "true",
		"AWS_ENDPOINT_URL":                  closed,
		"AWS_ENDPOINT_URL_ECR":              closed,
		"AWS_ENDPOINT_URL_ECR_PUBLIC":       closed,
		"AWS_ENDPOINT_URL_STS":              closed,
		"AWS_ACCESS_KEY_ID":                 ecrtest.NodeAccessKeyID,
		"AWS_SECRET_ACCESS_KEY":             ecrtest.NodeSecretAccessKey,
		"GCE_METADATA_HOST":                 closedAddr(t),
		"AZURE_POD_IDENTITY_AUTHORITY_HOST": closed,
		"AZURE_AUTHORITY_HOST":              "https://" + closedAddr(t) + "/",
		"PULLKEYS_CACHE_DIR":                filepath.Join(home, "pullkeys-cache"), // never the node's own
	}
}

// with returns a copy of e with the NAME=value pairs set.
func (e env) with(kv ...string) env {
	out := make(env, len(e)+len(kv))
	for k, v := range e {
		out[k] = v
	}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		out[k] = v
	}
	return out
}

// list returns the environment as NAME=value lines, sorted.
func (e env) list() []string {
	out := make([]string, 0, len(e))
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t testing.TB) string {
	t.Helper()
	// Port 1 is privileged and never handed out for 127.0.0.1:0, so unlike a port freed by
	// closing a listener, no other test's server can take it between here and the dial.
	const addr = "127.0.0.1:1"
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Skipf("something listens on %s: no closed loopback port to test against", addr)
	}
	return addr
}

// request returns a CredentialProviderRequest as the kubelet writes it; token and annotations
// are added when set (v1 only).
func request(apiVersion, image, token string, annotations map[string]string) string {
	m := map[string]any{"apiVersion": apiVersion, "kind": providers.RequestKind, "image": image}
	if token != "" {
		m["serviceAccountToken"] = token
	}
	if annotations != nil {
		m["serviceAccountAnnotations"] = annotations
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func v1(image string) io.Reader {
	return strings.NewReader(request(providers.APIVersionV1, image, "", nil))
}

// answer checks that o is a successful run and decodes its answer as the kubelet does.
func answer(t testing.TB, what string, o outcome) *providers.Response {
	t.Helper()
	if o.code != 0 {
		t.Fatalf("%s: exit %d, want 0; stderr:\n%s", what, o.code, o.stderr)
	}
	resp, err := providers.DecodeResponse([]byte(o.stdout), providers.APIVersionV1)
	if err != nil {
		t.Fatalf("%s: DecodeResponse(stdout, v1) = %v", what, err)
	}
	return resp
}

// failure checks that o is a failed run as the kubelet needs it: a non-zero exit, nothing on
// stdout, exactly one line on stderr naming the binary and holding want, no panic.
func failure(t testing.TB, what, name string, o outcome, want string) {
	t.Helper()
	if o.code == 0 || o.stdout != "" {
		t.Errorf("%s: exit %d, stdout %q; want a failure and nothing on stdout", what, o.code, o.stdout)
	}
	if o.code < 0 {
		t.Errorf("%s: killed, want an exit", what)
	}
	if strings.Count(o.stderr, "\n") != 1 || !strings.HasPrefix(o.stderr, name+": ") || !strings.Contains(o.stderr, want) {
		t.Errorf("%s: stderr = %q, want one line %q… containing %q", what, o.stderr, name+": ", want)
	}
	noPanic(t, what, o)
}

func noPanic(t testing.TB, what string, o outcome) {
	t.Helper()
	for _, s := range []string{"panic:", "goroutine ", "runtime error", "fatal error:"} {
		if strings.Contains(o.stderr, s) {
			t.Errorf("%s: stderr holds %q:\n%s", what, s, o.stderr)
		}
	}
}

// secretSet collects the secrets a test has seen, with the encodings they could leak in.
type secretSet struct {
	mu sync.Mutex
	m  map[string]bool
}

// add adds each secret, and base64 of it, if at least 6 characters long (shorter values are
// not secrets of this suite and would match by chance).
func (s *secretSet) add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]bool)
	}
	for _, v := range secrets {
		if len(v) < 6 {
			continue
		}
		s.m[v] = true
		s.m[base64.StdEncoding.EncodeToString([]byte(v))] = true
		s.m[base64.RawStdEncoding.EncodeToString([]byte(v))] = true
	}
}

// addUserPass adds a password and the base64 "auth" of user:password.
func (s *secretSet) addUserPass(user, pass string) {
	s.add(pass)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		s.m[enc.EncodeToString([]byte(user+":"+pass))] = true
	}
}

// found reports whether text holds any of the secrets.
func (s *secretSet) found(text string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for v := range s.m {
		if strings.Contains(text, v) {
			return true
		}
	}
	return false
}

// check fails the test for every secret found in text.
func (s *secretSet) check(t testing.TB, what, text string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for v := range s.m {
		if strings.Contains(text, v) {
			t.Errorf("%s holds the secret %.24q…:\n%.2000s", what, v, text)
		}
	}
}

// ecrSecrets adds what the ECR fake issued and the node's secret key.
func ecrSecrets(s *secretSet, reqs []ecrtest.Request) {
	s.add(ecrtest.NodeSecretAccessKey, "fake-session-secret-", "fake-session-token-", "secret-in-a-wrong-type-answer")
	for _, r := range reqs {
		if r.Password != "" {
			s.addUserPass("AWS", r.Password)
		}
	}
}
