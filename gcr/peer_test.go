package gcr

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// TestPeerKubeletEntry: GKE's kubelet config entry for auth-provider-gcp (args
// [get-credentials, --v=3], its flags and environment) works with this binary under that
// name: the node's token is answered, what means something here is done, and what does not
// earns one warning line each.
func TestPeerKubeletEntry(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		env          map[string]string
		wantCode     int
		wantType     providers.CacheKeyType
		wantDuration string // "" for the fresh time left (under an hour)
		wantStderr   []string
	}{
		{name: "GKE's entry: --v=3 logs at verbosity 3", args: []string{"get-credentials", "--v=3"}, wantType: providers.CacheKeyGlobal,
			wantStderr: []string{"level=V3 msg=request", "level=V2 msg=\"gcr: node token\"", "level=V3 msg=response"}},
		{name: "the subcommand alone", args: []string{"get-credentials"}, wantType: providers.CacheKeyGlobal},
		{name: "--authFlow=gcr", args: []string{"get-credentials", "--authFlow=gcr"}, wantType: providers.CacheKeyGlobal},
		{name: "-a gcr", args: []string{"get-credentials", "-a", "gcr"}, wantType: providers.CacheKeyGlobal},
		{name: "klog flags ignored with a warning", args: []string{"get-credentials", "--logtostderr", "--vmodule=x=4"}, wantType: providers.CacheKeyGlobal,
			wantStderr: []string{"flag --logtostderr ignored", "flag --vmodule ignored"}},
		{name: "cache type and duration from the environment", args: []string{"get-credentials"},
			env:      map[string]string{EnvCacheType: "image", EnvCacheDuration: "1m"},
			wantType: providers.CacheKeyImage, wantDuration: "1m0s"},
		{name: "a duration past the fresh time is capped", args: []string{"get-credentials"},
			env:      map[string]string{EnvCacheType: "Registry", EnvCacheDuration: "10h"},
			wantType: providers.CacheKeyRegistry},
		{name: "bad cache type", args: []string{"get-credentials"}, env: map[string]string{EnvCacheType: "pod"}, wantCode: 1,
			wantStderr: []string{EnvCacheType}},
		{name: "bad cache duration", args: []string{"get-credentials"}, env: map[string]string{EnvCacheDuration: "soon"}, wantCode: 1,
			wantStderr: []string{EnvCacheDuration}},
		{name: "another subcommand", args: []string{"list"}, wantCode: 1, wantStderr: []string{`unexpected argument "list"`}},
		{name: "a bad --authFlow", args: []string{"get-credentials", "--authFlow=access-token"}, wantCode: 1, wantStderr: []string{"access-token"}},
		{name: "--identity-provider without --project-id", args: []string{"get-credentials", "--identity-provider=https://container.googleapis.com/v1/projects/p/locations/l/clusters/c"}, wantCode: 1,
			wantStderr: []string{"--identity-provider needs --project-id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := startMetadata(t)
			md.SetAccount("default", gcrtest.Account{Email: gcrtest.DefaultEmail, Scopes: []string{gcrtest.ScopeCloudPlatform}, Token: "node-token"})
			for _, k := range []string{EnvCacheType, EnvCacheDuration} {
				t.Setenv(k, tt.env[k])
			}
			args := append([]string{"--cache-dir=" + t.TempDir()}, tt.args...)
			code, stdout, stderr := execute(t, args, requestJSON(providers.APIVersionV1, "us-docker.pkg.dev/p/r/app", ""))
			if code != tt.wantCode {
				t.Fatalf("Execute(%q) = %d, want %d; stderr %q", args, code, tt.wantCode, stderr)
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("Execute(%q) stderr = %q, want it to say %q", args, stderr, w)
				}
			}
			if code != 0 {
				if stdout != "" {
					t.Errorf("Execute(%q) stdout = %q on failure", args, stdout)
				}
				return
			}
			resp, err := providers.DecodeResponse([]byte(stdout), providers.APIVersionV1)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Auth["*.pkg.dev"].Password; got != "node-token" {
				t.Errorf("password = %q, want the node's token", got)
			}
			if resp.CacheKeyType != tt.wantType {
				t.Errorf("cacheKeyType = %s, want %s", resp.CacheKeyType, tt.wantType)
			}
			switch d := resp.CacheDuration; {
			case d == nil:
				t.Errorf("no cacheDuration")
			case tt.wantDuration != "" && d.Duration.String() != tt.wantDuration:
				t.Errorf("cacheDuration = %s, want %s", d.Duration, tt.wantDuration)
			case tt.wantDuration == "" && (d.Duration <= 0 || d.Duration > time.Hour):
				t.Errorf("cacheDuration = %s, want the token's fresh time left", d.Duration)
			}
			if lines := strings.Count(stderr, "\n"); lines != len(tt.wantStderr) {
				t.Errorf("stderr has %d lines, want %d: %q", lines, len(tt.wantStderr), stderr)
			}
		})
	}
}

// TestPeerWorkloadIdentityImagePull: with auth-provider-gcp's --identity-provider and
// --project-id, a pod whose service account opts in with AnnotationEnableWIImagePull gets its
// token exchanged at STS for the workload pool's audience, used as it is (no impersonation,
// even with a Google service account annotated); every other pod, the node's token.
func TestPeerWorkloadIdentityImagePull(t *testing.T) {
	const provider = "https://container.googleapis.com/v1/projects/my-project/locations/us-central1/clusters/c1"
	sts := gcrtest.NewSTS("identitynamespace:my-project.svc.id.goog:" + provider)
	t.Cleanup(sts.Close)
	sts.Allow(saToken)
	tests := []struct {
		name        string
		annotations map[string]string
		want        string
	}{
		{name: "opted in", annotations: map[string]string{AnnotationEnableWIImagePull: "true"}, want: gcrtest.FederatedToken(saToken)},
		{name: "opted in, a Google service account annotated too", annotations: map[string]string{AnnotationEnableWIImagePull: "true", AnnotationGSA: gsa}, want: gcrtest.FederatedToken(saToken)},
		{name: "not opted in", annotations: map[string]string{AnnotationGSA: gsa}, want: "node-token"},
		{name: "opted out", annotations: map[string]string{AnnotationEnableWIImagePull: "false"}, want: "node-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := startMetadata(t)
			md.SetAccount("default", gcrtest.Account{Email: gcrtest.DefaultEmail, Scopes: []string{gcrtest.ScopeCloudPlatform}, Token: "node-token"})
			args := []string{"get-credentials", "--cache-dir=" + t.TempDir(), "--identity-provider=" + provider, "--project-id=my-project", "--sts-endpoint=" + sts.URL()}
			extra := fmt.Sprintf(`,"serviceAccountToken":%q,"serviceAccountAnnotations":{`, saToken)
			first := true
			for k, v := range tt.annotations {
				if !first {
					extra += ","
				}
				first = false
				extra += fmt.Sprintf("%q:%q", k, v)
			}
			extra += "}"
			code, stdout, stderr := execute(t, args, requestJSON(providers.APIVersionV1, "gcr.io/p/app", extra))
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			assertNoSecrets(t, "stderr", stderr, saToken)
			resp, err := providers.DecodeResponse([]byte(stdout), providers.APIVersionV1)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Auth["gcr.io"].Password; got != tt.want {
				t.Errorf("password = %q, want %q", got, tt.want)
			}
		})
	}
}
