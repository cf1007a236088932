package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/ecr"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// TestMirrorThroughContainerd pulls docker.io/library/mirrored through a real containerd whose
// hosts.toml sends docker.io to a loopback mirror that requires credentials, with the
// credential dockercfg-credential-provider answers for the upstream (--mirror, checked against
// containerd's own hosts directory). A recording stand-in for the upstream receives nothing
// while the hosts.toml is one `pullkeys validate` passes; with a fallback to it, validate
// fails, the plugin refuses to answer, and a pull the mirror cannot serve hands the stand-in
// the credential.
//
// The ECR and GCR providers take the same path (providers/mirror), checked with their fakes in
// their packages and deploy/mirrors_test.go; their mirror hosts are cloud names that do not
// resolve to loopback, so only dockercfg, whose mirror may be 127.0.0.1:<port>, runs here.
func TestMirrorThroughContainerd(t *testing.T) {
	if why := harness.ContainerdUnavailable(""); why != "" {
		t.Skip(why)
	}
	ctx := context.Background()
	c, err := harness.StartContainerd(ctx, harness.ContainerdOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	user := harness.Credential{Username: "mirror-user", Password: "pw-" + harness.RandomString(20)}
	reg := startRegistry(t, harness.RegistryOptions{Users: map[string]string{user.Username: user.Password}})
	push(t, reg, "dockerhub/library/mirrored", "v1")
	upstream, err := harness.StartRecorder(harness.RecorderOptions{CA: reg.CA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(upstream.Close)
	ca, err := c.WriteCA(reg.CA)
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "config.json")
	if err := harness.WriteDockerConfig(config, map[string]harness.Credential{reg.Addr: user}); err != nil {
		t.Fatal(err)
	}

	mirrorURL := "https://" + reg.Addr + "/v2/dockerhub"
	safe := fmt.Sprintf("server = %q\noverride_path = true\nca = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n  ca = %q\n",
		mirrorURL, ca, mirrorURL, ca)
	unsafe := fmt.Sprintf("server = %q\nca = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n  ca = %q\n",
		"https://"+upstream.Addr, ca, mirrorURL, ca)
	hostsFile, err := c.WriteHostsFile("docker.io", []byte(safe))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--config=" + config, "--mirror=docker.io=" + reg.Addr + "/dockerhub", "--containerd-hosts-dir=" + c.HostsDir}
	node := newNode(t, harness.NewProvider(harness.Dockercfg, []string{"docker.io", reg.Addr}, nil, args...)) // validate passes
	request := []byte(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"docker.io/library/mirrored"}`)

	// Safe: the plugin answers the mirror's credential keyed for docker.io, containerd pulls
	// from the mirror with it, and the upstream stand-in sees nothing.
	stdout, stderr, code, err := node.RunPlugin(ctx, harness.Dockercfg, args, nil, request)
	if err != nil || code != 0 {
		t.Fatalf("%s %q: exit %d, %v: %s", harness.Dockercfg, args, code, err, stderr)
	}
	resp, err := providers.DecodeResponse(stdout, providers.APIVersionV1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]providers.AuthConfig{"docker.io": {Username: user.Username, Password: user.Password}}
	if diff := cmp.Diff(want, resp.Auth); diff != "" {
		t.Fatalf("answer (-want +got):\n%s", diff)
	}
	auth := &runtimeapi.AuthConfig{Username: resp.Auth["docker.io"].Username, Password: resp.Auth["docker.io"].Password}
	if _, err := c.Pull(ctx, "docker.io/library/mirrored:v1", auth); err != nil {
		t.Fatalf("PullImage(docker.io/library/mirrored:v1) through the mirror = %v", err)
	}
	if got := harness.Carrying(reg.Requests(), user.Password); len(got) == 0 {
		t.Errorf("the mirror never received the credential: %v", reg.Requests())
	}
	if got := upstream.Requests(); len(got) != 0 {
		t.Errorf("with %s the upstream stand-in received %d request(s), want none: %v", hostsFile, len(got), got)
	}

	// Unsafe: the upstream stand-in is the server. validate fails naming the file, the
	// plugin refuses, and when the mirror cannot serve an image containerd hands the
	// credential to the stand-in.
	if _, err := c.WriteHostsFile("docker.io", []byte(unsafe)); err != nil {
		t.Fatal(err)
	}
	vout, _, vcode, err := node.Pullkeys(ctx, nil, "validate", "--config", node.Config)
	if err != nil || vcode == 0 || !strings.Contains(string(vout), hostsFile+": Credential leak") {
		t.Errorf("pullkeys validate with a fallback to the upstream: exit %d, %v, want a failure naming %s:\n%s", vcode, err, hostsFile, vout)
	}
	_, stderr, code, err = node.RunPlugin(ctx, harness.Dockercfg, args, nil, request)
	if err != nil || code == 0 || !strings.Contains(string(stderr), "refusing to answer for docker.io") {
		t.Errorf("%s with a fallback to the upstream: exit %d, %v, stderr %q; want a refusal", harness.Dockercfg, code, err, stderr)
	}
	if _, err := c.Pull(ctx, "docker.io/library/not-on-the-mirror:v1", auth); err == nil {
		t.Errorf("PullImage of an image the mirror lacks succeeded, want a failure")
	}
	got := harness.Carrying(upstream.Requests(), user.Password)
	if len(got) == 0 {
		b, _ := json.Marshal(upstream.Requests())
		t.Errorf("with a fallback to the upstream stand-in, it did not receive the mirror's credential: %s", b)
	}
	t.Logf("the upstream stand-in received the credential on: %v", got)
}

// TestMirrorCloudThroughContainerd pulls docker.io/library/mirrored through a real containerd
// with the credential the ECR provider (fake ECR) and the GCR provider (fake metadata server)
// answer for docker.io under --mirror: the token of the pull-through cache or remote
// repository, keyed for docker.io. The mirror's cloud host name is served from loopback as
// DNS would serve it (the hosts.toml names the loopback registry with the cloud's path), so
// the plugins run without --containerd-hosts-dir here: their check of the hosts directory
// compares host names, and is exercised by TestMirrorThroughContainerd.
func TestMirrorCloudThroughContainerd(t *testing.T) {
	if why := harness.ContainerdUnavailable(""); why != "" {
		t.Skip(why)
	}
	ctx := context.Background()
	c, err := harness.StartContainerd(ctx, harness.ContainerdOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	request := []byte(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"docker.io/library/mirrored"}`)

	tests := []struct {
		name   string
		plugin string
		mirror string // --mirror's MIRROR/PATH
		prefix string // the repository prefix on the mirror
		setup  func(t *testing.T) (match []string, env map[string]string)
	}{
		{name: "ECR pull-through cache", plugin: harness.ECR, mirror: ecrHost + "/docker-hub", prefix: "docker-hub",
			setup: func(t *testing.T) ([]string, map[string]string) {
				return append(ecr.MatchImages(), "docker.io"), envMap(ecrtest.Start(t).Env())
			}},
		{name: "Artifact Registry remote repository", plugin: harness.GCR, mirror: "us-docker.pkg.dev/" + gcrtest.ProjectID + "/dockerhub-remote", prefix: gcrtest.ProjectID + "/dockerhub-remote",
			setup: func(t *testing.T) ([]string, map[string]string) {
				md := startMetadata(t, "gcp-token-"+harness.RandomString(20))
				return append(gcr.DefaultRegistries(), "docker.io"), map[string]string{"GCE_METADATA_HOST": md.Host()}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := startRegistry(t, harness.RegistryOptions{Users: map[string]string{"nobody": harness.RandomString(20)}})
			push(t, reg, tt.prefix+"/library/mirrored", "v1")
			ca, err := c.WriteCA(reg.CA)
			if err != nil {
				t.Fatal(err)
			}
			url := "https://" + reg.Addr + "/v2/" + tt.prefix
			hosts := fmt.Sprintf("server = %q\noverride_path = true\nca = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n  override_path = true\n  ca = %q\n", url, ca, url, ca)
			if _, err := c.WriteHostsFile("docker.io", []byte(hosts)); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.RemoveHosts("docker.io") })
			match, env := tt.setup(t)
			args := []string{"--cache-dir=" + t.TempDir(), "--mirror=docker.io=" + tt.mirror}
			node := newNode(t, harness.NewProvider(tt.plugin, match, env, args...))
			var envList []string
			for k, v := range env {
				envList = append(envList, k+"="+v)
			}
			stdout, stderr, code, err := node.RunPlugin(ctx, tt.plugin, args, envList, request)
			if err != nil || code != 0 {
				t.Fatalf("%s %q: exit %d, %v: %s", tt.plugin, args, code, err, stderr)
			}
			resp, err := providers.DecodeResponse(stdout, providers.APIVersionV1)
			if err != nil {
				t.Fatal(err)
			}
			cred, ok := resp.Auth["docker.io"]
			if len(resp.Auth) != 1 || !ok || cred.Password == "" {
				t.Fatalf("%s answered keys %v, want docker.io alone", tt.plugin, resp.Auth)
			}
			// The registry accepts the token, as the cloud's mirror accepts its own tokens.
			if err := reg.AddUser(cred.Username, cred.Password); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Pull(ctx, "docker.io/library/mirrored:v1", nil); err == nil {
				t.Fatalf("anonymous PullImage succeeded, want the mirror's 401")
			}
			if _, err := c.Pull(ctx, "docker.io/library/mirrored:v1", &runtimeapi.AuthConfig{Username: cred.Username, Password: cred.Password}); err != nil {
				t.Fatalf("PullImage(docker.io/library/mirrored:v1) with %s's answer = %v", tt.plugin, err)
			}
			if got := harness.Carrying(reg.Requests(), cred.Password); len(got) == 0 {
				t.Errorf("the mirror never received %s's token", tt.plugin)
			}
			if err := c.RemoveImage(ctx, "docker.io/library/mirrored:v1"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
