package gcr

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/providers"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// configJSON is a config.json with a host key, a path-scoped key, a key for another
// registry and a credential helper.
var configJSON = `{
  "auths": {
    "https://gcr.io": {"auth": "` + b64("gcr-user:gcr-secret") + `"},
    "us-docker.pkg.dev/team": {"username": "team-user", "password": "team-secret"},
    "docker.io": {"auth": "` + b64("hub-user:hub-secret") + `"}
  },
  "credHelpers": {"eu.gcr.io": "gcloud"}
}`

// legacyDockercfg is the same in the .dockercfg shape GCE used to document.
var legacyDockercfg = `{"https://gcr.io": {"auth": "` + b64("gcr-user:gcr-secret") + `", "email": "x@example.com"}}`

func TestDockercfgFlow(t *testing.T) {
	tests := []struct {
		name     string
		document string
		image    string
		want     *providers.Response
	}{
		{
			name: "host key", document: configJSON, image: "gcr.io/p/app",
			want: &providers.Response{
				CacheKeyType:  providers.CacheKeyRegistry,
				CacheDuration: providers.CacheFor(5 * time.Minute),
				Auth:          map[string]providers.AuthConfig{"gcr.io": {Username: "gcr-user", Password: "gcr-secret"}},
			},
		},
		{
			name: "path-scoped key, cached per image", document: configJSON, image: "us-docker.pkg.dev/team/repo/app",
			want: &providers.Response{
				CacheKeyType:  providers.CacheKeyImage,
				CacheDuration: providers.CacheFor(5 * time.Minute),
				Auth:          map[string]providers.AuthConfig{"us-docker.pkg.dev/team": {Username: "team-user", Password: "team-secret"}},
			},
		},
		{
			name: "another path on a registry with a path-scoped key gets nothing", document: configJSON, image: "us-docker.pkg.dev/other/repo/app",
			want: &providers.Response{
				CacheKeyType:  providers.CacheKeyImage,
				CacheDuration: providers.CacheFor(5 * time.Minute),
				Auth:          map[string]providers.AuthConfig{},
			},
		},
		{
			name: "credential helper entries are not run", document: configJSON, image: "eu.gcr.io/p/app",
			want: &providers.Response{
				CacheKeyType:  providers.CacheKeyRegistry,
				CacheDuration: providers.CacheFor(5 * time.Minute),
				Auth:          map[string]providers.AuthConfig{},
			},
		},
		{
			name: "legacy .dockercfg", document: legacyDockercfg, image: "gcr.io/p/app",
			want: &providers.Response{
				CacheKeyType:  providers.CacheKeyRegistry,
				CacheDuration: providers.CacheFor(5 * time.Minute),
				Auth:          map[string]providers.AuthConfig{"gcr.io": {Username: "gcr-user", Password: "gcr-secret"}},
			},
		},
	}
	for _, flow := range []AuthFlow{FlowDockercfg, FlowDockercfgURL} {
		for _, tt := range tests {
			t.Run(string(flow)+"/"+tt.name, func(t *testing.T) {
				md := startMetadata(t)
				serveDocument(t, md, flow, tt.document)
				p, logs := testProvider(t, newClock(), Options{AuthFlow: flow})
				got, err := p.Provide(ctxT(t), request(tt.image))
				if err != nil {
					t.Fatalf("Provide(%q) = %v", tt.image, err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Provide(%q) mismatch (-want +got):\n%s", tt.image, diff)
				}
				assertNoSecrets(t, "the log", logs.String(), "gcr-secret", "team-secret", "hub-secret", b64("gcr-user:gcr-secret"))
			})
		}
	}
}

// serveDocument puts document where flow reads it: in the google-dockercfg attribute, or on
// a loopback server named by google-dockercfg-url.
func serveDocument(t *testing.T, md *gcrtest.Metadata, flow AuthFlow, document string) *httptest.Server {
	t.Helper()
	if flow == FlowDockercfg {
		md.SetAttribute("google-dockercfg", document)
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, document)
	}))
	t.Cleanup(srv.Close)
	md.SetAttribute("google-dockercfg-url", srv.URL+"/dockercfg?X-Goog-Signature=sig-secret")
	return srv
}

func TestDockercfgCached(t *testing.T) {
	md := startMetadata(t)
	md.SetAttribute("google-dockercfg", configJSON)
	clock := newClock()
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		p, _ := testProvider(t, clock, Options{AuthFlow: FlowDockercfg, Cache: cacheDir(dir)})
		if _, err := p.Provide(ctxT(t), request("gcr.io/p/app")); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
	}
	if got := md.Calls(gcrtest.AttributePath("google-dockercfg")); got != 1 {
		t.Errorf("attribute reads by 3 processes within 5 minutes = %d, want 1", got)
	}
	clock.Advance(5 * time.Minute)
	p, _ := testProvider(t, clock, Options{AuthFlow: FlowDockercfg, Cache: cacheDir(dir)})
	if _, err := p.Provide(ctxT(t), request("gcr.io/p/app")); err != nil {
		t.Fatal(err)
	}
	if got := md.Calls(gcrtest.AttributePath("google-dockercfg")); got != 2 {
		t.Errorf("attribute reads after 8 minutes = %d, want 2", got)
	}
}

func TestDockercfgFailures(t *testing.T) {
	tests := []struct {
		name    string
		flow    AuthFlow
		setup   func(t *testing.T, md *gcrtest.Metadata)
		short   bool // a 200ms download timeout
		want    error
		wantMsg string
	}{
		{
			name: "attribute unset", flow: FlowDockercfg,
			setup: func(t *testing.T, md *gcrtest.Metadata) {},
			want:  ErrNotDefined, wantMsg: "google-dockercfg",
		},
		{
			name: "malformed document", flow: FlowDockercfg,
			setup: func(t *testing.T, md *gcrtest.Metadata) {
				md.SetAttribute("google-dockercfg", `{"auths": {"gcr.io": {"auth": "`+b64("u:doc-secret")+`"}`)
			},
			want: ErrDockercfg, wantMsg: "malformed",
		},
		{
			name: "url attribute unset", flow: FlowDockercfgURL,
			setup: func(t *testing.T, md *gcrtest.Metadata) {},
			want:  ErrNotDefined, wantMsg: "google-dockercfg-url",
		},
		{
			name: "url not http", flow: FlowDockercfgURL,
			setup: func(t *testing.T, md *gcrtest.Metadata) {
				md.SetAttribute("google-dockercfg-url", "file:///etc/shadow")
			},
			want: ErrDockercfg, wantMsg: "not an http(s) URL",
		},
		{
			name: "url answers 404", flow: FlowDockercfgURL,
			setup: func(t *testing.T, md *gcrtest.Metadata) {
				srv := httptest.NewServer(http.NotFoundHandler())
				t.Cleanup(srv.Close)
				md.SetAttribute("google-dockercfg-url", srv.URL+"/x?sig=sig-secret")
			},
			want: ErrDockercfg, wantMsg: "HTTP 404",
		},
		{
			name: "url redirects", flow: FlowDockercfgURL,
			setup: func(t *testing.T, md *gcrtest.Metadata) {
				srv := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/elsewhere", http.StatusFound))
				t.Cleanup(srv.Close)
				md.SetAttribute("google-dockercfg-url", srv.URL+"/x?sig=sig-secret")
			},
			want: ErrDockercfg, wantMsg: "redirects are not followed",
		},
		{
			name: "document too large", flow: FlowDockercfgURL,
			setup: func(t *testing.T, md *gcrtest.Metadata) {
				big := `{"auths":{}, "pad": "` + strings.Repeat("x", MaxDockercfgBytes) + `"}`
				serveDocument(t, md, FlowDockercfgURL, big)
			},
			want: ErrDockercfg, wantMsg: "more than",
		},
		{
			name: "url too slow", flow: FlowDockercfgURL,
			setup: func(t *testing.T, md *gcrtest.Metadata) {
				release := make(chan struct{})
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-r.Context().Done():
					case <-release:
					}
				}))
				t.Cleanup(srv.Close)
				t.Cleanup(func() { close(release) })
				md.SetAttribute("google-dockercfg-url", srv.URL+"/x?sig=sig-secret")
			},
			short: true,
			want:  ErrDockercfg, wantMsg: "no answer within 200ms",
		},
		{
			name: "nothing listening at the url", flow: FlowDockercfgURL,
			setup: func(t *testing.T, md *gcrtest.Metadata) {
				md.SetAttribute("google-dockercfg-url", "http://"+closedAddr(t)+"/x?sig=sig-secret")
			},
			want: ErrDockercfg, wantMsg: "connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := startMetadata(t)
			tt.setup(t, md)
			timeout := 10 * time.Second
			if tt.short {
				timeout = 200 * time.Millisecond
			}
			p, logs := testProvider(t, newClock(), Options{AuthFlow: tt.flow, DockercfgURLTimeout: timeout})
			resp, err := p.Provide(ctxT(t), request("gcr.io/p/app"))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Provide() = %+v, %v, want %v", resp, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Provide() = %q, want it to say %q", err, tt.wantMsg)
			}
			assertNoSecrets(t, "the error", err.Error(), "doc-secret", "sig-secret", "/etc/shadow")
			assertNoSecrets(t, "the log", logs.String(), "doc-secret", "sig-secret")
		})
	}
}

func TestDockercfgURLOnMetadataServer(t *testing.T) {
	// A google-dockercfg-url may name the metadata server itself (another attribute): the
	// download then carries Metadata-Flavor, which the server insists on.
	md := startMetadata(t)
	md.SetAttribute("my-dockercfg", legacyDockercfg)
	md.SetAttribute("google-dockercfg-url", md.URL()+"/computeMetadata/v1/instance/attributes/my-dockercfg")
	t.Setenv("HTTP_PROXY", "http://"+closedAddr(t)) // never used for the metadata server
	p, _ := testProvider(t, newClock(), Options{AuthFlow: FlowDockercfgURL})
	resp, err := p.Provide(ctxT(t), request("gcr.io/p/app"))
	if err != nil {
		t.Fatalf("Provide() = %v", err)
	}
	if got := resp.Auth["gcr.io"].Username; got != "gcr-user" {
		t.Errorf("Provide() username = %q, want gcr-user", got)
	}
}
