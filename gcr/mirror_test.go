package gcr

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/mirror/mirrortest"
)

// TestExecuteMirror: an image on an upstream is answered with the node's token, which the
// Artifact Registry remote repository accepts, keyed for the upstream host; the answer is
// keyed by registry, never Global, so that the kubelet does not reuse one for the other.
func TestExecuteMirror(t *testing.T) {
	remote := "docker.io=us-docker.pkg.dev/my-project/dockerhub-remote"
	arURL := "https://us-docker.pkg.dev/v2/my-project/dockerhub-remote"
	for _, tc := range []struct {
		name      string
		image     string
		args      func(t *testing.T) []string
		want      map[string]providers.AuthConfig
		wantInErr string
	}{
		{name: "docker.io image", image: "nginx", args: func(*testing.T) []string { return []string{"--mirror=" + remote} },
			want: tokenAuth([]string{"docker.io"}, "node-token")},
		{name: "own registry: Registry, not Global", image: "gcr.io/p/app", args: func(*testing.T) []string { return []string{"--mirror=" + remote} },
			want: tokenAuth(DefaultRegistries(), "node-token")},
		{name: "discovered from hosts.toml", image: "docker.io/x/y", args: func(t *testing.T) []string {
			return []string{"--containerd-hosts-dir=" + mirrortest.HostsDir(t, map[string]string{"docker.io": mirrortest.Safe(arURL)})}
		}, want: tokenAuth([]string{"docker.io"}, "node-token")},
		{name: "upstream fallback refused", image: "nginx", args: func(t *testing.T) []string {
			return []string{"--mirror=" + remote, "--containerd-hosts-dir=" + mirrortest.HostsDir(t, map[string]string{"docker.io": mirrortest.NoServer(arURL)})}
		}, wantInErr: "registry-1.docker.io would receive the credential"},
		{name: "upstream lookalike gets nothing", image: "docker.io.evil.example/library/nginx", args: func(*testing.T) []string { return []string{"--mirror=" + remote} },
			wantInErr: "not a Google registry"},
		{name: "mirror not a Google registry refused at start-up", image: "gcr.io/p/app",
			args:      func(*testing.T) []string { return []string{"--mirror=docker.io=mirror.corp.example/dockerhub"} },
			wantInErr: "--mirror docker.io=mirror.corp.example/dockerhub: mirror is not served by this provider"},
		{name: "mirror a Google lookalike refused at start-up", image: "gcr.io/p/app",
			args:      func(*testing.T) []string { return []string{"--mirror=docker.io=us-docker.pkg.dev.evil.example/p/r"} },
			wantInErr: "mirror is not served by this provider"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := startMetadata(t)
			md.SetAccount("default", gcrtest.Account{Email: gcrtest.DefaultEmail, Scopes: []string{gcrtest.ScopeCloudPlatform}, Token: "node-token"})
			args := append([]string{"--cache-dir=" + t.TempDir()}, tc.args(t)...)
			code, stdout, stderr := execute(t, args, requestJSON(providers.APIVersionV1, tc.image, ""))
			resp := mirrortest.Answer(t, code, stdout, stderr, tc.wantInErr)
			if resp == nil {
				return
			}
			if diff := cmp.Diff(tc.want, resp.Auth); diff != "" {
				t.Errorf("auth mismatch (-want +got):\n%s", diff)
			}
			if resp.CacheKeyType != providers.CacheKeyRegistry {
				t.Errorf("cacheKeyType = %q, want Registry", resp.CacheKeyType)
			}
		})
	}
}
