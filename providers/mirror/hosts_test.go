package mirror

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/providers/mirror/mirrortest"
)

const (
	ecrURL = "https://" + ecrMirror + "/v2/docker-hub"
	// safeECR is the pull-through cache as both the only host and the fallback.
	safeECR = `server = "` + ecrURL + `"
override_path = true

[host."` + ecrURL + `"]
  capabilities = ["pull", "resolve"]
  override_path = true
`
)

func TestLoadHosts(t *testing.T) {
	pr := []string{"pull", "resolve"}
	tests := []struct {
		name     string
		files    map[string]string
		upstream string
		want     []Host // URL, Host, Path, Fallback, IsUpstream (capabilities pull+resolve)
		parseErr string
	}{
		{name: "no hosts.toml: the upstream alone", upstream: "docker.io",
			want: []Host{{URL: "https://registry-1.docker.io/v2", Host: "registry-1.docker.io", Fallback: true, IsUpstream: true}}},
		{name: "ECR pull-through cache, server is the mirror", upstream: "docker.io", files: map[string]string{"docker.io": safeECR},
			want: []Host{
				{URL: ecrURL, Host: ecrMirror, Path: "docker-hub"},
				{URL: ecrURL, Host: ecrMirror, Path: "docker-hub", Fallback: true},
			}},
		{name: "no server line: the upstream is the fallback", upstream: "docker.io", files: map[string]string{"docker.io": `
[host."https://mirror.corp.example"]
  capabilities = ["pull", "resolve"]
`},
			want: []Host{
				{URL: "https://mirror.corp.example/v2", Host: "mirror.corp.example"},
				{URL: "https://registry-1.docker.io/v2", Host: "registry-1.docker.io", Fallback: true, IsUpstream: true},
			}},
		{name: "server is the upstream", upstream: "registry.k8s.io", files: map[string]string{"registry.k8s.io": `server = "https://registry.k8s.io"
[host."https://mirror.corp.example/k8s"]
`},
			want: []Host{
				{URL: "https://mirror.corp.example/k8s/v2", Host: "mirror.corp.example"},
				{URL: "https://registry.k8s.io/v2", Host: "registry.k8s.io", Fallback: true, IsUpstream: true},
			}},
		{name: "hosts in file order, not lexical", upstream: "docker.io", files: map[string]string{"docker.io": `server = "https://z.corp.example"
[host."https://z.corp.example"]
[host."https://a.corp.example"]
`},
			want: []Host{
				{URL: "https://z.corp.example/v2", Host: "z.corp.example"},
				{URL: "https://a.corp.example/v2", Host: "a.corp.example"},
				{URL: "https://z.corp.example/v2", Host: "z.corp.example", Fallback: true},
			}},
		{name: "ca, skip_verify and header sub-tables do not disturb the order", upstream: "docker.io", files: map[string]string{"docker.io": `server = "https://z.corp.example"
[host."https://z.corp.example"]
  ca = "/etc/certs/z.pem"
  skip_verify = false
[host."https://z.corp.example".header]
  x-custom = ["1"]
[host."https://a.corp.example"]
  client = [["/c.cert", "/c.key"]]
`},
			want: []Host{
				{URL: "https://z.corp.example/v2", Host: "z.corp.example"},
				{URL: "https://a.corp.example/v2", Host: "a.corp.example"},
				{URL: "https://z.corp.example/v2", Host: "z.corp.example", Fallback: true},
			}},
		{name: "push-only host is not tried for pulls", upstream: "docker.io", files: map[string]string{"docker.io": `server = "https://m.corp.example"
[host."https://push.corp.example"]
  capabilities = ["push"]
[host."https://m.corp.example"]
`},
			want: []Host{
				{URL: "https://m.corp.example/v2", Host: "m.corp.example"},
				{URL: "https://m.corp.example/v2", Host: "m.corp.example", Fallback: true},
			}},
		{name: "server without scheme is https", upstream: "quay.io", files: map[string]string{"quay.io": `server = "m.corp.example:5000"
[host."m.corp.example:5000"]
`},
			want: []Host{
				{URL: "https://m.corp.example:5000/v2", Host: "m.corp.example:5000"},
				{URL: "https://m.corp.example:5000/v2", Host: "m.corp.example:5000", Fallback: true},
			}},
		{name: "upstream with port: host_port_ directory", upstream: "r.example.com:5000", files: map[string]string{"r.example.com_5000_": `server = "https://m.corp.example"
[host."https://m.corp.example"]
`},
			want: []Host{
				{URL: "https://m.corp.example/v2", Host: "m.corp.example"},
				{URL: "https://m.corp.example/v2", Host: "m.corp.example", Fallback: true},
			}},
		{name: "_default serves an upstream without its own directory", upstream: "ghcr.io", files: map[string]string{"_default": `server = "https://m.corp.example"
[host."https://m.corp.example"]
`},
			want: []Host{
				{URL: "https://m.corp.example/v2", Host: "m.corp.example"},
				{URL: "https://m.corp.example/v2", Host: "m.corp.example", Fallback: true},
			}},
		{name: "no [host] section: containerd does not parse it and pulls from the upstream", upstream: "docker.io",
			files:    map[string]string{"docker.io": `server = "https://m.corp.example"`},
			parseErr: "no [host] section",
			want:     []Host{{URL: "https://registry-1.docker.io/v2", Host: "registry-1.docker.io", Fallback: true, IsUpstream: true}}},
		{name: "TOML syntax error: the upstream", upstream: "docker.io",
			files:    map[string]string{"docker.io": `server = "https://m.corp.example`},
			parseErr: "parse TOML",
			want:     []Host{{URL: "https://registry-1.docker.io/v2", Host: "registry-1.docker.io", Fallback: true, IsUpstream: true}}},
		{name: "unknown capability: the upstream", upstream: "docker.io",
			files:    map[string]string{"docker.io": "[host.\"https://m.corp.example\"]\n  capabilities = [\"fetch\"]\n"},
			parseErr: "unknown capability",
			want:     []Host{{URL: "https://registry-1.docker.io/v2", Host: "registry-1.docker.io", Fallback: true, IsUpstream: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := mirrortest.HostsDir(t, tt.files)
			got, err := LoadHosts(root, tt.upstream)
			if err != nil {
				t.Fatal(err)
			}
			if (tt.parseErr == "") != (got.ParseError == "") || !strings.Contains(got.ParseError, tt.parseErr) {
				t.Errorf("LoadHosts(%q).ParseError = %q, want %q", tt.upstream, got.ParseError, tt.parseErr)
			}
			for i := range tt.want {
				tt.want[i].Capabilities = pr
			}
			if diff := cmp.Diff(tt.want, got.Tried); diff != "" {
				t.Errorf("LoadHosts(%q).Tried (-want +got):\n%s", tt.upstream, diff)
			}
		})
	}
}

func TestLeaks(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		mirr  string
		leaks []string
	}{
		{name: "mirror alone", file: safeECR, mirr: ecrMirror},
		{name: "upstream fallback", file: mirrortest.NoServer(ecrURL), mirr: ecrMirror, leaks: []string{"registry-1.docker.io"}},
		{name: "another mirror first", file: "server = \"" + ecrURL + "\"\n[host.\"https://other.corp.example\"]\n[host.\"" + ecrURL + "\"]\n", mirr: ecrMirror, leaks: []string{"other.corp.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := mirrortest.HostsDir(t, map[string]string{"docker.io": tt.file})
			hs, err := LoadHosts(root, "docker.io")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range hs.Leaks(tt.mirr) {
				got = append(got, h.Host)
			}
			if diff := cmp.Diff(tt.leaks, got); diff != "" {
				t.Errorf("Leaks(%q) (-want +got):\n%s", tt.mirr, diff)
			}
		})
	}
}
