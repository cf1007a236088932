package node

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/pullkeys/pullkeys/e2e/harness"
)

// The kubelet binary: built once from this module (k8s.io/kubernetes as go.mod pins it, the
// `tool` line) and cached between runs under the hash of go.mod and go.sum, in
// $PULLKEYS_NODE_CACHE or the user cache directory.

var (
	kubeletOnce sync.Once
	kubeletPath string
	kubeletErr  error

	pluginsOnce sync.Once
	pluginsDir  string
	pluginsErr  error
)

func TestMain(m *testing.M) {
	harness.QuietCRIClient()
	code := m.Run()
	if pluginsDir != "" {
		os.RemoveAll(pluginsDir)
	}
	os.Exit(code)
}

// unavailable says why the node cannot run here, "" when it can.
func unavailable() string {
	if why := harness.ContainerdUnavailable(""); why != "" {
		return why
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return "runc is not installed; on Debian: apt-get install -y runc"
	}
	if _, err := os.Stat(busyboxPath); err != nil {
		return fmt.Sprintf("no static busybox at %s (%v); on Debian: apt-get install -y busybox-static", busyboxPath, err)
	}
	return ""
}

// optIn is the environment variable that runs the suite (make node-e2e sets it): without it
// `go test ./...` in this module (make kubelet-e2e) skips the real node, which takes minutes
// and needs root.
const optIn = "PULLKEYS_NODE_E2E"

func requireNode(t *testing.T) {
	t.Helper()
	if os.Getenv(optIn) == "" {
		t.Skipf("skipping the real-node suite: %s is unset (make node-e2e sets it)", optIn)
	}
	if why := unavailable(); why != "" {
		if os.Getenv("CI") == "" {
			t.Skipf("skipping the real-node suite: %s (CI is unset; with CI set this fails)", why)
		}
		t.Fatalf("CI is set and the real-node suite cannot run: %s", why)
	}
}

func kubeletBinary(t *testing.T) string {
	t.Helper()
	kubeletOnce.Do(func() { kubeletPath, kubeletErr = buildKubelet(t) })
	if kubeletErr != nil {
		t.Fatal(kubeletErr)
	}
	return kubeletPath
}

func buildKubelet(t *testing.T) (string, error) {
	h := sha256.New()
	h.Write([]byte("CGO_ENABLED=0 -trimpath\n")) // the build's flags: another build is another binary
	for _, f := range []string{"../go.mod", "../go.sum"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	cache := os.Getenv("PULLKEYS_NODE_CACHE")
	if cache == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory for the kubelet binary (set PULLKEYS_NODE_CACHE): %w", err)
		}
		cache = filepath.Join(d, "pullkeys-node")
	}
	dir := filepath.Join(cache, hex.EncodeToString(h.Sum(nil))[:16])
	bin := filepath.Join(dir, "kubelet")
	if _, err := os.Stat(bin); err == nil {
		t.Logf("kubelet binary from the cache: %s", bin)
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	// Static, as Kubernetes releases build it (and as make kubelet-e2e compiles the same
	// packages, so the compile cache is shared).
	cmd := exec.Command("go", "build", "-trimpath", "-o", tmp+string(filepath.Separator), "k8s.io/kubernetes/cmd/kubelet")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build k8s.io/kubernetes/cmd/kubelet: %v\n%s", err, out)
	}
	if err := os.Rename(filepath.Join(tmp, "kubelet"), bin); err != nil {
		return "", err
	}
	t.Logf("built the kubelet in %s into %s", time.Since(start).Round(time.Second), bin)
	return bin, nil
}

// plugins builds pullkeys' plugins from the root module, once.
func plugins(t *testing.T) string {
	t.Helper()
	pluginsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pullkeys-node-bin-")
		if err != nil {
			pluginsErr = err
			return
		}
		pluginsDir = dir
		root, err := filepath.Abs(filepath.Join("..", "..", ".."))
		if err != nil {
			pluginsErr = err
			return
		}
		pluginsErr = harness.Build(context.Background(), root, dir,
			"./cmd/"+harness.Dockercfg, "./cmd/"+harness.ECR, "./cmd/"+harness.GCR)
	})
	if pluginsErr != nil {
		t.Fatal(pluginsErr)
	}
	return pluginsDir
}

// node is one containerd and one kubelet, children of the test, in a temporary directory.
type node struct {
	t        *testing.T
	name     string // the node name: static pods are named <pod>-<name>
	dir      string
	manifest string // staticPodPath
	logsDir  string // podLogsDir
	rootDir  string // --root-dir
	// kubeletConfig is the kubelet's --config file (a KubeletConfiguration).
	kubeletConfig string
	ctrd          *harness.Containerd
	binDir        string // --image-credential-provider-bin-dir: a counting wrapper per provider
	kubelet       *exec.Cmd
	exited        chan struct{}
	klog          *syncBuffer
}

type nodeOptions struct {
	registry  *harness.Registry
	providers []harness.Provider
	env       []string // the kubelet's environment besides PATH and HOME; plugins inherit it
	// serve are registry host names (gcr.io, an ECR host) containerd pulls from the loopback
	// registry, as if DNS pointed them at it (harness.Containerd.Serve).
	serve []string
	// configure, when set, runs once containerd is up and before the kubelet starts (to write
	// hosts.toml files); the providers it returns join providers.
	configure func(c *harness.Containerd) []harness.Provider
	// aliases name provider binaries that are not pullkeys' own file names: alias → the
	// plugin it runs (a second entry of one plugin with other args, as an operator may
	// install it twice).
	aliases map[string]string
	// kubeletConfig is appended to the KubeletConfiguration (featureGates, the image
	// credential verification policy).
	kubeletConfig string
}

// startNode starts containerd (the sandbox image pulled from the registry) and the kubelet
// with the providers, and registers their clean-up.
func startNode(t *testing.T, opts nodeOptions) *node {
	t.Helper()
	requireNode(t)
	bin := kubeletBinary(t)
	ctx := context.Background()

	// The sandbox image: no registry.k8s.io here, so busybox waiting to be stopped, on the
	// loopback registry, pulled into containerd with credentials of its own before the kubelet
	// starts (containerd would pull it anonymously).
	sandboxUser := harness.Credential{Username: "node-sandbox", Password: harness.RandomString(24)}
	if err := opts.registry.AddUser(sandboxUser.Username, sandboxUser.Password); err != nil {
		t.Fatal(err)
	}
	sandboxImg, err := busyboxImage(sandboxEntrypoint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opts.registry.PushImage(ctx, "node/sandbox", "1", sandboxImg); err != nil {
		t.Fatal(err)
	}
	sandboxRef := opts.registry.Addr + "/node/sandbox:1"

	ctrd, err := harness.StartContainerd(ctx, harness.ContainerdOptions{SandboxImage: sandboxRef})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, ctrd: ctrd, exited: make(chan struct{}), klog: &syncBuffer{}}
	t.Cleanup(n.close)
	t.Cleanup(removeHostLeftovers(t))
	if err := ctrd.Serve(opts.registry, append([]string{opts.registry.Addr}, opts.serve...)...); err != nil {
		t.Fatal(err)
	}
	if _, err := ctrd.Pull(ctx, sandboxRef, &runtimeapi.AuthConfig{Username: sandboxUser.Username, Password: sandboxUser.Password}); err != nil {
		t.Fatalf("pull the sandbox image %s: %v", sandboxRef, err)
	}

	n.name = "pk-node-" + strings.ToLower(harness.RandomString(6))
	n.dir, err = os.MkdirTemp("", "pk-node-")
	if err != nil {
		t.Fatal(err)
	}
	n.manifest = filepath.Join(n.dir, "manifests")
	n.logsDir = filepath.Join(n.dir, "pods")
	n.rootDir = filepath.Join(n.dir, "root")
	for _, d := range []string{n.manifest, n.logsDir, n.rootDir, filepath.Join(n.dir, "cache")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	providers := opts.providers
	if opts.configure != nil {
		providers = append(slices.Clone(providers), opts.configure(ctrd)...)
	}
	n.binDir = filepath.Join(n.dir, "bin")
	if err := writeCountingPlugins(n.binDir, plugins(t), providers, opts.aliases); err != nil {
		t.Fatal(err)
	}
	providerConfig := filepath.Join(n.dir, "credential-providers.yaml")
	if err := harness.WriteConfig(providerConfig, providers...); err != nil {
		t.Fatal(err)
	}
	n.kubeletConfig = filepath.Join(n.dir, "kubelet.yaml")
	if err := os.WriteFile(n.kubeletConfig, []byte(kubeletConfigYAML(n, ctrd.Endpoint)+opts.kubeletConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	n.kubelet = exec.Command(bin,
		"--config="+n.kubeletConfig,
		"--root-dir="+n.rootDir,
		"--cert-dir="+filepath.Join(n.dir, "pki"),
		"--hostname-override="+n.name,
		"--image-credential-provider-config="+providerConfig,
		"--image-credential-provider-bin-dir="+n.binDir,
		// V(3): the kubelet logs its events (no API server to send them to), among them
		// "Failed to pull image …".
		"--v=3",
	)
	// The plugins inherit this environment: nothing of the caller's clouds, a cache of their own.
	n.kubelet.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + n.dir,
		"PULLKEYS_CACHE_DIR=" + filepath.Join(n.dir, "cache"),
	}, opts.env...)
	n.kubelet.Stdout, n.kubelet.Stderr = n.klog, n.klog
	n.kubelet.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := n.kubelet.Start(); err != nil {
		t.Fatalf("start the kubelet: %v", err)
	}
	go func() {
		_ = n.kubelet.Wait()
		close(n.exited)
	}()
	t.Logf("node %s: kubelet (pid %d) on containerd %s, in %s", n.name, n.kubelet.Process.Pid, ctrd.Version, n.dir)
	return n
}

// kubeletConfigYAML is the KubeletConfiguration of a standalone node on this kind of machine.
func kubeletConfigYAML(n *node, endpoint string) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
staticPodPath: %q
podLogsDir: %q
containerRuntimeEndpoint: %q
fileCheckFrequency: 1s
syncFrequency: 2s
# No server: nothing listens, no certificates are needed.
enableServer: false
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
# cgroup v1 machines: accepted, cgroupfs, no QoS cgroups, nothing enforced.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
resolvConf: ""
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "0%%"
  imagefs.available: "0%%"
`, n.manifest, n.logsDir, endpoint)
}

// pod is a static pod of one container on the host network (no CNI here). policy is its
// imagePullPolicy; "" sets none, and the kubelet defaults the static pod as the API server
// would (Always for :latest or no tag, else IfNotPresent).
func (n *node) pod(name, image, policy string, command ...string) {
	n.t.Helper()
	pullPolicy := ""
	if policy != "" {
		pullPolicy = "\n    imagePullPolicy: " + policy
	}
	var cmd strings.Builder
	for _, c := range command {
		fmt.Fprintf(&cmd, "\n    - %q", c)
	}
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: default
spec:
  hostNetwork: true
  restartPolicy: Never
  containers:
  - name: main
    image: %q%s
    command:%s
`, name, image, pullPolicy, cmd.String())
	if err := os.WriteFile(filepath.Join(n.manifest, name+".yaml"), []byte(manifest), 0o644); err != nil {
		n.t.Fatal(err)
	}
}

// result is what a pod came to: its container's log, or the kubelet's pull-failure lines.
type result struct {
	containerLog string
	pullFailures []string // kubelet log lines about the image failing to pull
}

// waitPod waits (bounded) until the container of pod name logged want, or the kubelet logged
// a pull failure for image (its "Failed to pull image" event and its ErrImagePull error), and
// returns what it saw.
func (n *node) waitPod(name, image, want string, timeout time.Duration) result {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	podDir := fmt.Sprintf("default_%s-%s_", name, n.name)
	for {
		var res result
		entries, _ := os.ReadDir(n.logsDir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), podDir) {
				logs, _ := filepath.Glob(filepath.Join(n.logsDir, e.Name(), "main", "*.log"))
				for _, l := range logs {
					b, _ := os.ReadFile(l)
					res.containerLog += string(b)
				}
			}
		}
		res.pullFailures = pullFailures(n.klog.String(), image)
		failed := strings.Join(res.pullFailures, "\n")
		// Both the event and the pod worker's error: they are logged apart, in either order.
		if want != "" && strings.Contains(res.containerLog, want) ||
			strings.Contains(failed, "Failed to pull image") && strings.Contains(failed, "ErrImagePull") {
			return res
		}
		select {
		case <-n.exited:
			n.t.Fatalf("the kubelet exited (%v); its log:\n%s", n.kubelet.ProcessState, tail(n.klog.String(), 60))
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("pod %s: neither %q in its log nor a pull failure within %s; container log %q; kubelet log:\n%s",
				name, want, timeout, res.containerLog, tail(n.klog.String(), 60))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitLog waits (bounded) until the container of pod name logged want, through pull
// failures and the kubelet's back-off, and returns its log.
func (n *node) waitLog(name, want string, timeout time.Duration) string {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		res := n.waitPod(name, "\x00none", want, time.Until(deadline))
		if strings.Contains(res.containerLog, want) {
			return res.containerLog
		}
	}
}

// pullFailures returns the kubelet's log lines that report image failing to pull.
func pullFailures(log, image string) []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, image) && (strings.Contains(l, "Failed to pull image") || strings.Contains(l, "ErrImagePull")) {
			lines = append(lines, l)
		}
	}
	return lines
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// close stops what startNode started: the kubelet (SIGTERM, then SIGKILL), every pod
// sandbox of its containerd (so no shim outlives the test), containerd; then unmounts what
// the kubelet mounted under its directory (its --root-dir onto itself) and removes it.
func (n *node) close() {
	if n.kubelet != nil && n.kubelet.Process != nil {
		_ = n.kubelet.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(15 * time.Second):
			_ = n.kubelet.Process.Kill()
			<-n.exited
		}
	}
	if n.ctrd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if sandboxes, err := n.ctrd.Runtime.ListPodSandbox(ctx, nil); err == nil {
			for _, s := range sandboxes {
				_ = n.ctrd.Runtime.StopPodSandbox(ctx, s.Id)
				_ = n.ctrd.Runtime.RemovePodSandbox(ctx, s.Id)
			}
		} else {
			n.t.Logf("clean-up: list pod sandboxes: %v", err)
		}
		cancel()
		unmountUnder(n.t, n.ctrd.Dir)
		if err := n.ctrd.Close(); err != nil {
			n.t.Errorf("clean-up: %v", err)
		}
	}
	if n.dir != "" {
		unmountUnder(n.t, n.dir)
		if err := os.RemoveAll(n.dir); err != nil {
			n.t.Errorf("clean-up: %v", err)
		}
	}
}

// hostKubeletDir is where the kubelet keeps its device plugin sockets whatever its --root-dir:
// it creates hostKubeletDir/device-plugins on the host.
const hostKubeletDir = "/var/lib/kubelet"

// removeHostLeftovers returns a clean-up that removes what the kubelet creates outside its
// --root-dir and was not there before: /var/lib/kubelet/device-plugins, and /var/lib/kubelet
// itself when the test made it.
func removeHostLeftovers(t *testing.T) func() {
	_, errDir := os.Stat(hostKubeletDir)
	plugins := filepath.Join(hostKubeletDir, "device-plugins")
	_, errPlugins := os.Stat(plugins)
	return func() {
		if errPlugins == nil {
			return
		}
		if err := os.RemoveAll(plugins); err != nil {
			t.Errorf("clean-up: %v", err)
		}
		if errDir != nil {
			_ = os.Remove(hostKubeletDir) // only when empty: another test's files stay
		}
	}
}

// unmountUnder detaches every mount at or below dir, deepest first (the kubelet bind-mounts
// its --root-dir onto itself, possibly more than once).
func unmountUnder(t *testing.T, dir string) {
	for range 10 {
		points := mountsUnder(dir)
		if len(points) == 0 {
			return
		}
		for i := len(points) - 1; i >= 0; i-- {
			if err := syscall.Unmount(points[i], syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
				t.Logf("clean-up: unmount %s: %v", points[i], err)
			}
		}
	}
}

func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		p := unescapeMount(f[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	return points
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// syncBuffer is the kubelet's log, written by its process and read by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*syncBuffer)(nil)
