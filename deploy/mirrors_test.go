package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/dockercfg"
	"github.com/pullkeys/pullkeys/ecr"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/mirror"
)

// nodeHostsDir is the --containerd-hosts-dir of the examples: on a node, containerd's
// config_path. The examples' own copy is their certs.d directory.
const nodeHostsDir = "/etc/containerd/certs.d"

// TestMirrorExamples runs each example of deploy/mirrors as the kubelet would on a node laid
// out as the example says: its config validated (with its hosts.toml files, which must parse
// and be judged safe), then each upstream image asked of the binary with the example's args
// (hosts directory and docker config pointed at the example's files, the cloud at a fake): the
// answer is the mirror's credential keyed for the upstream.
func TestMirrorExamples(t *testing.T) {
	examples := map[string]struct {
		images []string
	}{
		"eks-ecr-pull-through-cache": {images: []string{"nginx:1.27", "registry.k8s.io/pause:3.10"}},
		"artifact-registry-remote":   {images: []string{"nginx:1.27", "docker.io/bitnami/redis"}},
		"self-hosted":                {images: []string{"nginx:1.27", "library/busybox"}},
	}
	dirs, err := os.ReadDir("mirrors")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, d := range dirs {
		found = append(found, d.Name())
	}
	if diff := cmp.Diff(sorted([]string{"artifact-registry-remote", "eks-ecr-pull-through-cache", "self-hosted"}), sorted(found)); diff != "" {
		t.Errorf("deploy/mirrors holds other examples than this test checks (-want +got):\n%s", diff)
	}
	for name, ex := range examples {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("mirrors", name)
			hostsDir := filepath.Join(dir, "certs.d")
			cfg, problems := kubelet.LoadConfig(filepath.Join(dir, "credential-provider-config.yaml"), "")
			problems = append(problems, kubelet.MirrorProblems(cfg, hostsDir)...)
			for _, p := range problems {
				t.Errorf("pullkeys validate --containerd-hosts-dir=%s: %s", hostsDir, p)
			}
			if len(cfg.Providers) != 1 {
				t.Fatalf("%d providers, want 1", len(cfg.Providers))
			}
			p := cfg.Providers[0]
			o, err := mirror.FlagsOf(p.Args)
			if err != nil {
				t.Fatal(err)
			}
			if o.HostsDir != nodeHostsDir || len(o.Mappings) == 0 {
				t.Errorf("args %q: want --mirror and --containerd-hosts-dir=%s", p.Args, nodeHostsDir)
			}
			// Every hosts.toml parses, and each --mirror's upstream has one whose hosts are
			// that mirror alone.
			for _, m := range o.Mappings {
				hs, err := mirror.LoadHosts(hostsDir, m.Upstream)
				if err != nil || hs.File == "" || hs.ParseError != "" {
					t.Errorf("%s: hosts.toml for %s: %+v, %v", name, m.Upstream, hs, err)
					continue
				}
				for _, h := range hs.Tried {
					if h.Host != m.Host || h.Path != m.Path {
						t.Errorf("%s: containerd tries %s (path %q) for %s, want only the mirror %s", hs.File, h.URL, h.Path, m.Upstream, m.Mirror())
					}
				}
			}

			// Run the binary with the example's args, rewritten to this checkout's files.
			args := make([]string, 0, len(p.Args))
			for _, a := range p.Args {
				switch {
				case strings.HasPrefix(a, "--cache-dir="):
					a = "--cache-dir=" + t.TempDir()
				case strings.HasPrefix(a, "--containerd-hosts-dir="):
					a = "--containerd-hosts-dir=" + hostsDir
				case strings.HasPrefix(a, "--config="):
					a = "--config=" + filepath.Join(dir, "docker-config.json.example")
				}
				args = append(args, a)
			}
			var plug providers.Plugin
			var wantPassword func(resp *providers.Response) bool
			switch p.Name {
			case ecr.PluginName:
				srv := ecrtest.Start(t)
				srv.Setenv(t)
				plug = ecr.Plugin()
				wantPassword = func(resp *providers.Response) bool {
					reqs := srv.Requests(ecrtest.GetAuthorizationToken)
					for _, a := range resp.Auth {
						if len(reqs) > 0 && a.Password == reqs[len(reqs)-1].Password && reqs[len(reqs)-1].Region == "us-east-1" {
							return true
						}
					}
					return false
				}
			case gcr.PluginName:
				md := gcrtest.NewMetadata()
				t.Cleanup(md.Close)
				md.SetAccount("default", gcrtest.Account{Email: gcrtest.DefaultEmail, Scopes: []string{gcrtest.ScopeCloudPlatform}, Token: "node-token"})
				t.Setenv(gcr.MetadataHostEnv, md.Host())
				plug = gcr.Plugin()
				wantPassword = func(resp *providers.Response) bool {
					for _, a := range resp.Auth {
						return a.Password == "node-token"
					}
					return false
				}
			case dockercfg.Name:
				plug = dockercfg.Plugin()
				wantPassword = func(resp *providers.Response) bool {
					for _, a := range resp.Auth {
						return a.Username == "mirror-puller" && a.Password == "replace-with-the-mirrors-token"
					}
					return false
				}
			default:
				t.Fatalf("no fake for %s", p.Name)
			}
			for _, image := range ex.images {
				req, _ := json.Marshal(map[string]string{"apiVersion": providers.APIVersionV1, "kind": "CredentialProviderRequest", "image": image})
				var stdout, stderr bytes.Buffer
				if code := providers.Execute(context.Background(), plug, args, bytes.NewReader(req), &stdout, &stderr); code != 0 {
					t.Fatalf("%s %q for %s: exit %d: %s", p.Name, args, image, code, stderr.String())
				}
				resp, err := providers.DecodeResponse(stdout.Bytes(), providers.APIVersionV1)
				if err != nil {
					t.Fatal(err)
				}
				upstream := "docker.io"
				if strings.HasPrefix(image, "registry.k8s.io/") {
					upstream = "registry.k8s.io"
				}
				var keys []string
				for k := range resp.Auth {
					keys = append(keys, k)
				}
				if !slices.Equal(keys, []string{upstream}) || !wantPassword(resp) {
					t.Errorf("%s for %s: answer keyed %v, want the mirror's credential keyed %s", p.Name, image, keys, upstream)
				}
			}
		})
	}
}

// TestMirrorIAMPolicy keeps the EKS example's node role policy to the permissions an ECR
// pull-through cache needs.
func TestMirrorIAMPolicy(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("mirrors", "eks-ecr-pull-through-cache", "node-role.policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var policy struct {
		Version   string
		Statement []struct {
			Sid      string
			Effect   string
			Action   any
			Resource any
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&policy); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, st := range policy.Statement {
		switch a := st.Action.(type) {
		case string:
			actions = append(actions, a)
		case []any:
			for _, x := range a {
				actions = append(actions, x.(string))
			}
		}
	}
	want := []string{"ecr:BatchGetImage", "ecr:BatchImportUpstreamImage", "ecr:CreateRepository", "ecr:GetAuthorizationToken", "ecr:GetDownloadUrlForLayer"}
	if diff := cmp.Diff(want, sorted(actions)); diff != "" || policy.Version != "2012-10-17" {
		t.Errorf("node-role.policy.json actions (-want +got):\n%s", diff)
	}
}
