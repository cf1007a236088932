package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
)

// dockercfgFixture is a registry with one user and the image e2e/app:v1, and a docker config
// file holding that user's credentials under the registry's host:port, as `docker login` writes.
type dockercfgFixture struct {
	reg    *harness.Registry
	user   harness.Credential
	config string // the docker config file
	image  string // <registry>/e2e/app:v1
}

// hosts are further names the registry answers for (see harness.RegistryOptions.Hosts).
func newDockercfgFixture(t *testing.T, hosts ...string) *dockercfgFixture {
	t.Helper()
	user := harness.Credential{Username: "alice", Password: harness.RandomString(20)}
	reg := startRegistry(t, harness.RegistryOptions{Hosts: hosts, Users: map[string]string{user.Username: user.Password}})
	push(t, reg, "e2e/app", "v1")
	f := &dockercfgFixture{reg: reg, user: user, config: filepath.Join(t.TempDir(), "config.json"), image: reg.Addr + "/e2e/app:v1"}
	if err := harness.WriteDockerConfig(f.config, map[string]harness.Credential{reg.Addr: user}); err != nil {
		t.Fatal(err)
	}
	return f
}

// provider is the config entry of the dockercfg plugin serving the fixture's registry.
func (f *dockercfgFixture) provider() harness.Provider {
	return harness.NewProvider(harness.Dockercfg, []string{f.reg.Addr}, nil, "--config="+f.config)
}

func TestDockercfgCheckThenPull(t *testing.T) {
	f := newDockercfgFixture(t)
	node := newNode(t, f.provider())
	ctx := context.Background()

	img := check(t, node, f.image)
	if img.Status != kubelet.StatusOK || img.Normalized != f.reg.Addr+"/e2e/app" {
		t.Fatalf("Check(%q) = %s, want status ok for %s/e2e/app", f.image, describe(img), f.reg.Addr)
	}
	p, _ := harness.ProviderOf(img, harness.Dockercfg)
	if p == nil || !p.Matched || p.Exec == nil || p.Exec.ExitCode != 0 || p.Answer == nil {
		t.Fatalf("Check(%q): provider %s not matched, run and answered: %s", f.image, harness.Dockercfg, describe(img))
	}
	if p.Answer.CacheKeyType != string(providers.CacheKeyRegistry) && p.Answer.CacheKeyType != string(providers.CacheKeyImage) && p.Answer.CacheKeyType != string(providers.CacheKeyGlobal) {
		t.Errorf("Check(%q): cacheKeyType %q", f.image, p.Answer.CacheKeyType)
	}
	if diff := cmp.Diff([]harness.Credential{f.user}, credentials(img)); diff != "" {
		t.Fatalf("Check(%q) credentials (-want +got):\n%s", f.image, diff)
	}

	pulled, err := f.reg.Pull(ctx, f.image, &credentials(img)[0])
	if err != nil {
		t.Fatalf("Pull(%q) with the credentials pullkeys check returned = %v", f.image, err)
	}
	if pulled.Layers != 2 {
		t.Errorf("Pull(%q) = %+v, want 2 layers", f.image, pulled)
	}
	if _, err := f.reg.Pull(ctx, f.image, nil); !harness.IsUnauthorized(err) {
		t.Errorf("Pull(%q) anonymously = %v, want 401", f.image, err)
	}
}

func TestDockercfgWrongPasswordIsRefused(t *testing.T) {
	f := newDockercfgFixture(t)
	wrong := harness.Credential{Username: f.user.Username, Password: f.user.Password + "x"}
	if err := harness.WriteDockerConfig(f.config, map[string]harness.Credential{f.reg.Addr: wrong}); err != nil {
		t.Fatal(err)
	}
	node := newNode(t, f.provider())
	img := check(t, node, f.image)
	// The plugin cannot know the password is wrong: it hands it over, the registry refuses it.
	if diff := cmp.Diff([]harness.Credential{wrong}, credentials(img)); diff != "" {
		t.Fatalf("Check(%q) credentials (-want +got):\n%s", f.image, diff)
	}
	if _, err := f.reg.Pull(context.Background(), f.image, &credentials(img)[0]); !harness.IsUnauthorized(err) {
		t.Errorf("Pull(%q) with a wrong password = %v, want 401", f.image, err)
	}
}

// TestDockercfgPullkeysBinary runs the pullkeys command itself, as a person debugging a node
// does, and pulls with what its JSON report holds.
func TestDockercfgPullkeysBinary(t *testing.T) {
	f := newDockercfgFixture(t)
	node := newNode(t, f.provider())
	ctx := context.Background()

	res, err := node.CheckBinary(ctx, nil, f.image)
	if err != nil {
		t.Fatalf("pullkeys check -o json %s: %v", f.image, err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("pullkeys check -o json %s: exit %d, stderr %s", f.image, res.ExitCode, res.Stderr)
	}
	img, err := harness.ImageOf(res.Report, f.image)
	if err != nil {
		t.Fatalf("pullkeys check -o json %s: %v", f.image, err)
	}
	if diff := cmp.Diff([]harness.Credential{f.user}, credentials(img)); diff != "" {
		t.Fatalf("pullkeys check -o json %s credentials (-want +got):\n%s", f.image, diff)
	}
	if _, err := f.reg.Pull(ctx, f.image, &credentials(img)[0]); err != nil {
		t.Errorf("Pull(%q) with the credentials of pullkeys check -o json = %v", f.image, err)
	}

	// Without --show-secrets, neither output holds the password.
	for _, args := range [][]string{
		{"check", "--config", node.Config, "--bin-dir", node.BinDir, f.image},
		{"check", "--config", node.Config, "--bin-dir", node.BinDir, "-o", "json", f.image},
	} {
		stdout, stderr, code, err := node.Pullkeys(ctx, nil, args...)
		if err != nil || code != 0 {
			t.Fatalf("pullkeys %s: exit %d, %v, stderr %s", strings.Join(args, " "), code, err, stderr)
		}
		if bytes.Contains(stdout, []byte(f.user.Password)) || bytes.Contains(stderr, []byte(f.user.Password)) {
			t.Errorf("pullkeys %s: the output shows the password", strings.Join(args, " "))
		}
		if !bytes.Contains(stdout, []byte(f.user.Username)) {
			t.Errorf("pullkeys %s: the output does not name the user %q:\n%s", strings.Join(args, " "), f.user.Username, stdout)
		}
	}
}

// TestDockercfgByHand is the debugging recipe of the docs: `pullkeys request IMAGE | plugin`.
func TestDockercfgByHand(t *testing.T) {
	f := newDockercfgFixture(t)
	node := newNode(t, f.provider())
	ctx := context.Background()
	for _, version := range []string{"v1", "v1beta1", "v1alpha1"} {
		t.Run(version, func(t *testing.T) {
			req, stderr, code, err := node.Pullkeys(ctx, nil, "request", "--api-version", version, f.image)
			if err != nil || code != 0 {
				t.Fatalf("pullkeys request --api-version %s %s: exit %d, %v, stderr %s", version, f.image, code, err, stderr)
			}
			out, stderr, code, err := node.RunPlugin(ctx, harness.Dockercfg, []string{"--config=" + f.config}, nil, req)
			if err != nil || code != 0 {
				t.Fatalf("%s --config=…: exit %d, %v, stderr %s", harness.Dockercfg, code, err, stderr)
			}
			if len(stderr) != 0 {
				t.Errorf("%s: stderr %q, want nothing from a healthy plugin", harness.Dockercfg, stderr)
			}
			resp, err := providers.DecodeResponse(out, "credentialprovider.kubelet.k8s.io/"+version)
			if err != nil {
				t.Fatalf("DecodeResponse(plugin stdout, %s) = %v", version, err)
			}
			a, ok := resp.Auth[f.reg.Addr]
			if !ok {
				t.Fatalf("response auth keys = %v, want %s", keys(resp.Auth), f.reg.Addr)
			}
			if _, err := f.reg.Pull(ctx, f.image, &harness.Credential{Username: a.Username, Password: a.Password}); err != nil {
				t.Errorf("Pull(%q) with the plugin's answer = %v", f.image, err)
			}
		})
	}
}

// TestDockercfgAPIVersions: the kubelet writes the request in the provider's configured
// apiVersion and rejects an answer in another one; each version works end to end.
func TestDockercfgAPIVersions(t *testing.T) {
	f := newDockercfgFixture(t)
	for _, version := range providers.APIVersions() {
		t.Run(version, func(t *testing.T) {
			p := f.provider()
			p.APIVersion = version
			img := check(t, newNode(t, p), f.image)
			if img.Status != kubelet.StatusOK || len(img.Credentials) != 1 {
				t.Fatalf("Check(%q) with apiVersion %s = %s, want one credential", f.image, version, describe(img))
			}
			if _, err := f.reg.Pull(context.Background(), f.image, &credentials(img)[0]); err != nil {
				t.Errorf("Pull(%q) = %v", f.image, err)
			}
		})
	}
}

// TestDockercfgKeyForms: the docker config keys `docker login` and people write, and what the
// kubelet makes of them for an image on the registry.
func TestDockercfgKeyForms(t *testing.T) {
	f := newDockercfgFixture(t)
	push(t, f.reg, "other/app", "v1")
	tests := []struct {
		name     string
		key      string
		image    string
		wantCred bool
	}{
		{name: "host:port", key: f.reg.Addr, image: f.image, wantCred: true},
		{name: "https URL", key: "https://" + f.reg.Addr, image: f.image, wantCred: true},
		{name: "v1 path means host only", key: "https://" + f.reg.Addr + "/v1/", image: f.image, wantCred: true},
		{name: "path prefix matches", key: f.reg.Addr + "/e2e", image: f.image, wantCred: true},
		{name: "path prefix is a string prefix", key: f.reg.Addr + "/e2", image: f.image, wantCred: true},
		{name: "other path gets nothing", key: f.reg.Addr + "/other", image: f.image},
		{name: "key without the port gets nothing", key: "127.0.0.1", image: f.image},
		{name: "digest reference", key: f.reg.Addr, image: f.reg.Addr + "/other/app@" + digestOf(t, f.reg), wantCred: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := filepath.Join(t.TempDir(), "config.json")
			if err := harness.WriteDockerConfig(config, map[string]harness.Credential{tt.key: f.user}); err != nil {
				t.Fatal(err)
			}
			node := newNode(t, harness.NewProvider(harness.Dockercfg, []string{f.reg.Addr}, nil, "--config="+config))
			img := check(t, node, tt.image)
			_, _, pullErr := f.reg.PullWithAny(context.Background(), tt.image, credentials(img))
			if !tt.wantCred {
				if len(img.Credentials) != 0 || !harness.IsUnauthorized(pullErr) {
					t.Errorf("key %q, image %q: %s, pull %v; want no credential and a 401", tt.key, tt.image, describe(img), pullErr)
				}
				return
			}
			if len(img.Credentials) != 1 || pullErr != nil {
				t.Errorf("key %q, image %q: %s, pull %v; want one credential that pulls", tt.key, tt.image, describe(img), pullErr)
			}
		})
	}
}

// TestDockercfgNotMatched: an image the provider's matchImages do not match gets no exec and no
// credentials, and pullkeys says which rule failed.
func TestDockercfgNotMatched(t *testing.T) {
	f := newDockercfgFixture(t)
	_, port, _ := strings.Cut(f.reg.Addr, ":")
	tests := []struct {
		name        string
		matchImages []string
		image       string
		wantReason  string
	}{
		{name: "localhost is not 127.0.0.1", matchImages: []string{f.reg.Addr}, image: "localhost:" + port + "/e2e/app:v1", wantReason: "label count"},
		{name: "no port in the pattern", matchImages: []string{"127.0.0.1"}, image: f.image, wantReason: "port"},
		{name: "another path", matchImages: []string{f.reg.Addr + "/team"}, image: f.image, wantReason: "path"},
		{name: "https scheme never matches", matchImages: []string{"https://" + f.reg.Addr}, image: f.image},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := newNode(t, harness.NewProvider(harness.Dockercfg, tt.matchImages, nil, "--config="+f.config))
			img := check(t, node, tt.image)
			p, _ := harness.ProviderOf(img, harness.Dockercfg)
			if p == nil || p.Matched || p.Exec != nil || len(img.Credentials) != 0 || img.Status != kubelet.StatusNoCredentials {
				t.Fatalf("Check(%q) with matchImages %v = %s, want no match, no exec, no credentials", tt.image, tt.matchImages, describe(img))
			}
			if tt.wantReason != "" && (len(p.MatchImages) != 1 || p.MatchImages[0].Reason != tt.wantReason) {
				t.Errorf("Check(%q) with matchImages %v: reasons %+v, want %q", tt.image, tt.matchImages, p.MatchImages, tt.wantReason)
			}
			if _, err := f.reg.Pull(context.Background(), tt.image, nil); !harness.IsUnauthorized(err) {
				t.Errorf("Pull(%q) without credentials = %v, want 401", tt.image, err)
			}
		})
	}
}

func digestOf(t *testing.T, reg *harness.Registry) string {
	t.Helper()
	img, err := reg.Image()
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
