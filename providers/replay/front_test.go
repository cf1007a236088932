package replay_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/replay"
	"github.com/pullkeys/pullkeys/providers/replay/replaytest"
)

// frontName is the front the tests install; this test binary plays it and its full plugin,
// by the name it is started as.
const frontName = "fake-credential-provider"

func TestMain(m *testing.M) {
	switch filepath.Base(os.Args[0]) {
	case frontName:
		replay.Main(frontName)
	case frontName + replay.FullSuffix:
		providers.Main(fakePlugin())
	}
	os.Exit(m.Run())
}

// fakePlugin is a full plugin answering from a cache entry, as ecr's does, that notes each of
// its runs and fetches in the --runs file.
func fakePlugin() providers.Plugin {
	var copts cache.Options
	var runs string
	note := func(what string) {
		f, err := os.OpenFile(runs, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintln(f, what)
			f.Close()
		}
	}
	return providers.Plugin{
		Name: frontName,
		Flags: func(fs *flag.FlagSet) {
			copts.AddFlags(fs)
			fs.StringVar(&runs, "runs", "", "file noting runs and fetches")
		},
		New: func(ctx context.Context, log *slog.Logger) (providers.Provider, error) {
			note("run")
			c := cache.New(copts)
			return providers.ProviderFunc(func(ctx context.Context, req *providers.Request) (*providers.Response, error) {
				r, err := c.GetOrFetch(ctx, cache.NewKey("fake"), func(context.Context) (*cache.Entry, error) {
					note("fetch")
					return &cache.Entry{Auth: map[string]cache.Credentials{"registry.example": {Username: "u", Password: "pw-" + rand.Text()}},
						ExpiresAt: time.Now().Add(2 * time.Hour)}, nil
				})
				if err != nil {
					return nil, err
				}
				replay.Record(ctx, r, time.Second)
				c := r.Entry.Auth["registry.example"]
				return &providers.Response{
					CacheKeyType:  providers.CacheKeyRegistry,
					CacheDuration: providers.CacheFor(r.FreshFor.Truncate(time.Second)),
					Auth:          map[string]providers.AuthConfig{"registry.example": {Username: c.Username, Password: c.Password}},
				}, nil
			}), nil
		},
	}
}

// node is a bin directory with the front and its full plugin, a cache directory and the
// runs file of the full plugin.
type node struct {
	t        *testing.T
	bin      string
	cacheDir string
	runs     string
	env      []string
}

func newNode(t *testing.T) *node {
	t.Helper()
	root := t.TempDir()
	n := &node{t: t, bin: filepath.Join(root, "bin"), cacheDir: filepath.Join(root, "cache"), runs: filepath.Join(root, "runs")}
	n.env = []string{"PATH=/usr/bin:/bin", "HOME=" + root}
	if err := os.Mkdir(n.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{frontName, frontName + replay.FullSuffix} {
		copyFile(t, exe, filepath.Join(n.bin, name))
	}
	return n
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// run starts the front as the kubelet does, request on stdin.
func (n *node) run(request string, args ...string) result {
	n.t.Helper()
	args = append([]string{"--cache-dir=" + n.cacheDir, "--runs=" + n.runs}, args...)
	cmd := exec.Command(filepath.Join(n.bin, frontName), args...)
	cmd.Env, cmd.Dir = n.env, n.bin
	cmd.Stdin = strings.NewReader(request)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatalf("run %s: %v", frontName, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

// counts returns how often the full plugin ran and fetched.
func (n *node) counts() (runs, fetches int) {
	data, _ := os.ReadFile(n.runs)
	return strings.Count(string(data), "run\n"), strings.Count(string(data), "fetch\n")
}

func request(image string) string {
	return `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"` + image + `"}`
}

func decode(t *testing.T, r result) *providers.Response {
	t.Helper()
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
	}
	resp, err := providers.DecodeResponse([]byte(r.stdout), providers.APIVersionV1)
	if err != nil {
		t.Fatalf("DecodeResponse(%q): %v", r.stdout, err)
	}
	return resp
}

func TestFrontReplaysAndRunsTheFullPlugin(t *testing.T) {
	n := newNode(t)
	req := request("registry.example/app")
	first := n.run(req)
	decode(t, first)
	if runs, fetches := n.counts(); runs != 1 || fetches != 1 {
		t.Fatalf("first request: full plugin ran %d times, fetched %d; want 1, 1", runs, fetches)
	}

	second := n.run(req)
	decode(t, second)
	if runs, _ := n.counts(); runs != 1 {
		t.Errorf("same request again: full plugin ran %d times in all, want 1 (a replay)", runs)
	}
	replaytest.CheckReplay(t, providers.APIVersionV1, []byte(first.stdout), []byte(second.stdout), 2*time.Second)

	// Anything else runs the full plugin, which answers from the token cache.
	for _, tt := range []struct {
		name    string
		request string
		args    []string
	}{
		{name: "another image", request: request("registry.example/other")},
		{name: "another apiVersion", request: strings.Replace(req, "/v1\"", "/v1beta1\"", 1)},
		{name: "another argument", request: req, args: []string{"--cache-fresh-fraction=0.5"}},
	} {
		before, _ := n.counts()
		r := n.run(tt.request, tt.args...)
		if r.code != 0 || r.stdout == "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", tt.name, r.code, r.stdout, r.stderr)
		}
		if runs, fetches := n.counts(); runs != before+1 || fetches != 1 {
			t.Errorf("%s: full plugin ran %d times, fetched %d in all; want %d, 1", tt.name, runs, fetches, before+1)
		}
	}

	// Logs come from the full plugin only: -v always runs it.
	before, _ := n.counts()
	for range 2 {
		r := n.run(req, "-v=3")
		if r.code != 0 || !strings.Contains(r.stderr, "response") {
			t.Errorf("-v=3: exit %d, stderr %q; want 0 and the full plugin's logs", r.code, r.stderr)
		}
	}
	if runs, _ := n.counts(); runs != before+2 {
		t.Errorf("-v=3 twice: full plugin ran %d times, want 2", runs-before)
	}
}

func TestFrontWithoutDiskCacheAlwaysRunsTheFullPlugin(t *testing.T) {
	n := newNode(t)
	req := request("registry.example/app")
	for range 2 {
		decode(t, n.run(req, "--no-disk-cache"))
	}
	if runs, fetches := n.counts(); runs != 2 || fetches != 2 {
		t.Errorf("full plugin ran %d times, fetched %d; want 2, 2", runs, fetches)
	}
	if _, err := os.Stat(filepath.Join(n.cacheDir, replay.AnswersDir)); err == nil {
		t.Errorf("answers saved with --no-disk-cache")
	}
}

// TestFrontFailures: the full plugin's failures reach the kubelet as they are; the front's own
// are one line on stderr. Nothing is written on stdout.
func TestFrontFailures(t *testing.T) {
	tests := []struct {
		name       string
		request    string
		noFull     bool
		wantStderr string
	}{
		{name: "malformed request", request: "{", wantStderr: frontName + ": decode request: malformed JSON"},
		{name: "empty request", request: "", wantStderr: frontName + ": decode request: malformed JSON"},
		{name: "request too large", request: strings.Repeat(" ", replay.MaxRequestBytes+1), wantStderr: frontName + ": read request: request too large"},
		{name: "wrong kind", request: strings.Replace(request("a.example/b"), "CredentialProviderRequest", "Pod", 1), wantStderr: frontName + ": decode request: wrong kind"},
		{name: "full plugin missing", request: request("registry.example/app"), noFull: true,
			wantStderr: frontName + ": cannot run the full plugin: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t)
			if tt.noFull {
				if err := os.Remove(filepath.Join(n.bin, frontName+replay.FullSuffix)); err != nil {
					t.Fatal(err)
				}
			}
			r := n.run(tt.request)
			if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, tt.wantStderr) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, one line starting %q", r.code, r.stdout, r.stderr, tt.wantStderr)
			}
		})
	}
}

// TestFrontReplacedFullPlugin: an answer saved by one build of the full plugin is not replayed
// once the file is replaced, by an upgrade say.
func TestFrontReplacedFullPlugin(t *testing.T) {
	n := newNode(t)
	req := request("registry.example/app")
	decode(t, n.run(req))
	full := filepath.Join(n.bin, frontName+replay.FullSuffix)
	tmp := full + ".new"
	copyFile(t, full, tmp)
	if err := os.Rename(tmp, full); err != nil {
		t.Fatal(err)
	}
	decode(t, n.run(req))
	if runs, _ := n.counts(); runs != 2 {
		t.Errorf("full plugin ran %d times, want 2: the new file must answer once itself", runs)
	}
}

func TestFrontDoesNotReplayOtherUsersAnswers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	n := newNode(t)
	req := request("registry.example/app")
	decode(t, n.run(req))
	answers, err := filepath.Glob(filepath.Join(n.cacheDir, replay.AnswersDir, "*.json"))
	if err != nil || len(answers) != 1 {
		t.Fatalf("answers: %v, %v", answers, err)
	}
	if err := os.Chown(answers[0], 65534, 65534); err != nil {
		t.Fatal(err)
	}
	decode(t, n.run(req))
	if runs, _ := n.counts(); runs != 2 {
		t.Errorf("full plugin ran %d times, want 2: an answer owned by another user is not replayed", runs)
	}
}
