package harness

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	criclient "k8s.io/cri-client/pkg"
	"k8s.io/klog/v2"
)

// ErrNoContainerd means containerd cannot run here: the binary is not on PATH, or the process
// is not root. Tests skip on it only when CI is unset (see ContainerdUnavailable).
var ErrNoContainerd = errors.New("containerd cannot run here")

// ContainerdOptions configures StartContainerd.
type ContainerdOptions struct {
	// Binary is the containerd executable. "": containerd on PATH.
	Binary string
	// Log receives containerd's own log (stderr) as it is written. Nil: it is kept in a file
	// of the run's directory only; Containerd.Log returns it either way.
	Log io.Writer
	// Debug sets containerd's log level to debug (every request to a registry is logged).
	Debug bool
	// StartTimeout bounds the wait for the CRI to answer. Zero: 60 seconds.
	StartTimeout time.Duration
	// SandboxImage is the CRI's sandbox_image, the image of every pod's sandbox container,
	// for a node that runs pods (a kubelet on this containerd). "": containerd's default
	// (registry.k8s.io/pause), which cannot be pulled on a loopback-only machine: a node
	// suite pulls or imports its own first.
	SandboxImage string
}

// Containerd is a containerd started for the tests, with its CRI plugin on a socket of its
// own, its root, state and hosts directories in a temporary directory, the native snapshotter
// (no mounts) and no CNI configuration (image pulls need none).
type Containerd struct {
	// Dir holds everything of this containerd: config.toml, the socket, root/, state/,
	// certs.d/ and its log. Removed by Close.
	Dir string
	// Endpoint is the CRI endpoint, unix://<Dir>/containerd.sock.
	Endpoint string
	// HostsDir is the CRI registry config_path: <HostsDir>/<host[:port]>/hosts.toml.
	HostsDir string
	// Version is containerd's version as its CRI reports it (RuntimeVersion), e.g. "1.6.20~ds1".
	Version string
	// Images and Runtime are the kubelet's CRI clients (k8s.io/cri-client) connected to it.
	Images  internalapi.ImageManagerService
	Runtime internalapi.RuntimeService

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	logPath string
	logFile *os.File

	closeOnce sync.Once
	closeErr  error
}

// ContainerdUnavailable reports why containerd cannot be started here, or "" when it can:
// the binary is missing from PATH, or the process is not root (containerd needs root for its
// root directory and unpacking). Callers skip when it is non-empty and CI is unset, and fail
// when CI is set (.ci/run installs containerd, so CI never skips).
func ContainerdUnavailable(binary string) string {
	if binary == "" {
		binary = "containerd"
	}
	if _, err := exec.LookPath(binary); err != nil {
		return fmt.Sprintf("%s is not installed (%v); on Debian: apt-get install -y containerd runc", binary, err)
	}
	if os.Geteuid() != 0 {
		return "containerd needs root and this process is not root"
	}
	return ""
}

// containerdConfig is containerd's config.toml (version 2) for a test instance. Only the CRI
// plugin's image service is used: the native snapshotter unpacks by copying (no mount), the
// CNI directories are empty (no pod network; pulls need none), and registry hosts come from
// config_path only, never from the node's /etc/containerd.
func containerdConfig(dir string, debug bool, sandboxImage string) string {
	q := strconv.Quote
	level := "info"
	if debug {
		level = "debug"
	}
	sandbox := ""
	if sandboxImage != "" {
		sandbox = "\n  sandbox_image = " + q(sandboxImage)
	}
	return fmt.Sprintf(`version = 2
root = %s
state = %s
plugin_dir = ""
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = %s

[ttrpc]
  address = %s

[debug]
  address = ""
  level = %s

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %s

[plugins."io.containerd.grpc.v1.cri"]
  disable_apparmor = true
  # No CAP_SYS_RESOURCE in a test machine's container: a sandbox's negative oom_score_adj
  # would make runc's init fail ("can't get final child's PID from pipe").
  restrict_oom_score_adj = true%s
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %s
    conf_dir = %s

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %s
`,
		q(filepath.Join(dir, "root")), q(filepath.Join(dir, "state")),
		q(filepath.Join(dir, "containerd.sock")), q(filepath.Join(dir, "containerd.ttrpc.sock")),
		q(level), q(filepath.Join(dir, "opt")), sandbox,
		q(filepath.Join(dir, "cni", "bin")), q(filepath.Join(dir, "cni", "conf")),
		q(filepath.Join(dir, "certs.d")))
}

// StartContainerd starts containerd as a child of this process and waits until its CRI
// answers. Close it when done: it stops the process it started (SIGTERM, then SIGKILL after
// a bounded wait) and removes Dir. It returns an error wrapping ErrNoContainerd when
// ContainerdUnavailable says it cannot run here.
func StartContainerd(ctx context.Context, opts ContainerdOptions) (*Containerd, error) {
	binary := opts.Binary
	if binary == "" {
		binary = "containerd"
	}
	if why := ContainerdUnavailable(binary); why != "" {
		return nil, fmt.Errorf("%w: %s", ErrNoContainerd, why)
	}
	path, _ := exec.LookPath(binary)
	// A unix socket path holds at most 107 bytes: a short directory under the temp dir.
	dir, err := os.MkdirTemp("", "pk-ctrd-")
	if err != nil {
		return nil, fmt.Errorf("harness: containerd: %w", err)
	}
	c := &Containerd{
		Dir:      dir,
		Endpoint: "unix://" + filepath.Join(dir, "containerd.sock"),
		HostsDir: filepath.Join(dir, "certs.d"),
		logPath:  filepath.Join(dir, "containerd.log"),
		exited:   make(chan struct{}),
	}
	for _, d := range []string{"root", "state", "opt", "certs.d", "cni/bin", "cni/conf"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("harness: containerd: %w", err)
		}
	}
	configPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(configPath, []byte(containerdConfig(dir, opts.Debug, opts.SandboxImage)), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("harness: containerd: %w", err)
	}
	if c.logFile, err = os.Create(c.logPath); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("harness: containerd: %w", err)
	}

	c.cmd = exec.Command(path, "--config", configPath)
	var logOut io.Writer = c.logFile
	if opts.Log != nil {
		logOut = io.MultiWriter(c.logFile, opts.Log)
	}
	c.cmd.Stdout, c.cmd.Stderr = logOut, logOut
	c.cmd.Dir = dir
	// Nothing of the caller's proxies or registry settings: containerd talks to loopback only.
	c.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + dir, "HOME=" + dir}
	// Its own process group, so a Ctrl-C in a terminal reaches the test, which stops it;
	// and SIGTERM from the kernel if this process dies without stopping it.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := c.cmd.Start(); err != nil {
		c.logFile.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("harness: start containerd: %w", err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()

	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	if err := c.waitReady(ctx, timeout); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// waitReady polls the CRI until it answers Version, containerd exits, or timeout passes.
func (c *Containerd) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sock := strings.TrimPrefix(c.Endpoint, "unix://")
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		select {
		case <-c.exited:
			return fmt.Errorf("harness: containerd exited before its CRI answered (%v); its log:\n%s", c.waitErr, c.Log())
		case <-ctx.Done():
			return fmt.Errorf("harness: containerd's CRI did not answer within %s (last error: %v); its log:\n%s", timeout, last, c.Log())
		case <-tick.C:
		}
		if _, err := os.Stat(sock); err != nil {
			last = err
			continue
		}
		if c.Runtime == nil {
			rs, err := criclient.NewRemoteRuntimeService(ctx, c.Endpoint, 10*time.Second, noop.NewTracerProvider(), false)
			if err != nil {
				last = err
				continue
			}
			c.Runtime = rs
		}
		v, err := c.Runtime.Version(ctx, "v1")
		if err != nil {
			last = err
			continue
		}
		is, err := criclient.NewRemoteImageService(ctx, c.Endpoint, 10*time.Second, noop.NewTracerProvider(), false)
		if err != nil {
			last = err
			continue
		}
		// The CRI plugin answers Version before its image service is ready for pulls: ask it
		// for the image file system too.
		if _, err := is.ImageFsInfo(ctx); err != nil {
			last = err
			_ = is.Close(ctx)
			continue
		}
		c.Images = is
		c.Version = v.RuntimeVersion
		return nil
	}
}

// Log returns what containerd logged so far.
func (c *Containerd) Log() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read containerd's log: %v)", err)
	}
	return string(b)
}

// LogMark is a mark for LogSince: the size of the log now.
func (c *Containerd) LogMark() int {
	info, err := os.Stat(c.logPath)
	if err != nil {
		return 0
	}
	return int(info.Size())
}

// LogSince returns what containerd logged after mark.
func (c *Containerd) LogSince(mark int) string {
	l := c.Log()
	if mark > len(l) {
		return ""
	}
	return l[mark:]
}

// Close stops containerd (SIGTERM to the process it started, SIGKILL if it has not exited
// after 15 seconds), closes the clients and removes Dir. It is safe to call more than once.
func (c *Containerd) Close() error {
	c.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if c.Images != nil {
			_ = c.Images.Close(ctx)
		}
		if c.Runtime != nil {
			_ = c.Runtime.Close(ctx)
		}
		if c.cmd != nil && c.cmd.Process != nil {
			select {
			case <-c.exited:
			default:
				_ = c.cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-c.exited:
				case <-time.After(15 * time.Second):
					_ = c.cmd.Process.Kill()
					<-c.exited
					c.closeErr = errors.New("harness: containerd did not stop within 15s of SIGTERM; killed")
				}
			}
		}
		if c.logFile != nil {
			c.logFile.Close()
		}
		if err := os.RemoveAll(c.Dir); err != nil && c.closeErr == nil {
			c.closeErr = fmt.Errorf("harness: remove containerd's directory: %w", err)
		}
	})
	return c.closeErr
}

// HostEntry is one [host."…"] table of a hosts.toml file: a server containerd tries, in
// order, before the default server.
type HostEntry struct {
	// URL is scheme://host[:port][/path], e.g. https://127.0.0.1:41234.
	URL string
	// Capabilities: "pull", "resolve", "push". Empty: all three (containerd's default).
	Capabilities []string
	// CA is a PEM file containerd trusts for this host (besides the system pool).
	CA           string
	OverridePath bool
}

// Hosts is the content of <HostsDir>/<host>/hosts.toml, containerd's per-registry settings.
type Hosts struct {
	// Server replaces the registry's own address (the default server, tried last); "" keeps
	// https://<host>.
	Server string
	// CA is a PEM file containerd trusts for Server.
	CA string
	// Mirrors are tried first, in order.
	Mirrors []HostEntry
}

// TOML renders h as a hosts.toml file.
func (h Hosts) TOML() []byte {
	var b bytes.Buffer
	q := strconv.Quote
	if h.Server != "" {
		fmt.Fprintf(&b, "server = %s\n", q(h.Server))
	}
	if h.CA != "" {
		fmt.Fprintf(&b, "ca = %s\n", q(h.CA))
	}
	if len(h.Mirrors) == 0 {
		// containerd 1.6 (remotes/docker/config.getSortedHosts) refuses a hosts.toml without
		// a host table and falls back to certificate files, dropping server and ca: an empty
		// table keeps the file.
		b.WriteString("\n[host]\n")
	}
	for _, m := range h.Mirrors {
		fmt.Fprintf(&b, "\n[host.%s]\n", q(m.URL))
		caps := m.Capabilities
		if len(caps) == 0 {
			caps = []string{"pull", "resolve", "push"}
		}
		quoted := make([]string, len(caps))
		for i, c := range caps {
			quoted[i] = q(c)
		}
		fmt.Fprintf(&b, "  capabilities = [%s]\n", strings.Join(quoted, ", "))
		if m.CA != "" {
			fmt.Fprintf(&b, "  ca = %s\n", q(m.CA))
		}
		if m.OverridePath {
			b.WriteString("  override_path = true\n")
		}
	}
	return b.Bytes()
}

// WriteHosts writes h as the hosts.toml of host (a registry host name, with its port if it
// has one). containerd reads it on every pull; no restart is needed.
func (c *Containerd) WriteHosts(host string, h Hosts) (string, error) {
	return c.WriteHostsFile(host, h.TOML())
}

// WriteHostsFile writes data verbatim as the hosts.toml of host, for tests that need what
// Hosts cannot say, and returns its path.
func (c *Containerd) WriteHostsFile(host string, data []byte) (string, error) {
	if host == "" || strings.ContainsAny(host, `/\`) || host == "." || host == ".." {
		return "", fmt.Errorf("harness: hosts.toml for %q: not a registry host", host)
	}
	dir := filepath.Join(c.HostsDir, host)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("harness: hosts.toml for %s: %w", host, err)
	}
	p := filepath.Join(dir, "hosts.toml")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return "", fmt.Errorf("harness: hosts.toml for %s: %w", host, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("harness: hosts.toml for %s: %w", host, err)
	}
	return p, nil
}

// RemoveHosts removes the hosts.toml directory of host.
func (c *Containerd) RemoveHosts(host string) error {
	if host == "" || strings.ContainsAny(host, `/\`) || host == "." || host == ".." {
		return fmt.Errorf("harness: hosts.toml for %q: not a registry host", host)
	}
	return os.RemoveAll(filepath.Join(c.HostsDir, host))
}

// WriteCA writes ca's certificate into Dir and returns the file's path, for `ca = …`.
func (c *Containerd) WriteCA(ca *CA) (string, error) {
	p := filepath.Join(c.Dir, fmt.Sprintf("ca-%x.pem", ca.Cert.SerialNumber))
	if err := os.WriteFile(p, ca.PEM, 0o644); err != nil {
		return "", fmt.Errorf("harness: write CA for containerd: %w", err)
	}
	return p, nil
}

// Serve makes containerd pull images named on each of hosts from the registry r: for each, a
// hosts.toml whose server is r (https://127.0.0.1:<port>) with r's CA. This is what DNS
// pointing the names at r would do: r is the only server containerd contacts for them (no
// mirror, no fallback), and it receives whatever credentials the kubelet hands over.
// The registry's own address needs no entry for the server, only for its CA: Serve(r, r.Addr)
// trusts it.
func (c *Containerd) Serve(r *Registry, hosts ...string) error {
	ca, err := c.WriteCA(r.CA)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		if _, err := c.WriteHosts(h, Hosts{Server: "https://" + r.Addr, CA: ca}); err != nil {
			return err
		}
	}
	return nil
}

// Pull is the CRI PullImage of image with auth (nil: anonymous). It returns the image
// reference containerd answers (the image ID).
func (c *Containerd) Pull(ctx context.Context, image string, auth *runtimeapi.AuthConfig) (string, error) {
	return c.Images.PullImage(ctx, &runtimeapi.ImageSpec{Image: image}, auth, nil)
}

// ImageStatus is the CRI ImageStatus of image; nil when containerd does not have it.
func (c *Containerd) ImageStatus(ctx context.Context, image string) (*runtimeapi.Image, error) {
	resp, err := c.Images.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: image}, false)
	if err != nil {
		return nil, err
	}
	return resp.GetImage(), nil
}

// RemoveImage is the CRI RemoveImage of image (no error when containerd does not have it).
func (c *Containerd) RemoveImage(ctx context.Context, image string) error {
	return c.Images.RemoveImage(ctx, &runtimeapi.ImageSpec{Image: image})
}

// HasDigest reports whether img lists repo@digest among its RepoDigests.
func HasDigest(img *runtimeapi.Image, repo, digest string) bool {
	if img == nil {
		return false
	}
	for _, d := range img.RepoDigests {
		if d == repo+"@"+digest {
			return true
		}
	}
	return false
}

// QuietCRIClient stops the kubelet's CRI client from logging to stderr: k8s.io/cri-client
// logs every failed PullImage through klog at error level, which is noise for a test or the
// demo that expects the failure and reports it itself. It sets klog process-wide.
func QuietCRIClient() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for name, value := range map[string]string{"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL"} {
		_ = fs.Set(name, value)
	}
	klog.SetOutput(io.Discard)
}

// SharedContainerd is one containerd for a whole test binary run, started on the first Get
// and stopped by Close (from TestMain, after m.Run): scenarios share it and keep apart by
// image names and hosts.toml files of their own.
type SharedContainerd struct {
	// Options for StartContainerd.
	Options ContainerdOptions

	once sync.Once
	c    *Containerd
	err  error
}

// Get returns the shared containerd, starting it on first use. When containerd cannot run
// here (ContainerdUnavailable) it skips the test with the reason if the CI environment
// variable is unset, and fails it if CI is set: CI installs containerd and never skips.
func (s *SharedContainerd) Get(t testing.TB) *Containerd {
	t.Helper()
	s.once.Do(func() {
		start := time.Now()
		s.c, s.err = StartContainerd(context.Background(), s.Options)
		if s.err == nil {
			t.Logf("started containerd %s in %s (%s)", s.c.Version, time.Since(start).Round(time.Millisecond), s.c.Endpoint)
		}
	})
	if errors.Is(s.err, ErrNoContainerd) {
		if os.Getenv("CI") == "" {
			t.Skipf("skipping: %v (CI is unset; with CI set this fails)", s.err)
		}
		t.Fatalf("CI is set and %v", s.err)
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.c
}

// Close stops the shared containerd if it was started.
func (s *SharedContainerd) Close() error {
	if s.c == nil {
		return nil
	}
	return s.c.Close()
}
