package dockercfg

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/mirror/mirrortest"
)

// TestExecuteMirror: an image on an upstream is answered with the docker config's credential
// for the self-hosted mirror, keyed for the upstream; Docker Hub's own credential in the same
// file is not what the mirror gets.
func TestExecuteMirror(t *testing.T) {
	base, _ := isolated(t)
	cfg := writeFile(t, t.TempDir(), "config.json", []byte(`{"auths":{
		"mirror.corp.example":{"username":"mirror-user","password":"mirror-pass"},
		"https://index.docker.io/v1/":{"username":"hub-user","password":"hub-pass"}}}`), 0o600)
	mirrorCreds := providers.AuthConfig{Username: "mirror-user", Password: "mirror-pass"}
	for _, tc := range []struct {
		name      string
		image     string
		args      func(t *testing.T) []string
		want      map[string]providers.AuthConfig
		wantInErr string
	}{
		{name: "docker.io image gets the mirror's credential", image: "nginx",
			args: func(*testing.T) []string {
				return []string{"--config", cfg, "--mirror", "docker.io=mirror.corp.example/dockerhub"}
			},
			want: map[string]providers.AuthConfig{"docker.io": mirrorCreds}},
		{name: "without --mirror Docker Hub's own credential", image: "nginx",
			args: func(*testing.T) []string { return []string{"--config", cfg} },
			want: map[string]providers.AuthConfig{"index.docker.io": {Username: "hub-user", Password: "hub-pass"}}},
		{name: "discovered from hosts.toml", image: "docker.io/x/y", args: func(t *testing.T) []string {
			return []string{"--config", cfg, "--containerd-hosts-dir", mirrortest.HostsDir(t, map[string]string{"docker.io": mirrortest.Safe("https://mirror.corp.example")})}
		}, want: map[string]providers.AuthConfig{"docker.io": mirrorCreds}},
		{name: "upstream fallback refused", image: "nginx", args: func(t *testing.T) []string {
			return []string{"--config", cfg, "--mirror", "docker.io=mirror.corp.example", "--containerd-hosts-dir", mirrortest.HostsDir(t, map[string]string{"docker.io": mirrortest.NoServer("https://mirror.corp.example")})}
		}, wantInErr: "registry-1.docker.io would receive the credential"},
		{name: "upstream lookalike gets nothing", image: "docker.io.evil.example/library/nginx",
			args: func(*testing.T) []string {
				return []string{"--config", cfg, "--mirror", "docker.io=mirror.corp.example"}
			},
			want: map[string]providers.AuthConfig{}},
		{name: "mirror without a credential refused at start-up", image: "nginx",
			args: func(*testing.T) []string {
				return []string{"--config", cfg, "--mirror", "docker.io=other.corp.example"}
			},
			wantInErr: "--mirror docker.io=other.corp.example: mirror is not served by this provider: no entry of " + cfg},
		{name: "mirror lookalike refused at start-up", image: "nginx",
			args: func(*testing.T) []string {
				return []string{"--config", cfg, "--mirror", "docker.io=mirror.corp.example.evil.example"}
			},
			wantInErr: "mirror is not served by this provider"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := execute(t, base, tc.args(t), request(providers.APIVersionV1, tc.image))
			resp := mirrortest.Answer(t, code, stdout, stderr, tc.wantInErr)
			if resp == nil {
				return
			}
			got := resp.Auth
			if got == nil {
				got = map[string]providers.AuthConfig{}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("auth mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
