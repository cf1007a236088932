package ecr

import (
	"testing"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/mirror/mirrortest"
)

// TestExecuteMirror: an image on an upstream is answered with the token of the ECR
// pull-through cache, fetched from (fake) ECR for the mirror's registry and keyed for the
// upstream host the kubelet asked about.
func TestExecuteMirror(t *testing.T) {
	cacheURL := "https://" + privateHost + "/v2/docker-hub"
	safe, unsafe := mirrortest.Safe(cacheURL), mirrortest.NoServer(cacheURL)
	for _, tc := range []struct {
		name      string
		image     string
		args      func(t *testing.T) []string
		wantKey   string // "" for a failure
		wantInErr string
	}{
		{name: "docker.io short name", image: "nginx:1.27",
			args: func(*testing.T) []string { return []string{"--mirror=docker.io=" + privateHost + "/docker-hub"} }, wantKey: "docker.io"},
		{name: "registry.k8s.io", image: "registry.k8s.io/pause:3.10",
			args: func(*testing.T) []string {
				return []string{"--mirror", "docker.io=" + privateHost + "/docker-hub", "--mirror", "registry.k8s.io=" + privateHost + "/k8s"}
			}, wantKey: "registry.k8s.io"},
		{name: "own registry still answered", image: privateImg,
			args: func(*testing.T) []string { return []string{"--mirror=docker.io=" + privateHost + "/docker-hub"} }, wantKey: privateHost},
		{name: "discovered from hosts.toml", image: "docker.io/bitnami/redis",
			args: func(t *testing.T) []string {
				return []string{"--containerd-hosts-dir=" + mirrortest.HostsDir(t, map[string]string{"docker.io": safe})}
			}, wantKey: "docker.io"},
		{name: "upstream lookalike gets nothing", image: "docker.io.evil.example/library/nginx",
			args:      func(*testing.T) []string { return []string{"--mirror=docker.io=" + privateHost + "/docker-hub"} },
			wantInErr: "not an ECR registry"},
		{name: "other upstream gets nothing", image: "quay.io/coreos/etcd",
			args:      func(*testing.T) []string { return []string{"--mirror=docker.io=" + privateHost + "/docker-hub"} },
			wantInErr: "not an ECR registry"},
		{name: "upstream fallback refused", image: "nginx",
			args: func(t *testing.T) []string {
				return []string{"--mirror=docker.io=" + privateHost + "/docker-hub", "--containerd-hosts-dir=" + mirrortest.HostsDir(t, map[string]string{"docker.io": unsafe})}
			}, wantInErr: "registry-1.docker.io would receive the credential"},
		{name: "upstream fallback acknowledged", image: "nginx",
			args: func(t *testing.T) []string {
				return []string{"--mirror=docker.io=" + privateHost + "/docker-hub", "--containerd-hosts-dir=" + mirrortest.HostsDir(t, map[string]string{"docker.io": unsafe}), "--mirror-allow-upstream-fallback"}
			}, wantKey: "docker.io"},
		{name: "mirror not an ECR host refused at start-up", image: privateImg,
			args:      func(*testing.T) []string { return []string{"--mirror=docker.io=mirror.corp.example/docker-hub"} },
			wantInErr: "--mirror docker.io=mirror.corp.example/docker-hub: mirror is not served by this provider"},
		{name: "mirror an ECR lookalike refused at start-up", image: privateImg,
			args: func(*testing.T) []string {
				return []string{"--mirror=docker.io=" + privateHost + ".evil.example/docker-hub"}
			},
			wantInErr: "not an ECR registry"},
		{name: "upstream wildcard over a public suffix refused", image: privateImg,
			args:      func(*testing.T) []string { return []string{"--mirror=*.io=" + privateHost + "/x"} },
			wantInErr: "wildcard covers a public suffix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, realClock())
			code, stdout, stderr := execute(t, request(t, providers.APIVersionV1, tc.image, "", nil), tc.args(t)...)
			resp := mirrortest.Answer(t, code, stdout, stderr, tc.wantInErr)
			if resp == nil {
				if n := e.srv.Calls(ecrtest.GetAuthorizationToken); n != 0 {
					t.Errorf("GetAuthorizationToken called %d times, want none", n)
				}
				return
			}
			reqs := e.srv.Requests(ecrtest.GetAuthorizationToken)
			if len(reqs) != 1 || reqs[0].Region != "us-west-2" || len(resp.Auth) != 1 || resp.Auth[tc.wantKey].Password != reqs[0].Password {
				t.Fatalf("answer keys %v, ECR calls %+v; want the mirror registry's one token keyed %q", keys(resp.Auth), reqs, tc.wantKey)
			}
			if resp.CacheKeyType != providers.CacheKeyRegistry {
				t.Errorf("cacheKeyType = %q, want Registry", resp.CacheKeyType)
			}
		})
	}
}
