package kubelet

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/internal/plugintest"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/mirror/mirrortest"
)

const mirrorURL = "https://mirror.corp.example/v2/dockerhub"

var (
	// safeHosts has the mirror as its only host and as the server.
	safeHosts = mirrortest.Safe(mirrorURL)
	// noServer falls back to the upstream.
	noServer = mirrortest.NoServer(mirrorURL)
	// upstreamServer names the upstream as the server.
	upstreamServer = "server = \"https://registry-1.docker.io\"\n[host.\"" + mirrorURL + "\"]\n  override_path = true\n"
)

func TestMirrorProblems(t *testing.T) {
	hub := "--mirror=docker.io=mirror.corp.example/dockerhub"
	tests := []struct {
		name        string
		matchImages []string
		args        []string
		files       map[string]string // nil: no hosts directory given
		want        []string          // "severity file-suffix: detail substrings|…"
	}{
		{name: "safe hosts.toml", matchImages: []string{"docker.io"}, args: []string{hub}, files: map[string]string{"docker.io": safeHosts}},
		{name: "no server line: the upstream receives it", matchImages: []string{"docker.io"}, args: []string{hub}, files: map[string]string{"docker.io": noServer},
			want: []string{"error docker.io/hosts.toml: the upstream registry-1.docker.io receives it|server = \"" + mirrorURL + "\""}},
		{name: "server is the upstream", matchImages: []string{"docker.io"}, args: []string{hub}, files: map[string]string{"docker.io": upstreamServer},
			want: []string{"error docker.io/hosts.toml: the upstream registry-1.docker.io receives it|fix: in "}},
		{name: "acknowledged upstream fallback is a warning", matchImages: []string{"docker.io"}, args: []string{hub, "--mirror-allow-upstream-fallback"}, files: map[string]string{"docker.io": noServer},
			want: []string{"warning docker.io/hosts.toml: the upstream registry-1.docker.io receives it"}},
		{name: "no hosts.toml: containerd pulls from the upstream", matchImages: []string{"docker.io"}, args: []string{hub}, files: map[string]string{"quay.io": safeHosts},
			want: []string{"error docker.io/hosts.toml: no hosts.toml: containerd tries https://registry-1.docker.io/v2|write a hosts.toml for docker.io"}},
		{name: "another host before the mirror", matchImages: []string{"docker.io"}, args: []string{hub}, files: map[string]string{"docker.io": "server = \"" + mirrorURL + "\"\noverride_path = true\n[host.\"https://other.corp.example\"]\n"},
			want: []string{"error docker.io/hosts.toml: another host other.corp.example receives it"}},
		{name: "discovery: unsafe file found in the directory", matchImages: []string{"docker.io", "registry.k8s.io"}, args: []string{"--containerd-hosts-dir=/unused"},
			files: map[string]string{"docker.io": safeHosts, "registry.k8s.io": "[host.\"https://mirror.corp.example/v2/k8s\"]\n  override_path = true\n"},
			want:  []string{"error registry.k8s.io/hosts.toml: the upstream registry.k8s.io receives it"}},
		{name: "matchImages miss the upstream", matchImages: []string{"mirror.corp.example"}, args: []string{hub},
			want: []string{"warning test.yaml: no matchImages entry matches docker.io"}},
		{name: "bad --mirror", matchImages: []string{"docker.io"}, args: []string{"--mirror=*.com=mirror.corp.example"},
			want: []string{"error test.yaml: wildcard covers a public suffix"}},
		{name: "the provider's hosts directory is not here", matchImages: []string{"docker.io"}, args: []string{hub, "--containerd-hosts-dir=/nonexistent/certs.d"},
			want: []string{"warning test.yaml: --containerd-hosts-dir /nonexistent/certs.d is not a directory here|run this on the node"}},
		{name: "no mirror flags: nothing checked", matchImages: []string{"docker.io"}, args: []string{"--auth=docker.io=u:p"}, files: map[string]string{"docker.io": noServer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := prov("ok", providers.APIVersionV1, tt.matchImages, tt.args...)
			dir := ""
			if tt.files != nil {
				dir = mirrortest.HostsDir(t, tt.files)
			}
			got := MirrorProblems(&Config{Path: "test.yaml", Providers: []Provider{p}}, dir)
			if len(got) != len(tt.want) {
				t.Fatalf("MirrorProblems = %d problem(s), want %d:\n%s", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				head, details, _ := strings.Cut(w, ": ")
				sev, file, _ := strings.Cut(head, " ")
				if string(got[i].Severity) != sev || !strings.HasSuffix(got[i].File, file) {
					t.Errorf("problem %d = %s, want severity %s in a file ending %s", i, got[i], sev, file)
				}
				for _, d := range strings.Split(details, "|") {
					if !strings.Contains(got[i].Detail, d) {
						t.Errorf("problem %d = %s, want it to say %q", i, got[i], d)
					}
				}
			}
		})
	}
}

// TestCheckRuntime: with a hosts directory, check shows the hosts containerd tries, what each
// receives, and a problem when the mirror's credential reaches the upstream.
func TestCheckRuntime(t *testing.T) {
	bin := plugintest.BinDir(t, "ok")
	tests := []struct {
		name         string
		hosts        string
		wantURLs     []string
		wantProblems int
	}{
		{name: "safe", hosts: safeHosts, wantURLs: []string{mirrorURL, mirrorURL}},
		{name: "upstream fallback", hosts: noServer, wantURLs: []string{mirrorURL, "https://registry-1.docker.io/v2"}, wantProblems: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := mirrortest.HostsDir(t, map[string]string{"docker.io": tt.hosts})
			r := runCheck(t, bin, CheckOptions{Images: []string{"nginx"}, HostsDir: dir},
				prov("ok", providers.APIVersionV1, []string{"docker.io", "mirror.corp.example"},
					"--auth=mirror.corp.example=mirror-user:mirror-password", "--mirror=docker.io=mirror.corp.example/dockerhub"))
			img := r.Images[0]
			if diff := cmp.Diff([]string{"docker.io mirror-user " + Mask("mirror-password") + " " + plugintest.Prefix + "ok"}, credentials(img)); diff != "" {
				t.Errorf("credentials (-want +got):\n%s", diff)
			}
			if img.Runtime == nil {
				t.Fatal("no runtime report")
			}
			var urls []string
			for _, h := range img.Runtime.Hosts {
				urls = append(urls, h.URL)
				if len(h.Receives) != 1 || !strings.HasPrefix(h.Receives[0], "docker.io (from ") {
					t.Errorf("host %s receives %q, want the one credential", h.URL, h.Receives)
				}
			}
			if diff := cmp.Diff(tt.wantURLs, urls); diff != "" {
				t.Errorf("hosts tried (-want +got):\n%s", diff)
			}
			if h := img.Runtime.Hosts[0]; h.Image != "mirror.corp.example/dockerhub/library/nginx" || h.Needs != "a credential for mirror.corp.example/dockerhub/library/nginx" {
				t.Errorf("mirror host pulls %q, needs %q", h.Image, h.Needs)
			}
			if len(img.Runtime.Problems) != tt.wantProblems || r.OK() != (tt.wantProblems == 0) {
				t.Errorf("runtime problems %q, OK %v; want %d problem(s)", img.Runtime.Problems, r.OK(), tt.wantProblems)
			}
			var buf strings.Builder
			if err := r.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), "containerd ("+mirrortest.HostsFile(dir, "docker.io")+") tries, in order") {
				t.Errorf("text report lacks the runtime's side:\n%s", buf.String())
			}
		})
	}
}
