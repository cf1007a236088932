package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/providers/mirror/mirrortest"
)

func TestValidateMirrors(t *testing.T) {
	t.Parallel()
	config := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(config, []byte(`apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
- name: dockercfg-credential-provider
  matchImages: ["docker.io", "mirror.corp.example"]
  defaultCacheDuration: 5m
  apiVersion: credentialprovider.kubelet.k8s.io/v1
  args: ["--mirror=docker.io=mirror.corp.example"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		hosts    string
		wantCode int
		want     []string
	}{
		{name: "mirror is the server", hosts: mirrortest.Safe("https://mirror.corp.example"), wantCode: 0,
			want: []string{"valid"}},
		{name: "upstream fallback", hosts: mirrortest.NoServer("https://mirror.corp.example"), wantCode: 1,
			want: []string{"error: ", "hosts.toml: Credential leak: dockercfg-credential-provider answers for docker.io", "the upstream registry-1.docker.io receives it", `set server = "https://mirror.corp.example/v2"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := mirrortest.HostsDir(t, map[string]string{"docker.io": tt.hosts})
			file := mirrortest.HostsFile(dir, "docker.io")
			code, stdout, stderr := run(t, "", "validate", "--config", config, "--containerd-hosts-dir", dir)
			if code != tt.wantCode {
				t.Fatalf("validate = %d, want %d; stdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			if tt.wantCode != 0 && !strings.Contains(stdout, file) {
				t.Errorf("validate does not name %s:\n%s", file, stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("validate output lacks %q:\n%s", w, stdout)
				}
			}
		})
	}
}

func TestCheckContainerdHostsDir(t *testing.T) {
	t.Parallel()
	config, bin := setup(t)
	dir := mirrortest.HostsDir(t, map[string]string{"docker.io": mirrortest.NoServer("https://mirror.corp.example")})
	file := mirrortest.HostsFile(dir, "docker.io")
	code, stdout, stderr := run(t, "", "check", "--config", config, "--bin-dir", bin, "--containerd-hosts-dir", dir, "nginx")
	if code != 0 {
		t.Fatalf("check = %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, w := range []string{
		"containerd (" + file + ") tries, in order, each receiving every credential above:",
		"1. https://mirror.corp.example/v2 (mirror): pulls mirror.corp.example/library/nginx; needs a credential for mirror.corp.example/library/nginx",
		"2. https://registry-1.docker.io/v2 (upstream): pulls docker.io/library/nginx",
		"receives: docker.io (from fakeplugin-ok)",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("check output lacks %q:\n%s", w, stdout)
		}
	}
}
