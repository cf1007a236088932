package e2e

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
)

// gcrUser is the user name of Google registries' access-token logins.
const gcrUser = "oauth2accesstoken"

// startMetadata starts a fake GCE metadata server whose default account has the
// cloud-platform scope and serves token on every request.
func startMetadata(t *testing.T, token string) *gcrtest.Metadata {
	t.Helper()
	md := gcrtest.NewMetadata()
	t.Cleanup(md.Close)
	md.SetAccount("default", gcrtest.Account{Email: gcrtest.DefaultEmail, Scopes: []string{gcrtest.ScopeCloudPlatform}, Token: token})
	return md
}

// gcrProvider is the config entry an operator writes for the GCR plugin, pointed at the fake
// metadata server through the config's env and with a cache directory of its own.
func gcrProvider(t *testing.T, md *gcrtest.Metadata) harness.Provider {
	return harness.NewProvider(harness.GCR, gcr.DefaultRegistries(), map[string]string{"GCE_METADATA_HOST": md.Host()}, "--cache-dir="+t.TempDir())
}

func TestGCR(t *testing.T) {
	ctx := context.Background()
	token := "ya29.e2e-" + harness.RandomString(40)
	md := startMetadata(t, token)
	reg := startRegistry(t, harness.RegistryOptions{
		Hosts: []string{"gcr.io", "us-docker.pkg.dev"},
		Users: map[string]string{gcrUser: token},
	})
	push(t, reg, gcrtest.ProjectID+"/app", "v1")
	push(t, reg, gcrtest.ProjectID+"/repo/app", "v1")
	node := newNode(t, gcrProvider(t, md))

	containerRegistry := "gcr.io/" + gcrtest.ProjectID + "/app:v1"
	artifactRegistry := "us-docker.pkg.dev/" + gcrtest.ProjectID + "/repo/app:v1"
	report, err := node.Check(ctx, containerRegistry, artifactRegistry)
	if err != nil {
		t.Fatal(err)
	}
	if errs := report.Problems.Errors(); len(errs) > 0 {
		t.Fatalf("config problems: %v", errs)
	}
	for i, image := range []string{containerRegistry, artifactRegistry} {
		img, err := harness.ImageOf(report, image)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]harness.Credential{{Username: gcrUser, Password: token}}, credentials(img)); diff != "" {
			t.Fatalf("Check(%q) credentials (-want +got):\n%s\n%s", image, diff, describe(img))
		}
		p, _ := harness.ProviderOf(img, harness.GCR)
		if p.Answer == nil || p.Answer.CacheKeyType != string(providers.CacheKeyGlobal) {
			t.Errorf("Check(%q): answer %+v, want cacheKeyType Global", image, p.Answer)
		}
		// The kubelet reuses a Global answer for every image its matchImages match: the
		// second image gets the first one's answer without an exec.
		if i == 1 && (p.CachedFrom == nil || p.Exec != nil || p.CachedFrom.Key != kubelet.GlobalCacheKey) {
			t.Errorf("Check(%q): cachedFrom %+v, exec %v; want the Global answer of %s reused without an exec", image, p.CachedFrom, p.Exec != nil, containerRegistry)
		}
		if _, err := reg.Pull(ctx, image, &credentials(img)[0]); err != nil {
			t.Errorf("Pull(%q) with the metadata token = %v", image, err)
		}
		if _, err := reg.Pull(ctx, image, nil); !harness.IsUnauthorized(err) {
			t.Errorf("Pull(%q) anonymously = %v, want 401", image, err)
		}
		if _, err := reg.Pull(ctx, image, &harness.Credential{Username: gcrUser, Password: "ya29.stale"}); !harness.IsUnauthorized(err) {
			t.Errorf("Pull(%q) with a wrong token = %v, want 401", image, err)
		}
	}
	if n := md.Calls(gcrtest.TokenPath("default")); n != 1 {
		t.Errorf("metadata token calls = %d, want 1", n)
	}
}

// TestGCRMissingScope: a node account without a storage scope gets no token, and the plugin
// says which scope is missing; the pull goes anonymous and fails.
func TestGCRMissingScope(t *testing.T) {
	token := "ya29.e2e-" + harness.RandomString(40)
	md := startMetadata(t, token)
	md.SetScopes("default", gcrtest.ScopeLoggingWrite)
	reg := startRegistry(t, harness.RegistryOptions{Hosts: []string{"gcr.io"}, Users: map[string]string{gcrUser: token}})
	push(t, reg, gcrtest.ProjectID+"/app", "v1")
	image := "gcr.io/" + gcrtest.ProjectID + "/app:v1"

	report, err := newNode(t, gcrProvider(t, md)).Check(context.Background(), image)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := harness.ImageOf(report, image)
	p, _ := harness.ProviderOf(img, harness.GCR)
	if img.Status != kubelet.StatusError || p.Exec == nil || p.Exec.ExitCode == 0 || len(img.Credentials) != 0 {
		t.Fatalf("Check(%q) without a storage scope = %s, want a failed exec and no credentials", image, describe(img))
	}
	if !contains(p.Exec.Stderr, "devstorage") || contains(p.Exec.Stderr, token) {
		t.Errorf("plugin stderr = %q, want the missing scope named and no token", p.Exec.Stderr)
	}
	if _, err := reg.Pull(context.Background(), image, nil); !harness.IsUnauthorized(err) {
		t.Errorf("Pull(%q) anonymously = %v, want 401", image, err)
	}
}
