package gcr

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// execute runs the binary's Main as the kubelet would and returns the exit code, stdout and
// stderr.
func execute(t *testing.T, args []string, stdin string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := providers.Execute(context.Background(), Plugin(), args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func requestJSON(apiVersion, image, extra string) string {
	return fmt.Sprintf(`{"apiVersion":%q,"kind":"CredentialProviderRequest","image":%q%s}`, apiVersion, image, extra)
}

func TestExecuteEveryAPIVersion(t *testing.T) {
	for _, v := range providers.APIVersions() {
		t.Run(v, func(t *testing.T) {
			md := startMetadata(t)
			md.SetAccount("default", gcrtest.Account{Email: gcrtest.DefaultEmail, Scopes: []string{gcrtest.ScopeCloudPlatform}, Token: "node-token"})
			code, stdout, stderr := execute(t, []string{"--cache-dir=" + t.TempDir()}, requestJSON(v, "gcr.io/p/app:1.0", ""))
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			resp, err := providers.DecodeResponse([]byte(stdout), v)
			if err != nil {
				t.Fatalf("DecodeResponse(%s, %q) = %v", stdout, v, err)
			}
			want := tokenAuth(DefaultRegistries(), "node-token")
			if diff := cmp.Diff(want, resp.Auth); diff != "" {
				t.Errorf("auth mismatch (-want +got):\n%s", diff)
			}
			if resp.CacheKeyType != providers.CacheKeyGlobal {
				t.Errorf("cacheKeyType = %q, want Global", resp.CacheKeyType)
			}
		})
	}
}

func TestExecuteServiceAccountToken(t *testing.T) {
	w := newWorkload(t)
	extra := fmt.Sprintf(`,"serviceAccountToken":%q,"serviceAccountAnnotations":{%q:%q}`, saToken, AnnotationGSA, gsa)
	args := []string{
		"--cache-dir=" + t.TempDir(),
		"--workload-identity-provider=" + wifAudience,
		"--sts-endpoint=" + w.sts.URL(),
		"--iam-credentials-endpoint=" + w.iam.URL(),
	}
	code, stdout, stderr := execute(t, args, requestJSON(providers.APIVersionV1, "europe-west1-docker.pkg.dev/p/r/app", extra))
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	resp, err := providers.DecodeResponse([]byte(stdout), providers.APIVersionV1)
	if err != nil {
		t.Fatal(err)
	}
	want := gcrtest.ImpersonatedToken(gcrtest.FederatedToken(saToken), gsa)
	if got := resp.Auth["*.pkg.dev"].Password; got != want {
		t.Errorf("password for *.pkg.dev = %q, want the impersonated token", got)
	}

	// The same request without --workload-identity-provider fails, and says nothing secret.
	code, stdout, stderr = execute(t, args[:1], requestJSON(providers.APIVersionV1, "gcr.io/p/app", extra))
	if code != 1 || stdout != "" || !strings.Contains(stderr, "workload identity not configured") {
		t.Errorf("without workload identity: exit %d, stdout %q, stderr %q; want exit 1, no stdout, the reason", code, stdout, stderr)
	}
	assertNoSecrets(t, "stderr", stderr, saToken)
}

func TestExecuteFailures(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		image      string
		wantStderr string
	}{
		{name: "not a Google host", image: "registry.example.com/app", wantStderr: "not a Google registry host"},
		{name: "lookalike host", image: "gcr.io.evil.io/app", wantStderr: "no credentials for gcr.io.evil.io"},
		{name: "unknown auth flow", args: []string{"--auth-flow=magic"}, image: "gcr.io/p/app", wantStderr: `invalid option "magic"`},
		{name: "registry pattern too wide", args: []string{"--registry=*.io"}, image: "gcr.io/p/app", wantStderr: "must be literal"},
		{name: "registry with a scheme", args: []string{"--registry=https://mirror.example.com"}, image: "gcr.io/p/app", wantStderr: "has a scheme"},
		{name: "malformed workload identity provider", args: []string{"--workload-identity-provider=my-pool"}, image: "gcr.io/p/app", wantStderr: "--workload-identity-provider"},
		{name: "STS over plain http", args: []string{"--sts-endpoint=http://sts.example.com/v1/token"}, image: "gcr.io/p/app", wantStderr: "loopback"},
		{name: "bad service account", args: []string{"--service-account=../../attributes"}, image: "gcr.io/p/app", wantStderr: "--service-account"},
		{name: "narrow scopes", image: "gcr.io/p/app", wantStderr: "missing scope https://www.googleapis.com/auth/devstorage.read_only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := startMetadata(t)
			md.SetAccount("default", gcrtest.Account{Email: gcrtest.DefaultEmail, Scopes: []string{gcrtest.ScopeLoggingWrite}, Token: "node-token"})
			if tt.name != "narrow scopes" {
				md.SetScopes("default", gcrtest.ScopeCloudPlatform)
			}
			args := append([]string{"--cache-dir=" + t.TempDir()}, tt.args...)
			code, stdout, stderr := execute(t, args, requestJSON(providers.APIVersionV1, tt.image, ""))
			if code != 1 || stdout != "" {
				t.Fatalf("exit %d, stdout %q; want exit 1 and nothing on stdout", code, stdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr = %q, want one line with %q", stderr, tt.wantStderr)
			}
			assertNoSecrets(t, "stderr", stderr, "node-token")
		})
	}
}
