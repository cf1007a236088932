package kubelet

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/klog/v2"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	pkkubelet "github.com/pullkeys/pullkeys/kubelet"
)

// A node's kubelet. The kubelet's plugin registry is process-global and never forgets a
// provider; the peers' entries (deploy/peers) have fixed names and match every ECR or Google
// host, so each runs in a kubelet process of its own: this test binary run with nodeKubeletArg
// (see TestMain), which registers the providers of a config from a bin dir, looks up each
// image with the kubelet's code and prints the credentials as JSON.
const nodeKubeletArg = "-pullkeys-e2e.node-kubelet"

// nodeKubelet runs a kubelet process on config and binDir with env added to this process's
// environment (the node's, which plugins inherit), and returns the credentials it would hand
// to the runtime for each image.
func nodeKubelet(t *testing.T, config, binDir string, env []string, images ...string) [][]cred {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{nodeKubeletArg, config, binDir}, images...)...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubelet on %s: %v\nits log:\n%s", config, err, stderr.String())
	}
	if strings.Contains(stderr.String(), kubeletRejected) {
		t.Errorf("kubelet on %s: a plugin failed:\n%s", config, stderr.String())
	}
	var out [][]cred
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("kubelet on %s: %v in its output %q", config, err, stdout.String())
	}
	return out
}

// runNodeKubelet is the main function of a node kubelet: args are the config, the bin dir
// and the images. Its log (klog, verbosity 4) goes to stderr.
func runNodeKubelet(args []string) int {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for name, value := range map[string]string{"logtostderr": "true", "v": "4"} {
		if err := fs.Set(name, value); err != nil {
			panic(err)
		}
	}
	defer klog.Flush()
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "node kubelet: %v\n", err)
		return 1
	}
	if len(args) < 3 {
		return fail(fmt.Errorf("want config, bin dir and images, got %q", args))
	}
	if err := kubeletRegisterWith(args[0], args[1], &fakeAPI{}); err != nil {
		return fail(fmt.Errorf("RegisterCredentialProviderPlugins: %w", err))
	}
	var out [][]cred
	for _, image := range args[2:] {
		creds, err := kubeletLookup(image, pod{})
		if err != nil {
			return fail(err)
		}
		out = append(out, creds)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return fail(err)
	}
	return 0
}

// TestPeerEntries: the kubelet config entries of the peers' binaries, as their node images
// write them (deploy/peers, unchanged), with our binary installed under the peer's file name:
// the kubelet's own plugin code gets the token the cloud issued, and pullkeys check agrees.
// The cloud fakes are reached through the node's environment, not the entry.
func TestPeerEntries(t *testing.T) {
	peers := filepath.Join("..", "..", "deploy", "peers")
	tests := []struct {
		name, config, peerBinary, ours string
		setup                          func(t *testing.T) (env []string, image string, want func() []cred)
	}{
		{
			name: "EKS AL2023 ecr-credential-provider", config: "eks-al2023.json", peerBinary: "ecr-credential-provider", ours: ECR,
			setup: func(t *testing.T) ([]string, string, func() []cred) {
				srv := ecrtest.Start(t)
				srv.Setenv(t) // isolates the AWS SDK from the developer's setup; the child inherits it
				image := "111122223333.dkr.ecr.us-west-2.amazonaws.com/team/app:v1"
				return nil, image, func() []cred {
					reqs := srv.Requests(ecrtest.GetAuthorizationToken)
					if len(reqs) != 1 {
						t.Fatalf("%d GetAuthorizationToken calls, want 1 (the kubelet's, then pullkeys check from the shared cache)", len(reqs))
					}
					return []cred{{"AWS", reqs[0].Password}}
				}
			},
		},
		{
			name: "GKE auth-provider-gcp", config: "gke-auth-provider-gcp.yaml", peerBinary: "auth-provider-gcp", ours: GCR,
			setup: func(t *testing.T) ([]string, string, func() []cred) {
				md := gcrtest.NewMetadata()
				t.Cleanup(md.Close)
				return []string{"GCE_METADATA_HOST=" + md.Host()}, "us-docker.pkg.dev/peer-project/repo/app:v1", func() []cred {
					issued := md.Issued()
					if len(issued) != 1 {
						t.Fatalf("the metadata server issued %d tokens, want 1", len(issued))
					}
					return []cred{{gcr.Username, issued[0]}}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			binDir := t.TempDir()
			if err := os.Symlink(binary(t, tt.ours), filepath.Join(binDir, tt.peerBinary)); err != nil {
				t.Fatal(err)
			}
			config := filepath.Join(peers, tt.config)
			env, image, want := tt.setup(t)
			env = append(env, "PULLKEYS_CACHE_DIR="+t.TempDir())
			got := nodeKubelet(t, config, binDir, env, image)
			wantCreds := want()
			if diff := cmp.Diff([][]cred{wantCreds}, got); diff != "" {
				t.Errorf("kubelet credentials for %s (-want +got):\n%s", image, diff)
			}

			rep, err := pkkubelet.Check(t.Context(), pkkubelet.CheckOptions{
				ConfigPath: config, BinDir: binDir, Images: []string{image}, ShowSecrets: true,
				Environ: func() []string { return append(os.Environ(), env...) },
			})
			if err != nil {
				t.Fatalf("pullkeys check: %v", err)
			}
			if len(rep.Images) != 1 || rep.Images[0].Status == pkkubelet.StatusError {
				t.Fatalf("pullkeys check:\n%s", reportText(t, rep))
			}
			if diff := cmp.Diff(wantCreds, checkCreds(rep.Images[0])); diff != "" {
				t.Errorf("pullkeys check credentials for %s (-kubelet +check):\n%s", image, diff)
			}
		})
	}
}
