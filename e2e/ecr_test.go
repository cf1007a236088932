package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/ecr"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
)

// ecrHost is the private registry of the fake's default account; the loopback registry
// answers for it through harness.Registry.Transport.
const ecrHost = ecrtest.DefaultAccount + ".dkr.ecr.us-east-1.amazonaws.com"

// ecrProvider is the config entry an operator writes for the ECR plugin, pointed at the fake
// through the config's env and with a cache directory of its own.
func ecrProvider(t *testing.T, fake *ecrtest.Server) harness.Provider {
	return harness.NewProvider(harness.ECR, ecr.MatchImages(), envMap(fake.Env()), "--cache-dir="+t.TempDir())
}

// envMap turns NAME=value pairs into a map.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// issued returns the password of the fake's last token for op, which the registry must accept
// as ECR accepts the tokens it issued.
func issued(t *testing.T, fake *ecrtest.Server, op ecrtest.Op) string {
	t.Helper()
	reqs := fake.Requests(op)
	if len(reqs) == 0 || reqs[len(reqs)-1].Password == "" {
		t.Fatalf("fake ECR issued no %s token: %+v", op, reqs)
	}
	return reqs[len(reqs)-1].Password
}

func TestECR(t *testing.T) {
	tests := []struct {
		name  string
		image string // on the registry, under the name the kubelet sees
		repo  string // the same repository on the loopback registry
		op    ecrtest.Op
	}{
		{name: "private", image: ecrHost + "/team/app:v1", repo: "team/app", op: ecrtest.GetAuthorizationToken},
		{name: "public", image: ecr.PublicHost + "/alias/app:v1", repo: "alias/app", op: ecrtest.PublicGetAuthorizationToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			fake := ecrtest.Start(t)
			reg := startRegistry(t, harness.RegistryOptions{Hosts: []string{ecrHost, ecr.PublicHost}})
			push(t, reg, tt.repo, "v1")
			node := newNode(t, ecrProvider(t, fake))

			img := check(t, node, tt.image)
			if img.Status != kubelet.StatusOK || len(img.Credentials) != 1 {
				t.Fatalf("Check(%q) = %s, want one credential", tt.image, describe(img))
			}
			p, _ := harness.ProviderOf(img, harness.ECR)
			host := strings.SplitN(tt.image, "/", 2)[0]
			if p.Answer == nil || p.Answer.CacheKeyType != string(providers.CacheKeyRegistry) || p.Answer.CacheKey != host {
				t.Errorf("Check(%q): answer %+v, want cacheKeyType Registry keyed by %s", tt.image, p.Answer, host)
			}
			password := issued(t, fake, tt.op)
			if diff := cmp.Diff([]harness.Credential{{Username: "AWS", Password: password}}, credentials(img)); diff != "" {
				t.Errorf("Check(%q) credentials (-want +got):\n%s", tt.image, diff)
			}
			if err := reg.AddUser("AWS", password); err != nil {
				t.Fatal(err)
			}

			if _, err := reg.Pull(ctx, tt.image, &credentials(img)[0]); err != nil {
				t.Errorf("Pull(%q) with the ECR token = %v", tt.image, err)
			}
			if _, err := reg.Pull(ctx, tt.image, nil); !harness.IsUnauthorized(err) {
				t.Errorf("Pull(%q) anonymously = %v, want 401", tt.image, err)
			}
			wrong := harness.Credential{Username: "AWS", Password: password[:len(password)-1] + "!"}
			if _, err := reg.Pull(ctx, tt.image, &wrong); !harness.IsUnauthorized(err) {
				t.Errorf("Pull(%q) with a wrong token = %v, want 401", tt.image, err)
			}

			// A second plugin process answers from the shared disk cache: one API call per
			// node and token, not one per pull.
			again := check(t, node, tt.image)
			if diff := cmp.Diff(credentials(img), credentials(again)); diff != "" {
				t.Errorf("second Check(%q) credentials (-first +second):\n%s", tt.image, diff)
			}
			if n := fake.Calls(tt.op); n != 1 {
				t.Errorf("fake ECR got %d %s calls for two checks, want 1 (the plugin's disk cache)", n, tt.op)
			}

			// Another repository on the same registry: the kubelet reuses the Registry answer
			// without an exec, and the token pulls it too.
			push(t, reg, tt.repo+"-other", "v1")
			other := host + "/" + tt.repo + "-other:v1"
			report, err := node.Check(ctx, tt.image, other)
			if err != nil {
				t.Fatal(err)
			}
			oimg, _ := harness.ImageOf(report, other)
			op, _ := harness.ProviderOf(oimg, harness.ECR)
			if op.Exec != nil || op.CachedFrom == nil || op.CachedFrom.Key != host {
				t.Errorf("Check(%q) after %q: %s; want the answer cached under %q reused without an exec", other, tt.image, describe(oimg), host)
			}
			if _, _, err := reg.PullWithAny(ctx, other, credentials(oimg)); err != nil {
				t.Errorf("Pull(%q) with the reused answer = %v", other, err)
			}
		})
	}
}

// TestECRLongToken: real ECR passwords are about 2 KiB; the whole token survives the chain.
func TestECRLongToken(t *testing.T) {
	fake := ecrtest.Start(t)
	fake.SetPasswordLength(2048)
	reg := startRegistry(t, harness.RegistryOptions{Hosts: []string{ecrHost}})
	push(t, reg, "team/app", "v1")
	image := ecrHost + "/team/app:v1"
	img := check(t, newNode(t, ecrProvider(t, fake)), image)
	password := issued(t, fake, ecrtest.GetAuthorizationToken)
	if len(password) < 2048 || len(img.Credentials) != 1 || img.Credentials[0].Password != password {
		t.Fatalf("Check(%q) = %s, want the fake's %d-byte token", image, describe(img), len(password))
	}
	if err := reg.AddUser("AWS", password); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Pull(context.Background(), image, &credentials(img)[0]); err != nil {
		t.Errorf("Pull(%q) with a 2 KiB token = %v", image, err)
	}
}

// TestECRFailureIsReported: when ECR refuses, the plugin fails, pullkeys says so without any
// secret, and the kubelet would pull anonymously: 401.
func TestECRFailureIsReported(t *testing.T) {
	fake := ecrtest.Start(t)
	fake.Inject(ecrtest.GetAuthorizationToken, ecrtest.AccessDenied, -1)
	reg := startRegistry(t, harness.RegistryOptions{Hosts: []string{ecrHost}})
	push(t, reg, "team/app", "v1")
	image := ecrHost + "/team/app:v1"
	node := newNode(t, ecrProvider(t, fake))

	report, err := node.Check(context.Background(), image)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := harness.ImageOf(report, image)
	p, _ := harness.ProviderOf(img, harness.ECR)
	if img.Status != kubelet.StatusError || p.Exec == nil || p.Exec.ExitCode == 0 || len(img.Credentials) != 0 {
		t.Fatalf("Check(%q) with ECR denying = %s, want status error, a failed exec and no credentials", image, describe(img))
	}
	if !strings.Contains(p.Exec.Stderr, "AccessDenied") {
		t.Errorf("plugin stderr = %q, want the AWS error named", p.Exec.Stderr)
	}
	if strings.Contains(p.Exec.Stderr, ecrtest.NodeSecretAccessKey) {
		t.Errorf("plugin stderr holds the node's secret access key: %q", p.Exec.Stderr)
	}
	if report.OK() {
		t.Errorf("Report.OK() = true with a failed plugin, want false")
	}
	if _, err := reg.Pull(context.Background(), image, nil); !harness.IsUnauthorized(err) {
		t.Errorf("Pull(%q) anonymously, as the kubelet does after a plugin failure = %v, want 401", image, err)
	}
}
