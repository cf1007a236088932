package gcr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/metadata"
	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/providers"
)

func tokenAuth(patterns []string, token string) map[string]providers.AuthConfig {
	auth := make(map[string]providers.AuthConfig)
	for _, p := range patterns {
		auth[p] = providers.AuthConfig{Username: Username, Password: token}
	}
	return auth
}

func TestNodeToken(t *testing.T) {
	md := startMetadata(t)
	p, logs := testProvider(t, newClock(), Options{})
	resp, err := p.Provide(ctxT(t), request("us-docker.pkg.dev/p/repo/app"))
	if err != nil {
		t.Fatalf("Provide() = %v", err)
	}
	want := &providers.Response{
		CacheKeyType:  providers.CacheKeyGlobal,
		CacheDuration: providers.CacheFor(1799 * time.Second), // half of 3599s, truncated
		Auth:          tokenAuth(DefaultRegistries(), "ya29.fake-1"),
	}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("Provide() mismatch (-want +got):\n%s", diff)
	}
	if got := md.Calls(gcrtest.ScopesPath("default")); got != 1 {
		t.Errorf("scopes calls = %d, want 1", got)
	}
	assertNoSecrets(t, "the log", logs.String(), "ya29.fake-1")
}

// TestNodeTokenSharedCache runs providers as separate plugin processes would (one Provider
// each, one cache directory): one metadata fetch per half-life for all of them.
func TestNodeTokenSharedCache(t *testing.T) {
	md := startMetadata(t)
	clock := newClock()
	dir := t.TempDir()
	provide := func() *providers.Response {
		t.Helper()
		p, _ := testProvider(t, clock, Options{Cache: cache.Options{Dir: dir}})
		resp, err := p.Provide(ctxT(t), request("gcr.io/p/app"))
		if err != nil {
			t.Fatalf("Provide() = %v", err)
		}
		return resp
	}
	first := provide()
	clock.Advance(10 * time.Minute)
	second := provide()
	if got := second.Auth["gcr.io"].Password; got != first.Auth["gcr.io"].Password {
		t.Errorf("second process got token %q, want the cached %q", got, first.Auth["gcr.io"].Password)
	}
	if got, want := second.CacheDuration.Duration, first.CacheDuration.Duration-10*time.Minute; got != want {
		t.Errorf("second process cacheDuration = %v, want %v (the fresh time left)", got, want)
	}
	if got := md.Calls(gcrtest.TokenPath("default")); got != 1 {
		t.Errorf("token calls after two processes = %d, want 1", got)
	}
	clock.Advance(20 * time.Minute) // past the half-life
	third := provide()
	if got := third.Auth["gcr.io"].Password; got != "ya29.fake-2" {
		t.Errorf("after the half-life got token %q, want a new one", got)
	}
	if got := md.Calls(gcrtest.TokenPath("default")); got != 2 {
		t.Errorf("token calls after the half-life = %d, want 2", got)
	}
}

// TestWarmCacheNeedsNoMetadata: with a warm disk cache a new process answers without building
// a metadata client, with the metadata server gone.
func TestWarmCacheNeedsNoMetadata(t *testing.T) {
	md := startMetadata(t)
	clock := newClock()
	dir := t.TempDir()
	p, _ := testProvider(t, clock, Options{Cache: cache.Options{Dir: dir}})
	if _, err := p.Provide(ctxT(t), request("gcr.io/p/app")); err != nil {
		t.Fatalf("Provide() = %v", err)
	}
	md.Close()
	p2, _ := testProvider(t, clock, Options{Cache: cache.Options{Dir: dir}})
	built := p2.metadata
	p2.metadata = func() *metadata.Client {
		t.Error("a metadata client was built although the cache is warm")
		return built()
	}
	if _, err := p2.Provide(ctxT(t), request("eu.gcr.io/p/app")); err != nil {
		t.Fatalf("Provide() with a warm cache = %v", err)
	}
}

func TestNodeTokenConcurrent(t *testing.T) {
	md := startMetadata(t)
	md.SetLatency(20 * time.Millisecond)
	clock := newClock()
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		p, _ := testProvider(t, clock, Options{Cache: cache.Options{Dir: dir}})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Provide(context.Background(), request("gcr.io/p/app"))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Provide() = %v", err)
		}
	}
	if got := md.Calls(gcrtest.TokenPath("default")); got != 1 {
		t.Errorf("token calls from 8 concurrent processes = %d, want 1", got)
	}
}

func TestServiceAccountOption(t *testing.T) {
	md := startMetadata(t)
	const robot = "robot@p.iam.gserviceaccount.com"
	md.SetAccount(robot, gcrtest.Account{Email: robot, Scopes: []string{gcrtest.ScopeDevstorageReadOnly}, Token: "robot-token"})
	p, _ := testProvider(t, newClock(), Options{ServiceAccount: robot})
	resp, err := p.Provide(ctxT(t), request("gcr.io/p/app"))
	if err != nil {
		t.Fatalf("Provide() = %v", err)
	}
	if got := resp.Auth["gcr.io"].Password; got != "robot-token" {
		t.Errorf("Provide() password = %q, want the robot's token", got)
	}
	if got := md.Calls(gcrtest.TokenPath(robot)); got != 1 {
		t.Errorf("calls to the robot's token = %d, want 1", got)
	}
}

func TestScopes(t *testing.T) {
	tests := []struct {
		name    string
		scopes  []string
		wantErr bool
	}{
		{name: "cloud-platform", scopes: []string{gcrtest.ScopeCloudPlatform}},
		{name: "devstorage.read_only among others", scopes: []string{gcrtest.ScopeLoggingWrite, gcrtest.ScopeDevstorageReadOnly, gcrtest.ScopeMonitoring}},
		{name: "devstorage.read_write", scopes: []string{gcrtest.ScopeDevstorageReadWrite}},
		{name: "devstorage.full_control", scopes: []string{ScopeDevstorageFullControl}},
		{name: "logging and monitoring only", scopes: []string{gcrtest.ScopeLoggingWrite, gcrtest.ScopeMonitoring}, wantErr: true},
		{name: "no scopes", scopes: nil, wantErr: true},
		{name: "a prefix of a pull scope", scopes: []string{"https://www.googleapis.com/auth/devstorage"}, wantErr: true},
		{name: "a pull scope over http", scopes: []string{"http://www.googleapis.com/auth/cloud-platform"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := startMetadata(t)
			md.SetScopes("default", tt.scopes...)
			p, _ := testProvider(t, newClock(), Options{})
			_, err := p.Provide(ctxT(t), request("gcr.io/p/app"))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Provide() with scopes %v = %v, want error %v", tt.scopes, err, tt.wantErr)
			}
			if !tt.wantErr {
				return
			}
			if !errors.Is(err, ErrMissingScope) {
				t.Errorf("Provide() = %v, want ErrMissingScope", err)
			}
			if !strings.Contains(err.Error(), ScopeDevstorageReadOnly) {
				t.Errorf("Provide() = %q, want it to name the missing scope %s", err, ScopeDevstorageReadOnly)
			}
			// The token is read together with the scopes (one round trip), and dropped.
			assertNoSecrets(t, "the error", err.Error(), md.Issued()...)
		})
	}
}

// flavored serves handler with the metadata server's header.
func flavored(handler http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Metadata-Flavor", "Google")
		handler(w, r)
	}
}

// tokenServer is a metadata server that answers scopes with cloud-platform and the token
// path with body.
func tokenServer(t *testing.T, body string) string {
	srv := httptest.NewServer(flavored(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/scopes") {
			fmt.Fprintln(w, ScopeCloudPlatform)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// errMetadataAny stands for ErrMetadata or ErrMetadataUnreachable in a test table.
var errMetadataAny = errors.New("ErrMetadata or ErrMetadataUnreachable")

func TestMetadataFailures(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T) // points GCE_METADATA_HOST somewhere
		timeout time.Duration      // 10s if zero: the case ends on an answer, not on the deadline
		want    error
		wantMsg string
	}{
		{
			name:    "nothing listening",
			setup:   func(t *testing.T) { t.Setenv(MetadataHostEnv, closedAddr(t)) },
			timeout: 200 * time.Millisecond, // refused or out of time: unreachable either way
			want:    ErrMetadataUnreachable,
			wantMsg: "is this a GCE node?",
		},
		{
			name: "no answer within the timeout",
			setup: func(t *testing.T) {
				md := startMetadata(t)
				md.SetLatency(time.Hour)
			},
			timeout: 200 * time.Millisecond,
			want:    ErrMetadataUnreachable,
			wantMsg: "within 200ms",
		},
		{
			name: "not a GCE metadata server",
			setup: func(t *testing.T) {
				srv := httptest.NewServer(http.NotFoundHandler())
				t.Cleanup(srv.Close)
				t.Setenv(MetadataHostEnv, strings.TrimPrefix(srv.URL, "http://"))
			},
			want:    ErrMetadataUnreachable,
			wantMsg: "not a GCE metadata server",
		},
		{
			name: "server errors on every attempt",
			setup: func(t *testing.T) {
				md := startMetadata(t)
				md.Fail("", http.StatusServiceUnavailable, -1)
			},
			timeout: 2 * time.Second,
			// ErrMetadata when the library's five retries end first, ErrMetadataUnreachable
			// (naming the last attempt) when the deadline does.
			want:    errMetadataAny,
			wantMsg: "HTTP 503",
		},
		{
			name: "forbidden",
			setup: func(t *testing.T) {
				md := startMetadata(t)
				md.Fail(gcrtest.TokenPath("default"), http.StatusForbidden, -1)
			},
			want:    ErrMetadata,
			wantMsg: "HTTP 403",
		},
		{
			name: "malformed token document",
			setup: func(t *testing.T) {
				t.Setenv(MetadataHostEnv, tokenServer(t, `{"access_token": "secret-token", "expires_in": "soon"}`))
			},
			want:    ErrMetadata,
			wantMsg: "malformed token document",
		},
		{
			name:    "no access token",
			setup:   func(t *testing.T) { t.Setenv(MetadataHostEnv, tokenServer(t, `{"expires_in": 3599}`)) },
			want:    ErrMetadata,
			wantMsg: "no access_token",
		},
		{
			name: "no lifetime",
			setup: func(t *testing.T) {
				t.Setenv(MetadataHostEnv, tokenServer(t, `{"access_token": "secret-token", "token_type": "Bearer"}`))
			},
			want:    ErrMetadata,
			wantMsg: "expires_in 0",
		},
		{
			name: "not a bearer token",
			setup: func(t *testing.T) {
				t.Setenv(MetadataHostEnv, tokenServer(t, `{"access_token": "secret-token", "expires_in": 60, "token_type": "MAC"}`))
			},
			want:    ErrMetadata,
			wantMsg: `token_type "MAC"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup(t)
			if tt.timeout == 0 {
				// Not 200ms: under -race on a loaded machine the answer can come later than
				// that, and the case would see ErrMetadataUnreachable instead of its error.
				tt.timeout = 10 * time.Second
			}
			p, logs := testProvider(t, newClock(), Options{MetadataTimeout: tt.timeout})
			start := time.Now()
			resp, err := p.Provide(ctxT(t), request("gcr.io/p/app"))
			if tt.want == errMetadataAny && (errors.Is(err, ErrMetadata) || errors.Is(err, ErrMetadataUnreachable)) {
				tt.want = err
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Provide() = %+v, %v, want %v", resp, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Provide() = %q, want it to say %q", err, tt.wantMsg)
			}
			// A hang detector, not a timing assertion: the deadline is at most 10s.
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("Provide() took %v with a %v metadata timeout", d, tt.timeout)
			}
			assertNoSecrets(t, "the error", err.Error(), "secret-token", "ya29.")
			assertNoSecrets(t, "the log", logs.String(), "secret-token", "ya29.")
		})
	}
}

func TestUnknownServiceAccount(t *testing.T) {
	startMetadata(t)
	p, _ := testProvider(t, newClock(), Options{ServiceAccount: "ghost@p.iam.gserviceaccount.com"})
	_, err := p.Provide(ctxT(t), request("gcr.io/p/app"))
	if !errors.Is(err, ErrNotDefined) || !strings.Contains(err.Error(), "not attached to this instance") {
		t.Fatalf("Provide() = %v, want ErrNotDefined saying the account is not attached", err)
	}
}

func TestMetadataRetriesTransientErrors(t *testing.T) {
	md := startMetadata(t)
	md.Fail(gcrtest.TokenPath("default"), http.StatusServiceUnavailable, 1)
	p, _ := testProvider(t, newClock(), Options{})
	if _, err := p.Provide(ctxT(t), request("gcr.io/p/app")); err != nil {
		t.Fatalf("Provide() after one 503 = %v", err)
	}
	if got := md.Calls(gcrtest.TokenPath("default")); got != 2 {
		t.Errorf("token calls = %d, want 2 (one retry)", got)
	}
}

// TestStaleTokenOnMetadataFailure: past the half-life a failed refresh serves the previous
// token (the cache's stale-if-error) and tells the kubelet not to cache it.
func TestStaleTokenOnMetadataFailure(t *testing.T) {
	md := startMetadata(t)
	clock := newClock()
	dir := t.TempDir()
	p, _ := testProvider(t, clock, Options{Cache: cacheDir(dir)})
	if _, err := p.Provide(ctxT(t), request("gcr.io/p/app")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(40 * time.Minute)
	md.Fail("", http.StatusInternalServerError, -1)
	p, _ = testProvider(t, clock, Options{Cache: cacheDir(dir), MetadataTimeout: 200 * time.Millisecond})
	resp, err := p.Provide(ctxT(t), request("gcr.io/p/app"))
	if err != nil {
		t.Fatalf("Provide() with a failing metadata server and a stale token = %v", err)
	}
	if resp.Auth["gcr.io"].Password != "ya29.fake-1" || resp.CacheDuration.Duration != 0 {
		t.Errorf("Provide() = %v token, cacheDuration %v; want the stale token, not cached", resp.Auth["gcr.io"].Password == "ya29.fake-1", resp.CacheDuration)
	}
}

func TestProviderLogsNoSecrets(t *testing.T) {
	md := startMetadata(t)
	md.SetAccount("default", gcrtest.Account{Email: gcrtest.DefaultEmail, Scopes: []string{gcrtest.ScopeCloudPlatform}, Token: "very-secret-token"})
	p, logs := testProvider(t, newClock(), Options{})
	ctx := providers.WithLogger(ctxT(t), providers.NewLogger(logs, 10))
	resp, err := p.Provide(ctx, request("gcr.io/p/app"))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(resp)
	if !strings.Contains(string(out), "very-secret-token") {
		t.Fatalf("response does not carry the token: %s", out)
	}
	if !strings.Contains(logs.String(), "gcr: node token") {
		t.Errorf("log lacks the node token line:\n%s", logs)
	}
	assertNoSecrets(t, "the log", logs.String(), "very-secret-token")
}
