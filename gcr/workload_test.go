package gcr

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/internal/testkit"
	"github.com/pullkeys/pullkeys/providers"
)

const (
	wifProvider = "projects/123456789012/locations/global/workloadIdentityPools/nodes/providers/cluster-a"
	wifAudience = "//iam.googleapis.com/" + wifProvider
	saToken     = "eyJhbGciOiJSUzI1NiJ9.sa-token-payload.signature"
	gsa         = "puller@my-project.iam.gserviceaccount.com"
)

// workload is a provider with workload identity against fake STS and IAM Credentials, and a
// metadata server that must not be called.
type workload struct {
	md    *gcrtest.Metadata
	sts   *gcrtest.STS
	iam   *gcrtest.IAMCredentials
	clock *testkit.Clock
	opts  Options
}

func newWorkload(t *testing.T) *workload {
	t.Helper()
	w := &workload{md: startMetadata(t), sts: gcrtest.NewSTS(wifAudience), iam: gcrtest.NewIAMCredentials(), clock: newClock()}
	t.Cleanup(w.sts.Close)
	t.Cleanup(w.iam.Close)
	w.sts.Allow(saToken)
	w.iam.Allow(gcrtest.FederatedToken(saToken), gsa)
	w.iam.SetClock(w.clock.Now)
	w.opts = Options{
		WorkloadIdentityProvider: wifProvider,
		STSEndpoint:              w.sts.URL(),
		IAMCredentialsEndpoint:   w.iam.URL(),
		HTTPTimeout:              10 * time.Second,
		Cache:                    cache.Options{Dir: t.TempDir()},
	}
	return w
}

func (w *workload) provider(t *testing.T) (*Provider, *testkit.SyncBuffer) {
	t.Helper()
	return testProvider(t, w.clock, w.opts)
}

func saRequest(image, token, annotatedGSA string) *providers.Request {
	req := &providers.Request{Image: image, ServiceAccountToken: token}
	if annotatedGSA != "" {
		req.ServiceAccountAnnotations = map[string]string{AnnotationGSA: annotatedGSA}
	}
	return req
}

func TestWorkloadIdentity(t *testing.T) {
	tests := []struct {
		name       string
		gsa        string
		wantToken  string
		wantIAM    int
		wantExpiry time.Duration
	}{
		{name: "impersonating the annotated Google service account", gsa: gsa,
			wantToken: gcrtest.ImpersonatedToken(gcrtest.FederatedToken(saToken), gsa), wantIAM: 1, wantExpiry: 30 * time.Minute},
		{name: "federated token without annotation", wantToken: gcrtest.FederatedToken(saToken), wantExpiry: 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorkload(t)
			p, logs := w.provider(t)
			got, err := p.Provide(ctxT(t), saRequest("us-docker.pkg.dev/p/r/app", saToken, tt.gsa))
			if err != nil {
				t.Fatalf("Provide() = %v", err)
			}
			want := &providers.Response{
				CacheKeyType:  providers.CacheKeyGlobal,
				CacheDuration: providers.CacheFor(tt.wantExpiry),
				Auth:          tokenAuth(DefaultRegistries(), tt.wantToken),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Provide() mismatch (-want +got):\n%s", diff)
			}
			wantForm := map[string]string{
				"grant_type":           "urn:ietf:params:oauth:grant-type:token-exchange",
				"audience":             wifAudience,
				"scope":                "https://www.googleapis.com/auth/cloud-platform",
				"requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
				"subject_token_type":   "urn:ietf:params:oauth:token-type:jwt",
				"subject_token":        saToken,
			}
			reqs := w.sts.Requests()
			if len(reqs) != 1 {
				t.Fatalf("STS requests = %d, want 1", len(reqs))
			}
			gotForm := make(map[string]string)
			for k := range reqs[0] {
				gotForm[k] = reqs[0].Get(k)
			}
			if diff := cmp.Diff(wantForm, gotForm); diff != "" {
				t.Errorf("STS form mismatch (-want +got):\n%s", diff)
			}
			iamReqs := w.iam.Requests()
			if len(iamReqs) != tt.wantIAM {
				t.Fatalf("IAM requests = %d, want %d", len(iamReqs), tt.wantIAM)
			}
			if tt.wantIAM > 0 {
				wantIAM := gcrtest.IAMRequest{Email: gsa, Bearer: gcrtest.FederatedToken(saToken), Scope: []string{ScopeCloudPlatform}, Lifetime: "3600s"}
				if diff := cmp.Diff(wantIAM, iamReqs[0]); diff != "" {
					t.Errorf("IAM request mismatch (-want +got):\n%s", diff)
				}
			}
			if got := w.md.TotalCalls(); got != 0 {
				t.Errorf("metadata calls for a service account token request = %d, want 0", got)
			}
			assertNoSecrets(t, "the log", logs.String(), saToken, gcrtest.FederatedToken(saToken), tt.wantToken)
		})
	}
}

// TestWorkloadIdentityCacheKey: the cache key holds the token's hash and the Google service
// account, so another token or another annotation is exchanged again.
func TestWorkloadIdentityCacheKey(t *testing.T) {
	w := newWorkload(t)
	const otherToken = "eyJhbGciOiJSUzI1NiJ9.other-payload.signature"
	const otherGSA = "other@my-project.iam.gserviceaccount.com"
	w.sts.Allow(otherToken)
	w.iam.Allow(gcrtest.FederatedToken(otherToken), gsa)
	w.iam.Allow(gcrtest.FederatedToken(saToken), otherGSA)
	steps := []struct {
		name      string
		token     string
		gsa       string
		wantSTS   int
		wantIAM   int
		wantToken string
	}{
		{name: "first request", token: saToken, gsa: gsa, wantSTS: 1, wantIAM: 1,
			wantToken: gcrtest.ImpersonatedToken(gcrtest.FederatedToken(saToken), gsa)},
		{name: "same token and account: cached", token: saToken, gsa: gsa, wantSTS: 1, wantIAM: 1,
			wantToken: gcrtest.ImpersonatedToken(gcrtest.FederatedToken(saToken), gsa)},
		{name: "a rotated token: exchanged again", token: otherToken, gsa: gsa, wantSTS: 2, wantIAM: 2,
			wantToken: gcrtest.ImpersonatedToken(gcrtest.FederatedToken(otherToken), gsa)},
		{name: "same token, another account: exchanged again", token: saToken, gsa: otherGSA, wantSTS: 3, wantIAM: 3,
			wantToken: gcrtest.ImpersonatedToken(gcrtest.FederatedToken(saToken), otherGSA)},
		{name: "same token, no annotation: the federated token", token: saToken, wantSTS: 4, wantIAM: 3,
			wantToken: gcrtest.FederatedToken(saToken)},
	}
	for _, s := range steps {
		p, _ := w.provider(t) // a new process each time, sharing the cache directory
		resp, err := p.Provide(ctxT(t), saRequest("gcr.io/p/app", s.token, s.gsa))
		if err != nil {
			t.Fatalf("%s: Provide() = %v", s.name, err)
		}
		if got := resp.Auth["gcr.io"].Password; got != s.wantToken {
			t.Errorf("%s: Provide() token = %q, want %q", s.name, got, s.wantToken)
		}
		if got, gotIAM := w.sts.Calls(), w.iam.Calls(); got != s.wantSTS || gotIAM != s.wantIAM {
			t.Errorf("%s: STS calls = %d, IAM calls = %d, want %d, %d", s.name, got, gotIAM, s.wantSTS, s.wantIAM)
		}
	}
}

// TestWorkloadIdentityFailsClosed: a request that carries a service account token is never
// answered with the node's identity, whatever fails.
func TestWorkloadIdentityFailsClosed(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(w *workload)
		req     *providers.Request
		want    error
		wantMsg string
	}{
		{
			name:    "workload identity not configured",
			setup:   func(w *workload) { w.opts.WorkloadIdentityProvider = "" },
			req:     saRequest("gcr.io/p/app", saToken, gsa),
			want:    ErrWorkloadIdentityDisabled,
			wantMsg: "--workload-identity-provider is not set",
		},
		{
			name:    "annotations without a token",
			req:     &providers.Request{Image: "gcr.io/p/app", ServiceAccountAnnotations: map[string]string{AnnotationGSA: gsa}},
			want:    ErrWorkloadIdentityDisabled,
			wantMsg: "no service account token",
		},
		{
			name:    "token rejected by STS",
			req:     saRequest("gcr.io/p/app", "eyJ.forged.token", gsa),
			want:    ErrTokenExchange,
			wantMsg: "HTTP 400 invalid_grant: STS rejected the service account token",
		},
		{
			name: "wrong provider",
			setup: func(w *workload) {
				w.opts.WorkloadIdentityProvider = "projects/1/locations/global/workloadIdentityPools/x/providers/y"
			},
			req:     saRequest("gcr.io/p/app", saToken, ""),
			want:    ErrTokenExchange,
			wantMsg: "invalid_target: STS does not know the workload identity provider",
		},
		{
			name:    "STS down",
			setup:   func(w *workload) { w.sts.Fail(http.StatusServiceUnavailable, -1) },
			req:     saRequest("gcr.io/p/app", saToken, gsa),
			want:    ErrTokenExchange,
			wantMsg: "HTTP 503",
		},
		{
			name: "STS too slow",
			setup: func(w *workload) {
				w.sts.SetLatency(time.Hour)
				w.opts.HTTPTimeout = 300 * time.Millisecond
			},
			req:     saRequest("gcr.io/p/app", saToken, gsa),
			want:    ErrTokenExchange,
			wantMsg: "no answer within 300ms",
		},
		{
			name:    "impersonation denied",
			req:     saRequest("gcr.io/p/app", saToken, "admin@my-project.iam.gserviceaccount.com"),
			want:    ErrImpersonation,
			wantMsg: "HTTP 403 PERMISSION_DENIED: grant",
		},
		{
			name:    "IAM down",
			setup:   func(w *workload) { w.iam.Fail(http.StatusInternalServerError, -1) },
			req:     saRequest("gcr.io/p/app", saToken, gsa),
			want:    ErrImpersonation,
			wantMsg: "HTTP 500",
		},
		{
			name:    "annotation is not a service account email",
			req:     saRequest("gcr.io/p/app", saToken, "../../evil"),
			want:    ErrImpersonation,
			wantMsg: "not a Google service account email",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorkload(t)
			if tt.setup != nil {
				tt.setup(w)
			}
			p, logs := w.provider(t)
			resp, err := p.Provide(ctxT(t), tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Provide() = %+v, %v, want %v", resp, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Provide() = %q, want it to say %q", err, tt.wantMsg)
			}
			if got := w.md.TotalCalls(); got != 0 {
				t.Errorf("metadata calls = %d, want 0: the node's identity must not be used", got)
			}
			secrets := []string{saToken, "eyJ.forged.token", gcrtest.FederatedToken(saToken)}
			assertNoSecrets(t, "the error", err.Error(), secrets...)
			assertNoSecrets(t, "the log", logs.String(), secrets...)
		})
	}
}

func TestWorkloadIdentityRetriesOnce(t *testing.T) {
	w := newWorkload(t)
	w.sts.Fail(http.StatusServiceUnavailable, 1)
	w.iam.Fail(http.StatusTooManyRequests, 1)
	p, _ := w.provider(t)
	if _, err := p.Provide(ctxT(t), saRequest("gcr.io/p/app", saToken, gsa)); err != nil {
		t.Fatalf("Provide() after one 503 from STS and one 429 from IAM = %v", err)
	}
	if got, gotIAM := w.sts.Calls(), w.iam.Calls(); got != 2 || gotIAM != 2 {
		t.Errorf("STS calls = %d, IAM calls = %d, want 2 and 2", got, gotIAM)
	}
}
