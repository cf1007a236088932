package harness

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// One containerd for the package's tests, started on first use and stopped by TestMain.
var shared SharedContainerd

func TestMain(m *testing.M) {
	QuietCRIClient()
	code := m.Run()
	if err := shared.Close(); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		code = 1
	}
	os.Exit(code)
}

func TestContainerdPull(t *testing.T) {
	c := shared.Get(t)
	const ecrHost = "111122223333.dkr.ecr.us-east-1.amazonaws.com"
	reg := startRegistry(t, RegistryOptions{Users: map[string]string{"alice": "s3cret"}})
	ctx := context.Background()
	digest, err := reg.Push(ctx, "team/app", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Serve(reg, reg.Addr, ecrHost); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.RemoveHosts(reg.Addr); c.RemoveHosts(ecrHost) })

	tests := []struct {
		name  string
		image string
		auth  *runtimeapi.AuthConfig
		want  string // "" success; otherwise a substring of the error
	}{
		{name: "anonymous", image: reg.Addr + "/team/app:v1", want: "401 Unauthorized"},
		{name: "wrong password", image: reg.Addr + "/team/app:v1", auth: &runtimeapi.AuthConfig{Username: "alice", Password: "S3cret"}, want: "401 Unauthorized"},
		{name: "right password", image: reg.Addr + "/team/app:v1", auth: &runtimeapi.AuthConfig{Username: "alice", Password: "s3cret"}},
		{name: "cloud name served by the loopback registry", image: ecrHost + "/team/app:v1", auth: &runtimeapi.AuthConfig{Username: "alice", Password: "s3cret"}},
		{name: "server address of another host: no credentials sent", image: ecrHost + "/team/app:v1",
			auth: &runtimeapi.AuthConfig{Username: "alice", Password: "s3cret", ServerAddress: "https://elsewhere.example"}, want: "401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := strings.TrimSuffix(tt.image, ":v1")
			_ = c.RemoveImage(ctx, tt.image)
			ref, err := c.Pull(ctx, tt.image, tt.auth)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("PullImage(%q) = %q, %v; want an error with %q", tt.image, ref, err, tt.want)
				}
				t.Logf("PullImage(%q): %v", tt.image, err)
				return
			}
			if err != nil {
				t.Fatalf("PullImage(%q) = %v, want success", tt.image, err)
			}
			img, err := c.ImageStatus(ctx, tt.image)
			if err != nil {
				t.Fatal(err)
			}
			if !HasDigest(img, repo, digest.String()) {
				t.Fatalf("ImageStatus(%q) = %v, want %s@%s", tt.image, img, repo, digest)
			}
		})
	}
}

// TestContainerdCredentialsReach pins what containerd 1.6 does with a CRI AuthConfig, by what
// the loopback servers recorded: with basic auth the password goes to the registry only; with
// token auth it goes to the token endpoint only and the registry sees bearer tokens; a
// recording stand-in configured as the upstream server behind a mirror receives nothing while
// the mirror serves the pull, but when the mirror answers 401 containerd falls back to the
// upstream with the same credentials (issue 17 builds on this).
func TestContainerdCredentialsReach(t *testing.T) {
	c := shared.Get(t)
	ctx := context.Background()
	const upstream = "registry.upstream.test"
	tests := []struct {
		name      string
		tokenAuth bool
		mirror    bool // hosts.toml: the registry as a mirror, the recorder as the upstream server
	}{
		{name: "basic auth, server"},
		{name: "token auth, server", tokenAuth: true},
		{name: "basic auth, mirror before a recording upstream", mirror: true},
		{name: "token auth, mirror before a recording upstream", tokenAuth: true, mirror: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			password := "pw-" + RandomString(20)
			reg := startRegistry(t, RegistryOptions{Users: map[string]string{"alice": password}, TokenAuth: tt.tokenAuth})
			rec, err := StartRecorder(RecorderOptions{CA: reg.CA})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(rec.Close)
			repo := fmt.Sprintf("team/reach%d", i)
			digest, err := reg.Push(ctx, repo, "v1")
			if err != nil {
				t.Fatal(err)
			}
			ca, err := c.WriteCA(reg.CA)
			if err != nil {
				t.Fatal(err)
			}
			hosts := Hosts{Server: "https://" + reg.Addr, CA: ca}
			if tt.mirror {
				hosts = Hosts{Server: "https://" + rec.Addr, CA: ca,
					Mirrors: []HostEntry{{URL: "https://" + reg.Addr, Capabilities: []string{"pull", "resolve"}, CA: ca}}}
			}
			if _, err := c.WriteHosts(upstream, hosts); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.RemoveHosts(upstream) })
			image := upstream + "/" + repo + ":v1"
			mark := len(reg.Requests())

			wrong := "wrong-" + password
			_, err = c.Pull(ctx, image, &runtimeapi.AuthConfig{Username: "alice", Password: wrong})
			if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") {
				t.Fatalf("PullImage(%q) with a wrong password = %v, want the registry's 401", image, err)
			}
			upstreamMark := len(rec.Requests())
			if got := Carrying(rec.Requests(), wrong); tt.mirror && len(got) == 0 {
				t.Errorf("the mirror refused the wrong password and the upstream did not receive it: containerd no longer falls back on a 401; recorded %v", rec.Requests())
			}
			if _, err := c.Pull(ctx, image, &runtimeapi.AuthConfig{Username: "alice", Password: password}); err != nil {
				t.Fatalf("PullImage(%q) = %v, want success", image, err)
			}
			img, err := c.ImageStatus(ctx, image)
			if err != nil || !HasDigest(img, upstream+"/"+repo, digest.String()) {
				t.Fatalf("ImageStatus(%q) = %v, %v; want digest %s", image, img, err, digest)
			}

			seen := reg.Requests()[mark:]
			carrying := Carrying(seen, password)
			if len(carrying) == 0 {
				t.Fatalf("the registry never received the password; requests: %v", seen)
			}
			for _, r := range carrying {
				wantScheme, wantPath := "Basic", ""
				if tt.tokenAuth {
					wantScheme, wantPath = "password-grant", tokenPath
				}
				if r.Auth.Scheme != wantScheme || (wantPath != "" && r.Path != wantPath) {
					t.Errorf("password received as %s on %s %s, want %s%s", r.Auth.Scheme, r.Method, r.Path, wantScheme, wantPath)
				}
			}
			if tt.tokenAuth {
				for _, r := range seen {
					if strings.HasPrefix(r.Path, "/v2/") && r.Auth.Scheme != "" && r.Auth.Scheme != "Bearer" {
						t.Errorf("%s %s carried %s, want only bearer tokens on /v2/", r.Method, r.Path, r.Auth.Scheme)
					}
				}
			}
			if got := rec.Requests()[upstreamMark:]; len(got) != 0 {
				t.Errorf("while the mirror served the pull, the recording upstream received %d requests, want none: %v", len(got), got)
			}
			t.Logf("the registry received: %v", seen)
		})
	}
}

// TestContainerdCredentialsReachByHostsFile pins, for each hosts.toml form of the table in
// docs/mirrors.md ("Where containerd sends credentials"), which hosts containerd sends the
// kubelet's credential to: a CRI AuthConfig with a user name and password and no server
// address, as the kubelet builds it from a provider's answer. The mirror and the upstream are
// recorders that ask for Basic auth; the mirror then answers 503, or is a closed port. The
// upstream is the image's own host, 127.0.0.1:<port>, which containerd pulls from over plain
// HTTP when no line of the file names it. No image exists anywhere, so every pull fails; what
// matters is where the password went on the way.
func TestContainerdCredentialsReachByHostsFile(t *testing.T) {
	c := shared.Get(t)
	ctx := context.Background()
	host := func(url, ca string, overridePath bool) string {
		s := fmt.Sprintf("\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = %q\n", url, ca)
		if overridePath {
			s += "  override_path = true\n"
		}
		return s
	}
	tests := []struct {
		name string
		// hosts is the upstream's hosts.toml, given the mirror's URL, the upstream's URL and
		// the file of the CA that signed the mirror's certificate.
		hosts      func(mirror, upstream, ca string) string
		mirrorDown bool   // the mirror is a closed port (connection refused)
		mirrorPath string // the mirror's URL path, its API root with override_path; "": /v2
		wantMirror bool   // the mirror receives the password
		wantUp     bool   // the upstream receives the password; false: it receives no request at all
		wantLog    string // containerd logs this during the pull
	}{
		{
			name:       "no server line, mirror answers 503",
			hosts:      func(m, _, ca string) string { return host(m, ca, false) },
			wantMirror: true, wantUp: true,
		},
		{
			name:       "no server line, mirror down",
			hosts:      func(m, _, ca string) string { return host(m, ca, false) },
			mirrorDown: true, wantUp: true,
		},
		{
			name:       "server is the upstream, mirror answers 503",
			hosts:      func(m, u, ca string) string { return fmt.Sprintf("server = %q\n", u) + host(m, ca, false) },
			wantMirror: true, wantUp: true,
		},
		{
			// containerd 1.6 refuses the file (invalid `host` tree) and pulls from the
			// upstream alone.
			name:   "server is the mirror, no host section",
			hosts:  func(m, _, ca string) string { return fmt.Sprintf("server = %q\nca = %q\n", m, ca) },
			wantUp: true, wantLog: "invalid `host` tree",
		},
		{
			name:       "server and host are the mirror, mirror answers 503",
			hosts:      func(m, _, ca string) string { return fmt.Sprintf("server = %q\nca = %q\n", m, ca) + host(m, ca, false) },
			wantMirror: true,
		},
		{
			name:       "server and host are the mirror, mirror down",
			hosts:      func(m, _, ca string) string { return fmt.Sprintf("server = %q\nca = %q\n", m, ca) + host(m, ca, false) },
			mirrorDown: true,
		},
		{
			name: "server and host are the mirror with override_path, mirror answers 503",
			hosts: func(m, _, ca string) string {
				return fmt.Sprintf("server = %q\noverride_path = true\nca = %q\n", m, ca) + host(m, ca, true)
			},
			mirrorPath: "/v2/hub", wantMirror: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			password := "pw-" + RandomString(20)
			auth := &runtimeapi.AuthConfig{Username: "mirror-user", Password: password}
			mirror, err := StartRecorder(RecorderOptions{StatusWithCredential: http.StatusServiceUnavailable})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(mirror.Close)
			if tt.mirrorDown {
				mirror.Close() // nothing listens on its port any more
			}
			upstream, err := StartRecorder(RecorderOptions{PlainHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(upstream.Close)
			ca, err := c.WriteCA(mirror.CA)
			if err != nil {
				t.Fatal(err)
			}
			hosts := tt.hosts("https://"+mirror.Addr+tt.mirrorPath, "http://"+upstream.Addr, ca)
			file, err := c.WriteHostsFile(upstream.Addr, []byte(hosts))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.RemoveHosts(upstream.Addr) })

			image := upstream.Addr + "/library/nginx:1"
			mark := c.LogMark()
			_, pullErr := c.Pull(ctx, image, auth)
			if pullErr == nil {
				t.Fatalf("PullImage(%q) succeeded, want a failure: no host has the image", image)
			}
			report := func() string {
				return fmt.Sprintf("%s:\n%s\nPullImage: %v\nmirror received: %v\nupstream received: %v\ncontainerd logged:\n%s",
					file, hosts, pullErr, mirror.Requests(), upstream.Requests(), c.LogSince(mark))
			}

			root := "/v2"
			if tt.mirrorPath != "" {
				root = tt.mirrorPath
			}
			toMirror := Carrying(mirror.Requests(), password)
			switch {
			case tt.wantMirror && len(toMirror) == 0:
				t.Errorf("the mirror did not receive the password, want it to; %s", report())
			case !tt.wantMirror && len(mirror.Requests()) != 0:
				t.Errorf("the mirror received %d request(s), want none; %s", len(mirror.Requests()), report())
			}
			for _, r := range toMirror {
				if r.Auth.Scheme != "Basic" || r.Auth.User != auth.Username || !strings.HasPrefix(r.Path, root+"/library/nginx/") {
					t.Errorf("the mirror received the password as %s for %q on %s %s, want Basic for %q under %s/library/nginx/",
						r.Auth.Scheme, r.Auth.User, r.Method, r.Path, auth.Username, root)
				}
			}
			toUpstream := Carrying(upstream.Requests(), password)
			switch {
			case tt.wantUp && len(toUpstream) == 0:
				t.Errorf("the upstream did not receive the password, want it to; %s", report())
			case !tt.wantUp && len(upstream.Requests()) != 0:
				t.Errorf("the upstream received %d request(s), want none; %s", len(upstream.Requests()), report())
			}
			if tt.wantLog != "" && !strings.Contains(c.LogSince(mark), tt.wantLog) {
				t.Errorf("containerd did not log %q; %s", tt.wantLog, report())
			}
			t.Logf("PullImage: %v; the password reached the mirror on %d request(s), the upstream on %d", pullErr, len(toMirror), len(toUpstream))
		})
	}
}
