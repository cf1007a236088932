package kubelet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	configv1 "k8s.io/kubelet/config/v1"
	kubeletplugin "k8s.io/kubernetes/pkg/credentialprovider/plugin"
	"k8s.io/kubernetes/pkg/util/parsers"

	"github.com/pullkeys/pullkeys/e2e/harness"
	pkkubelet "github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
)

// The suite registers providers with the kubelet's process-global registry, which never
// forgets one. So every scenario gets a provider name and a DNS domain of its own
// (s<N>.test), every image a scenario looks up is under its domain, and a provider
// registered by one scenario never matches an image of another.

func TestMain(m *testing.M) {
	// A node kubelet of its own (peer_test.go): before anything else, so that it keeps the
	// environment of the process that started it.
	if len(os.Args) > 1 && os.Args[1] == nodeKubeletArg {
		os.Exit(runNodeKubelet(os.Args[2:]))
	}
	flag.Parse()
	captureKlog()
	// The kubelet's plugins inherit this process's environment: their default cache directory
	// must never be the node's own /var/lib/kubelet/pullkeys.
	cacheDir, err := os.MkdirTemp("", "pullkeys-kubelet-e2e-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("PULLKEYS_CACHE_DIR", cacheDir)
	code := m.Run()
	if err := stopCRI(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	buildOnce.cleanup()
	os.RemoveAll(cacheDir)
	os.Exit(code)
}

// kubeletLog receives everything the kubelet's code logs through klog, at verbosity 5: what
// a node's kubelet log would show, including a failing plugin's stderr.
var kubeletLog syncBuffer

func captureKlog() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for name, value := range map[string]string{
		"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL", "v": "5",
	} {
		if err := fs.Set(name, value); err != nil {
			panic(err)
		}
	}
	klog.SetOutput(&kubeletLog)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Len is a mark for Since.
func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// Since returns what was logged after mark.
func (b *syncBuffer) Since(mark int) string {
	klog.Flush()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()[mark:]
}

// Binaries, built once per test process on first use.

// FakePlugin is the suite's own plugin, testdata/fakeplugin.
const FakePlugin = "fakeplugin"

// The real binaries of the root module, by the file names the kubelet execs.
const (
	ACR       = harness.ACR
	Dockercfg = harness.Dockercfg
	ECR       = harness.ECR
	GCR       = harness.GCR
)

var buildOnce = &builds{done: map[string]*buildResult{}}

type builds struct {
	mu   sync.Mutex
	dir  string
	done map[string]*buildResult
}

type buildResult struct {
	path string
	err  error
}

// binary returns the path of a built binary: FakePlugin, or one of the root module's
// commands, built from the root module (its go.mod, as the lead ships it) by harness.Build,
// as every suite builds the binaries under test.
func binary(t testing.TB, name string) string {
	t.Helper()
	b := buildOnce
	b.mu.Lock()
	defer b.mu.Unlock()
	if r, ok := b.done[name]; ok {
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.path
	}
	if b.dir == "" {
		dir, err := os.MkdirTemp("", "kubelet-conformance-")
		if err != nil {
			t.Fatal(err)
		}
		b.dir = dir
	}
	r := &buildResult{path: filepath.Join(b.dir, name)}
	b.done[name] = r
	root, pkg := filepath.Join("..", ".."), "./cmd/"+name
	if name == FakePlugin {
		root, pkg = ".", "./testdata/fakeplugin"
	}
	start := time.Now()
	if r.err = harness.Build(context.Background(), root, b.dir, pkg); r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("built %s in %s", name, time.Since(start).Round(time.Millisecond))
	return r.path
}

func (b *builds) cleanup() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// Scenarios.

var scenarioSeq atomic.Int64

// scenario is one set of providers registered with the kubelet's code, under a fresh domain.
type scenario struct {
	t          *testing.T
	id         string // s<N>
	domain     string // s<N>.test
	binDir     string
	configPath string
	logPath    string // FAKE_LOG of the kubelet's execs
	checkLog   string // FAKE_LOG of pullkeys check's execs
	binaries   map[string]string
	providers  []configv1.CredentialProvider
}

func newScenario(t *testing.T) *scenario {
	t.Helper()
	n := scenarioSeq.Add(1)
	dir := t.TempDir()
	s := &scenario{
		t:          t,
		id:         fmt.Sprintf("s%d", n),
		domain:     fmt.Sprintf("s%d.test", n),
		binDir:     filepath.Join(dir, "bin"),
		configPath: filepath.Join(dir, "config.json"),
		logPath:    filepath.Join(dir, "kubelet-execs.jsonl"),
		checkLog:   filepath.Join(dir, "check-execs.jsonl"),
		binaries:   map[string]string{},
	}
	if err := os.Mkdir(s.binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The kubelet execs plugins with its own environment (then the config's env): FAKE_LOG
	// comes from there, so that pullkeys check, given another environment, logs elsewhere.
	t.Setenv("FAKE_LOG", s.logPath)
	return s
}

// image returns an image reference on host (a label, or a label with a port) of the domain.
func (s *scenario) image(host, rest string) string {
	h, port, _ := strings.Cut(host, ":")
	ref := h + "." + s.domain
	if port != "" {
		ref += ":" + port
	}
	return ref + "/" + rest
}

// fake returns a provider entry for the fake plugin with the suite's defaults: apiVersion v1,
// matchImages *.<domain>, defaultCacheDuration 1h, and env from kv pairs.
func (s *scenario) fake(kv ...string) configv1.CredentialProvider {
	p := configv1.CredentialProvider{
		Name:                 fmt.Sprintf("fake-%s-%d", s.id, len(s.providers)),
		MatchImages:          []string{"*." + s.domain},
		DefaultCacheDuration: &metav1.Duration{Duration: time.Hour},
		APIVersion:           providers.APIVersionV1,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Env = append(p.Env, configv1.ExecEnvVar{Name: kv[i], Value: kv[i+1]})
	}
	return p
}

// register writes the config, links each provider's binary into the bin dir and registers
// the providers with the kubelet's RegisterCredentialProviderPlugins. It also loads the
// config with pullkeys (kubelet.LoadConfig), which must agree that it is valid.
func (s *scenario) register(api *fakeAPI, ps ...configv1.CredentialProvider) {
	s.t.Helper()
	if err := s.tryRegister(api, ps...); err != nil {
		s.t.Fatalf("RegisterCredentialProviderPlugins: %v", err)
	}
	_, problems := pkkubelet.LoadConfig(s.configPath, s.binDir)
	if errs := problems.Errors(); len(errs) > 0 {
		s.t.Fatalf("the kubelet accepts the config, pullkeys LoadConfig reports %v", errs)
	}
}

func (s *scenario) tryRegister(api *fakeAPI, ps ...configv1.CredentialProvider) error {
	s.t.Helper()
	s.providers = append(s.providers, ps...)
	cfg := configv1.CredentialProviderConfig{
		TypeMeta:  metav1.TypeMeta{APIVersion: configv1.SchemeGroupVersion.String(), Kind: "CredentialProviderConfig"},
		Providers: ps,
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(s.configPath, data, 0o600); err != nil {
		s.t.Fatal(err)
	}
	for _, p := range ps {
		bin, ok := s.binaries[p.Name]
		if !ok {
			bin = binary(s.t, FakePlugin)
		}
		if err := os.Symlink(bin, filepath.Join(s.binDir, p.Name)); err != nil {
			s.t.Fatal(err)
		}
	}
	if api == nil {
		api = &fakeAPI{}
	}
	return kubeletRegisterWith(s.configPath, s.binDir, api)
}

// kubeletRegisterWith is the kubelet's start-up registration of the providers of a config.
func kubeletRegisterWith(configPath, binDir string, api *fakeAPI) error {
	return kubeletplugin.RegisterCredentialProviderPlugins(configPath, binDir, api.token, api.serviceAccount)
}

// record is one exec of the fake plugin (testdata/fakeplugin).
type record struct {
	Args    []string `json:"args"`
	Stdin   string   `json:"stdin"`
	Decoded *struct {
		Image       string            `json:"image"`
		Token       string            `json:"token"`
		Annotations map[string]string `json:"annotations"`
	} `json:"decoded"`
}

// execs returns the kubelet's execs of the scenario's fake plugins so far.
func (s *scenario) execs() []record { return readRecords(s.t, s.logPath) }

func readRecords(t *testing.T, path string) []record {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("exec log %s: %v", path, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// pod is what the kubelet knows of the pod an image is pulled for.
type pod struct {
	Namespace, Name, UID, ServiceAccount string
}

// cred is one credential the kubelet hands to the container runtime.
type cred struct {
	Username, Password string
}

// lookup does what the kubelet's image manager does before a pull: ParseImageName, then
// NewExternalCredentialProviderDockerKeyring(...).Lookup(repoToPull).
func lookup(t *testing.T, image string, p pod) []cred {
	t.Helper()
	out, err := kubeletLookup(image, p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// kubeletLookup asks the kubelet's keyring for image as pod p.
func kubeletLookup(image string, p pod) ([]cred, error) {
	repo, _, _, err := parsers.ParseImageName(image)
	if err != nil {
		return nil, fmt.Errorf("ParseImageName(%q): %v", image, err)
	}
	kr := kubeletplugin.NewExternalCredentialProviderDockerKeyring(p.Namespace, p.Name, p.UID, p.ServiceAccount)
	found, _ := kr.Lookup(repo)
	out := []cred{}
	for _, c := range found {
		out = append(out, cred{Username: c.Username, Password: c.Password})
	}
	return out, nil
}

// check runs pullkeys check (kubelet.Check) on the scenario's config, with its execs
// logged to the scenario's check log.
func (s *scenario) check(images []string, sa *pkkubelet.ServiceAccount) *pkkubelet.Report {
	s.t.Helper()
	rep, err := pkkubelet.Check(context.Background(), pkkubelet.CheckOptions{
		ConfigPath:     s.configPath,
		BinDir:         s.binDir,
		Images:         images,
		ServiceAccount: sa,
		ShowSecrets:    true,
		Environ:        func() []string { return append(os.Environ(), "FAKE_LOG="+s.checkLog) },
	})
	if err != nil {
		s.t.Fatalf("Check: %v", err)
	}
	return rep
}

// checkCreds returns the credentials of an image of a Check report.
func checkCreds(img pkkubelet.ImageReport) []cred {
	out := []cred{}
	for _, c := range img.Credentials {
		out = append(out, cred{Username: c.Username, Password: c.Password})
	}
	return out
}

// fakeAPI is the API server as the kubelet's credential provider code sees it: service
// accounts and the TokenRequest API.
type fakeAPI struct {
	mu       sync.Mutex
	accounts map[string]*corev1.ServiceAccount // by namespace/name
	// tokens are issued in turn; after the last, the last is issued again.
	tokens   []string
	issued   int
	requests []tokenRequest
}

type tokenRequest struct {
	Namespace, Name string
	Request         *authenticationv1.TokenRequest
}

func (a *fakeAPI) addAccount(namespace, name, uid string, annotations map[string]string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.accounts == nil {
		a.accounts = map[string]*corev1.ServiceAccount{}
	}
	a.accounts[namespace+"/"+name] = &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID(uid), Annotations: annotations},
	}
}

func (a *fakeAPI) serviceAccount(namespace, name string) (*corev1.ServiceAccount, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	sa, ok := a.accounts[namespace+"/"+name]
	if !ok {
		return nil, fmt.Errorf("serviceaccount %s/%s not found", namespace, name)
	}
	return sa.DeepCopy(), nil
}

func (a *fakeAPI) token(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests = append(a.requests, tokenRequest{Namespace: namespace, Name: name, Request: tr.DeepCopy()})
	if len(a.tokens) == 0 {
		return nil, errors.New("token request refused")
	}
	tok := a.tokens[min(a.issued, len(a.tokens)-1)]
	a.issued++
	out := tr.DeepCopy()
	out.Status.Token = tok
	return out, nil
}

func (a *fakeAPI) tokenRequests() []tokenRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]tokenRequest(nil), a.requests...)
}
