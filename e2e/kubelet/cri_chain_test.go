package kubelet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	configv1 "k8s.io/kubelet/config/v1"
	"k8s.io/kubernetes/pkg/kubelet/images"

	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/pullsecret"
)

// criRegistry is a scenario's registry and the image containerd is to pull from it.
type criRegistry struct {
	reg    *harness.Registry
	host   string // the image's registry host, as the pod names it
	repo   string // host/path, no tag
	image  string // repo:v1
	digest string
}

// serveImage starts a registry (token authentication or basic), pushes an image to it and
// makes containerd pull every image named on host from it (hosts.toml: server = the
// registry's loopback address, ca = its CA). path is the repository path on host.
func serveImage(t *testing.T, node *criNode, host, path string, tokenAuth bool, users map[string]string) *criRegistry {
	t.Helper()
	ctx := context.Background()
	reg, err := harness.StartRegistry(ctx, harness.RegistryOptions{Users: users, TokenAuth: tokenAuth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	d, err := reg.Push(ctx, path, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := node.c.Serve(reg, host); err != nil {
		t.Fatal(err)
	}
	r := &criRegistry{reg: reg, host: host, repo: host + "/" + path, image: host + "/" + path + ":v1", digest: d.String()}
	t.Cleanup(func() {
		_ = node.c.RemoveHosts(host)
		_ = node.c.RemoveImage(context.Background(), r.image)
	})
	return r
}

// pulled checks that containerd has the image with the registry's digest (CRI ImageStatus).
func (r *criRegistry) pulled(t *testing.T, node *criNode, k kubeletPull) {
	t.Helper()
	if k.Err != nil {
		t.Fatalf("EnsureImageExists(%q) = %v (%s), want success\n%s", r.image, k.Err, k.Message, k.describe())
	}
	img, err := node.c.ImageStatus(context.Background(), r.image)
	if err != nil {
		t.Fatalf("ImageStatus(%q) = %v", r.image, err)
	}
	if !harness.HasDigest(img, r.repo, r.digest) {
		t.Fatalf("ImageStatus(%q) = %v, want %s@%s", r.image, img, r.repo, r.digest)
	}
	if k.ImageRef != img.Id {
		t.Errorf("EnsureImageExists(%q) = image ref %q, ImageStatus says %q", r.image, k.ImageRef, img.Id)
	}
}

// refused checks that the pull failed with the registry's 401, as the kubelet reports it.
func (r *criRegistry) refused(t *testing.T, k kubeletPull) {
	t.Helper()
	if k.Err == nil {
		t.Fatalf("EnsureImageExists(%q) succeeded, want the registry's 401\n%s", r.image, k.describe())
	}
	if !errors.Is(k.Err, images.ErrImagePull) || !strings.Contains(k.Message, "401 Unauthorized") {
		t.Fatalf("EnsureImageExists(%q) = %v (%s), want ErrImagePull with the registry's 401", r.image, k.Err, k.Message)
	}
	var failed bool
	for _, e := range k.Events {
		failed = failed || (strings.HasPrefix(e, "Warning Failed Failed to pull image") && strings.Contains(e, "401 Unauthorized"))
	}
	if !failed {
		t.Errorf("no Failed event with the 401 among the pod's events:\n%s", k.describe())
	}
	// What an operator sees: kubectl describe pod.
	t.Logf("kubectl describe pod shows:\n%s", k.describe())
}

// onlyRegistryGot checks where secret went (scenario 5): to the registry's own address only
// (basic auth: on /v2/; token auth: only to its token endpoint, and /v2/ saw bearer tokens
// only), and never to the catch-all that serves every other host on loopback.
func (r *criRegistry) onlyRegistryGot(t *testing.T, node *criNode, secret string, tokenAuth bool) {
	t.Helper()
	seen := r.reg.Requests()
	carrying := harness.Carrying(seen, secret)
	if len(carrying) == 0 {
		t.Fatalf("the registry never received the credential; it saw %v", seen)
	}
	for _, q := range carrying {
		switch {
		case q.Host != r.reg.Addr:
			t.Errorf("the credential reached the registry as Host %q, want %s", q.Host, r.reg.Addr)
		case tokenAuth && q.Path != "/token":
			t.Errorf("token auth: the credential was sent to %s %s, want only the token endpoint", q.Method, q.Path)
		case !tokenAuth && !strings.HasPrefix(q.Path, "/v2/"):
			t.Errorf("the credential was sent to %s %s", q.Method, q.Path)
		}
	}
	if tokenAuth {
		for _, q := range seen {
			if strings.HasPrefix(q.Path, "/v2/") && q.Auth.Scheme != "" && q.Auth.Scheme != "Bearer" {
				t.Errorf("token auth: %s %s carried %s, want bearer tokens only", q.Method, q.Path, q.Auth.Scheme)
			}
		}
	}
	if got := harness.Carrying(node.catchAll.Requests(), secret); len(got) != 0 {
		t.Errorf("the catch-all for every other host received the credential: %v", got)
	}
}

// criProvider sets up one provider of the root module for a scenario and returns its config
// entry, the image host it answers for, the path of the image and, once the kubelet has
// asked it (prime), the credential the cloud issued, which the registry then accepts.
type criProvider struct {
	name  string
	setup func(t *testing.T, s *scenario) (p configv1.CredentialProvider, host, path string, users map[string]string, issued func() harness.Credential)
}

var criProviders = []criProvider{
	{name: "dockercfg", setup: func(t *testing.T, s *scenario) (configv1.CredentialProvider, string, string, map[string]string, func() harness.Credential) {
		host := "reg." + s.domain
		password := "pw-" + harness.RandomString(16)
		config := filepath.Join(t.TempDir(), "config.json")
		writeJSON(t, config, map[string]any{"auths": map[string]any{host: map[string]string{"username": "alice", "password": password}}})
		p := s.real(Dockercfg, "*."+s.domain)
		p.Args = []string{"--config=" + config}
		return p, host, "team/app", map[string]string{"alice": password}, func() harness.Credential { return harness.Credential{Username: "alice", Password: password} }
	}},
	{name: "ecr", setup: func(t *testing.T, s *scenario) (configv1.CredentialProvider, string, string, map[string]string, func() harness.Credential) {
		srv := ecrtest.Start(t)
		srv.Setenv(t)
		host := s.ecrHost(5)
		p := s.realECR(t, srv, host)
		return p, host, "team/app", nil, func() harness.Credential {
			reqs := srv.Requests(ecrtest.GetAuthorizationToken)
			if len(reqs) == 0 {
				t.Fatal("the fake ECR issued no token")
			}
			return harness.Credential{Username: "AWS", Password: reqs[0].Password}
		}
	}},
	{name: "gcr", setup: func(t *testing.T, s *scenario) (configv1.CredentialProvider, string, string, map[string]string, func() harness.Credential) {
		md := gcrtest.NewMetadata()
		t.Cleanup(md.Close)
		project := s.id + "-project"
		p := s.real(GCR, "gcr.io/"+project)
		p.Args = []string{"--cache-dir=" + t.TempDir()}
		p.Env = []configv1.ExecEnvVar{{Name: "GCE_METADATA_HOST", Value: md.Host()}}
		return p, "gcr.io", project + "/app", nil, func() harness.Credential {
			issued := md.Issued()
			if len(issued) == 0 {
				t.Fatal("the fake metadata server issued no token")
			}
			return harness.Credential{Username: gcr.Username, Password: issued[0]}
		}
	}},
}

// TestCRIProviders is scenarios 1, 4 and 5: for each provider, each apiVersion the kubelet
// can be configured with, and a registry with basic or token authentication, the kubelet's
// code gets the provider's answer, hands it to containerd, and containerd pulls the image
// (ImageStatus lists the registry's digest). The registry accepts only what the cloud fake
// issued. The credential reaches the registry and nothing else.
func TestCRIProviders(t *testing.T) {
	node := sharedCRI(t)
	type variant struct {
		apiVersion string
		tokenAuth  bool
	}
	var variants []variant
	for _, v := range providers.APIVersions() {
		variants = append(variants, variant{apiVersion: v})
	}
	variants = append(variants, variant{apiVersion: providers.APIVersionV1, tokenAuth: true})
	for _, prov := range criProviders {
		for _, v := range variants {
			auth := "basic auth"
			if v.tokenAuth {
				auth = "token auth"
			}
			t.Run(fmt.Sprintf("%s/%s/%s", prov.name, strings.TrimPrefix(v.apiVersion, "credentialprovider.kubelet.k8s.io/"), auth), func(t *testing.T) {
				s := newScenario(t)
				p, host, path, users, issued := prov.setup(t, s)
				p.APIVersion = v.apiVersion
				s.register(nil, p)
				r := serveImage(t, node, host, path, v.tokenAuth, users)

				// The kubelet asks the provider (and caches its answer, as on a node); the
				// registry then accepts exactly what the cloud issued.
				got := lookup(t, r.image, pod{})
				want := issued()
				if len(got) != 1 || got[0] != (cred{want.Username, want.Password}) {
					// Not fatal: the pull below shows what the runtime makes of it (the 401).
					t.Errorf("kubelet Lookup(%q) = %d credentials for users %v, want exactly the one the cloud issued to %q", r.image, len(got), usernames(got), want.Username)
				}
				if users == nil {
					if err := r.reg.AddUser(want.Username, want.Password); err != nil {
						t.Fatal(err)
					}
				}

				k := ensureImage(t, node.c.Images, r.image, pod{}, nil)
				r.pulled(t, node, k)
				if diff := cmp.Diff([]string{want.Username + ":issued"}, passwordsHanded(k.Auths, map[string]string{"issued": want.Password})); diff != "" {
					t.Errorf("AuthConfigs handed to containerd (-want +got):\n%s", diff)
				}
				for _, a := range k.Auths {
					if a != nil && a.ServerAddress != "" {
						t.Errorf("AuthConfig.ServerAddress = %q, want empty for a provider's answer", a.ServerAddress)
					}
				}
				r.onlyRegistryGot(t, node, want.Password, v.tokenAuth)
			})
		}
	}
}

func usernames(cs []cred) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Username)
	}
	return out
}

// TestCRIPullFails is scenario 2 and the deliberate break: when the kubelet has no
// credential for the image, or a wrong one, containerd's pull fails with the registry's 401,
// and the pod's events say so.
func TestCRIPullFails(t *testing.T) {
	node := sharedCRI(t)
	tests := []struct {
		name            string
		wantPluginError bool // the kubelet's log has the plugin's failure
		setup           func(t *testing.T, s *scenario) (host string, users map[string]string, wantAuths []string)
	}{
		{name: "no provider matches the image", setup: func(t *testing.T, s *scenario) (string, map[string]string, []string) {
			p := s.fake()
			p.MatchImages = []string{"reg." + s.domain} // the image is on other.<domain>
			s.register(nil, p)
			return "other." + s.domain, map[string]string{"alice": "pw-" + harness.RandomString(12)}, []string{"(none)"}
		}},
		{name: "the plugin fails (ECR AccessDenied)", wantPluginError: true, setup: func(t *testing.T, s *scenario) (string, map[string]string, []string) {
			srv := ecrtest.Start(t)
			srv.Setenv(t)
			srv.Inject(ecrtest.GetAuthorizationToken, ecrtest.AccessDenied, -1)
			host := s.ecrHost(6)
			s.register(nil, s.realECR(t, srv, host))
			return host, map[string]string{"AWS": "pw-" + harness.RandomString(12)}, []string{"(none)"}
		}},
		{name: "deliberate break: the plugin answers a wrong password", setup: func(t *testing.T, s *scenario) (string, map[string]string, []string) {
			p := s.fake("FAKE_AUTH", `{"{registry}":{"username":"alice","password":"wrong-password"}}`)
			s.register(nil, p)
			return "reg." + s.domain, map[string]string{"alice": "right-" + harness.RandomString(12)}, []string{"alice:(unknown password)"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScenario(t)
			host, users, wantAuths := tt.setup(t, s)
			r := serveImage(t, node, host, "team/app", false, users)
			mark := kubeletLog.Len()
			k := ensureImage(t, node.c.Images, r.image, pod{}, nil)
			r.refused(t, k)
			if diff := cmp.Diff(wantAuths, passwordsHanded(k.Auths, nil)); diff != "" {
				t.Errorf("AuthConfigs handed to containerd (-want +got):\n%s", diff)
			}
			if tt.wantPluginError {
				if logged := kubeletLog.Since(mark); !strings.Contains(logged, kubeletRejected) {
					t.Errorf("the kubelet's log lacks the plugin's failure:\n%s", logged)
				}
			}
			for _, q := range r.reg.Requests() {
				if q.Status == 200 && strings.Contains(q.Path, "/manifests/") {
					t.Errorf("the registry served %s %s to a pull that had no right credential", q.Method, q.Path)
				}
			}
		})
	}
}

// TestCRISecretAndProvider is scenario 3: a pod's pull Secret (as `pullkeys secret create`
// writes it) and a node provider's answer for the same registry. The kubelet hands the
// runtime both, the Secret's first (credentialprovider/secrets.MakeDockerKeyring puts the
// Secrets before the node's keyrings); containerd tries them in that order and the pull
// succeeds with the right one.
func TestCRISecretAndProvider(t *testing.T) {
	node := sharedCRI(t)
	tests := []struct {
		name             string
		secretIsRight    bool
		wantAuths        []string
		wantWrongAtFirst bool
	}{
		{name: "stale Secret first, provider right second", wantAuths: []string{"alice:secret", "alice:provider"}, wantWrongAtFirst: true},
		{name: "Secret right: the provider's answer is never tried", secretIsRight: true, wantAuths: []string{"alice:secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScenario(t)
			host := "reg." + s.domain
			right := "right-" + harness.RandomString(16)
			wrong := "stale-" + harness.RandomString(16)
			secretPw, providerPw := wrong, right
			if tt.secretIsRight {
				secretPw, providerPw = right, wrong
			}
			config := filepath.Join(t.TempDir(), "config.json")
			writeJSON(t, config, map[string]any{"auths": map[string]any{host: map[string]string{"username": "alice", "password": providerPw}}})
			p := s.real(Dockercfg, "*."+s.domain)
			p.Args = []string{"--config=" + config}
			s.register(nil, p)
			r := serveImage(t, node, host, "team/app", false, map[string]string{"alice": right})

			data, err := pullsecret.Create("regcred", "default", []pullsecret.Auth{{Server: host, Username: "alice", Password: secretPw}}, "json")
			if err != nil {
				t.Fatalf("pullsecret.Create: %v", err)
			}
			var secret corev1.Secret
			if err := json.Unmarshal(data, &secret); err != nil {
				t.Fatalf("the Secret pullkeys secret create writes: %v", err)
			}

			k := ensureImage(t, node.c.Images, r.image, pod{}, []corev1.Secret{secret})
			r.pulled(t, node, k)
			got := passwordsHanded(k.Auths, map[string]string{"secret": secretPw, "provider": providerPw})
			if diff := cmp.Diff(tt.wantAuths, got); diff != "" {
				t.Errorf("AuthConfigs handed to containerd, in order (-want +got):\n%s", diff)
			}
			seen := r.reg.Requests()
			firstWrong, firstRight := -1, -1
			for i, q := range seen {
				if string(q.Auth.Secret) == wrong && firstWrong < 0 {
					firstWrong = i
				}
				if string(q.Auth.Secret) == right && firstRight < 0 {
					firstRight = i
				}
			}
			if firstRight < 0 {
				t.Fatalf("the registry never received the right password: %v", seen)
			}
			if tt.wantWrongAtFirst != (firstWrong >= 0 && firstWrong < firstRight) {
				t.Errorf("the registry received the stale password at request %d and the right one at %d; want the stale one first: %v", firstWrong, firstRight, tt.wantWrongAtFirst)
			}
			r.onlyRegistryGot(t, node, right, false)
		})
	}
}
