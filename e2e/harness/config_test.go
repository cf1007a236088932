package harness

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/dockercfg"
)

func ExampleConfigYAML() {
	p := NewProvider(Dockercfg, []string{"registry.example.com"}, map[string]string{"HOME": "/var/lib/kubelet"},
		"--config=/etc/kubernetes/docker-config.json")
	data, err := ConfigYAML(p)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(data))
	// Output:
	// apiVersion: kubelet.config.k8s.io/v1
	// kind: CredentialProviderConfig
	// providers:
	// - apiVersion: credentialprovider.kubelet.k8s.io/v1
	//   args:
	//   - --config=/etc/kubernetes/docker-config.json
	//   defaultCacheDuration: 10m0s
	//   env:
	//   - name: HOME
	//     value: /var/lib/kubelet
	//   matchImages:
	//   - registry.example.com
	//   name: dockercfg-credential-provider
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatalf("ModuleRoot(.) = %v", err)
	}
	if got, err := ModuleRoot(filepath.Join(root, "providers", "keyring")); err != nil || got != root {
		t.Errorf("ModuleRoot(%s/providers/keyring) = %q, %v; want %q", root, got, err, root)
	}
	if _, err := ModuleRoot(t.TempDir()); err != ErrNoModuleRoot {
		t.Errorf("ModuleRoot(a temporary directory) = %v, want ErrNoModuleRoot", err)
	}
}

// FuzzDockerConfigRoundTrip: whatever credential the suite writes into a docker config (as
// docker login writes it, base64 "user:password" in auth), the dockercfg provider reads back
// unchanged, so an e2e failure is never the harness's own writing.
func FuzzDockerConfigRoundTrip(f *testing.F) {
	f.Add("alice", "s3cret")
	f.Add("AWS", strings.Repeat("x", 2048))
	f.Add("oauth2accesstoken", "ya29.a0-_~+/=")
	f.Add("user", "pass:with:colons")
	f.Add("üser", "pässword with spaces")
	f.Fuzz(func(t *testing.T, user, password string) {
		// docker splits "auth" at the first colon: a user name cannot hold one.
		if user == "" || strings.Contains(user, ":") || !utf8.ValidString(user) || !utf8.ValidString(password) {
			t.Skip()
		}
		path := filepath.Join(t.TempDir(), "config.json")
		want := Credential{Username: user, Password: password}
		if err := WriteDockerConfig(path, map[string]Credential{"127.0.0.1:5000": want}); err != nil {
			t.Fatalf("WriteDockerConfig() = %v", err)
		}
		cfg, err := dockercfg.LoadFile(path)
		if err != nil {
			t.Fatalf("dockercfg.LoadFile() = %v", err)
		}
		if len(cfg.Entries) != 1 {
			t.Fatalf("dockercfg.LoadFile() entries = %d (warnings %v), want 1", len(cfg.Entries), cfg.Warnings)
		}
		got := Credential{Username: cfg.Entries[0].Username, Password: cfg.Entries[0].Password}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("round trip (-written +read):\n%s", diff)
		}
	})
}
