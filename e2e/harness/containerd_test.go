package harness

import (
	"context"
	"fmt"
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
