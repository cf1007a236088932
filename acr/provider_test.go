package acr_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/acr"
	"github.com/pullkeys/pullkeys/acr/acrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// TestIdentities runs each way to an identity, from the cloud config or the request, against
// the fake, and checks who the refresh token was issued to.
func TestIdentities(t *testing.T) {
	tests := []struct {
		name       string
		config     map[string]any // nil: no cloud config
		opts       func(*acr.Options)
		req        providers.Request
		wantClient string
		wantTenant string // the exchange's tenant parameter
		wantIMDS   bool   // the token came from IMDS, else from AAD
	}{
		{
			name:       "no cloud config: system-assigned managed identity",
			wantClient: acrtest.SystemAssignedID, wantTenant: "", wantIMDS: true,
		},
		{
			name:       "useManagedIdentityExtension: system-assigned",
			config:     map[string]any{"cloud": "AzurePublicCloud", "tenantId": spTenant, "useManagedIdentityExtension": true, "aadClientId": "msi", "aadClientSecret": "msi"},
			wantClient: acrtest.SystemAssignedID, wantTenant: spTenant, wantIMDS: true,
		},
		{
			name:       "userAssignedIdentityID: user-assigned by client ID",
			config:     map[string]any{"tenantId": spTenant, "useManagedIdentityExtension": true, "userAssignedIdentityID": acrtest.UserAssignedID},
			wantClient: acrtest.UserAssignedID, wantTenant: spTenant, wantIMDS: true,
		},
		{
			name:       "userAssignedIdentityID: user-assigned by resource ID",
			config:     map[string]any{"useManagedIdentityExtension": true, "userAssignedIdentityID": "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + acrtest.UserAssignedID},
			wantClient: acrtest.UserAssignedID, wantIMDS: true,
		},
		{
			name:       "--user-assigned-identity-id overrides the service principal",
			config:     map[string]any{"tenantId": spTenant, "aadClientId": spClientID, "aadClientSecret": spSecret},
			opts:       func(o *acr.Options) { o.UserAssignedIdentityID = acrtest.UserAssignedID },
			wantClient: acrtest.UserAssignedID, wantTenant: spTenant, wantIMDS: true,
		},
		{
			name:       "service principal with a client secret",
			config:     map[string]any{"cloud": "AzurePublicCloud", "tenantId": spTenant, "aadClientId": spClientID, "aadClientSecret": spSecret},
			wantClient: spClientID, wantTenant: spTenant,
		},
		{
			name: "pod service account token as a client assertion",
			req: providers.Request{ServiceAccountToken: saToken(saSubject), ServiceAccountAnnotations: map[string]string{
				acr.AnnotationClientID: wiClientID, acr.AnnotationTenantID: spTenant}},
			wantClient: wiClientID, wantTenant: spTenant,
		},
		{
			name:       "pod token without annotations: not opted in, the node's identity",
			config:     map[string]any{"tenantId": spTenant, "useManagedIdentityExtension": true},
			req:        providers.Request{ServiceAccountToken: saToken(saSubject)},
			wantClient: acrtest.SystemAssignedID, wantTenant: spTenant, wantIMDS: true,
		},
		{
			name:   "pod token: tenant from the cloud config when the annotation is absent",
			config: map[string]any{"tenantId": spTenant, "useManagedIdentityExtension": true},
			req: providers.Request{ServiceAccountToken: saToken(saSubject), ServiceAccountAnnotations: map[string]string{
				acr.AnnotationClientID: wiClientID}},
			wantClient: wiClientID, wantTenant: spTenant,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t)
			p := newProvider(t, f, func(o *acr.Options) {
				if tt.config != nil {
					o.CloudConfig = writeConfig(t, tt.config)
				}
				if tt.opts != nil {
					tt.opts(o)
				}
			})
			req := tt.req
			req.Image = acrtest.LoginServer + "/team/app"
			resp, err := provide(t, p, &req)
			if err != nil {
				t.Fatalf("Provide: %v", err)
			}
			auth, ok := resp.Auth[acrtest.LoginServer]
			if !ok || len(resp.Auth) != 1 {
				t.Fatalf("auth keys = %v, want only %s", keys(resp.Auth), acrtest.LoginServer)
			}
			if auth.Username != acr.Username {
				t.Errorf("username = %q, want %q", auth.Username, acr.Username)
			}
			aud, _, client, _, ok := acrtest.Claims(auth.Password)
			if !ok || aud != acrtest.LoginServer || client != tt.wantClient {
				t.Errorf("refresh token for audience %q client %q, want %q and %q", aud, client, acrtest.LoginServer, tt.wantClient)
			}
			ex := f.Requests(acrtest.Exchange)
			if len(ex) != 1 || ex[0].Service != acrtest.LoginServer || ex[0].Tenant != tt.wantTenant || ex[0].GrantType != "access_token" {
				t.Errorf("exchanges = %+v, want one for service %s tenant %q grant access_token", ex, acrtest.LoginServer, tt.wantTenant)
			}
			imds, aad := f.Counts(acrtest.IMDSToken), f.Counts(acrtest.AADToken)
			if tt.wantIMDS && (imds != 1 || aad != 0) || !tt.wantIMDS && (imds != 0 || aad != 1) {
				t.Errorf("IMDS calls %d, AAD calls %d; want the token from IMDS: %v", imds, aad, tt.wantIMDS)
			}
			for _, r := range f.Requests(acrtest.IMDSToken) {
				if r.Resource != acrtest.Audience {
					t.Errorf("IMDS resource = %q, want %q", r.Resource, acrtest.Audience)
				}
			}
			for _, r := range f.Requests(acrtest.AADToken) {
				// MSAL adds the OpenID scopes; the resource scope must be the registry's, not ARM's.
				if !slices.Contains(strings.Fields(r.Resource), acrtest.Audience+"/.default") || strings.Contains(r.Resource, "management") {
					t.Errorf("AAD scope = %q, want %q", r.Resource, acrtest.Audience+"/.default")
				}
			}
			if resp.CacheKeyType != providers.CacheKeyRegistry {
				t.Errorf("cacheKeyType = %q, want Registry", resp.CacheKeyType)
			}
			if d := resp.CacheDuration.Duration; d <= 0 || d > acrtest.RefreshTokenLifetime/2 {
				t.Errorf("cacheDuration = %s, want in (0, %s]", d, acrtest.RefreshTokenLifetime/2)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestClouds checks that the registry's suffix picks the AAD authority of its cloud, that a
// --registry-suffix registry takes the cloud config's cloud, and that --authority-host wins.
func TestClouds(t *testing.T) {
	tests := []struct {
		name          string
		registry      string
		cloud         string
		suffixes      []string
		authority     string
		wantAuthority string
	}{
		{name: "public", registry: "pullkeystest.azurecr.io", wantAuthority: "login.microsoftonline.com"},
		{name: "china", registry: "pullkeystest.azurecr.cn", wantAuthority: "login.chinacloudapi.cn"},
		{name: "us government", registry: "pullkeystest.azurecr.us", wantAuthority: "login.microsoftonline.us"},
		{name: "china registry on a node configured for the public cloud", registry: "pullkeystest.azurecr.cn", cloud: "AzurePublicCloud", wantAuthority: "login.chinacloudapi.cn"},
		{name: "registry suffix takes the cloud config's cloud", registry: "pullkeystest.azurecr.example.cloud", cloud: "AzureUSGovernmentCloud", suffixes: []string{"azurecr.example.cloud"}, wantAuthority: "login.microsoftonline.us"},
		{name: "authority host override", registry: "pullkeystest.azurecr.io", authority: "https://login.example.cloud/", wantAuthority: "login.example.cloud"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t)
			f.AddRegistry(tt.registry)
			cfg := map[string]any{"tenantId": spTenant, "aadClientId": spClientID, "aadClientSecret": spSecret}
			if tt.cloud != "" {
				cfg["cloud"] = tt.cloud
			}
			p := newProvider(t, f, func(o *acr.Options) {
				o.CloudConfig = writeConfig(t, cfg)
				o.RegistrySuffixes = tt.suffixes
				o.AuthorityHost = tt.authority
			})
			resp, err := provide(t, p, &providers.Request{Image: tt.registry + "/app"})
			if err != nil {
				t.Fatalf("Provide: %v", err)
			}
			if _, ok := resp.Auth[tt.registry]; !ok {
				t.Errorf("auth keys = %v, want %s", keys(resp.Auth), tt.registry)
			}
			want := []string{tt.wantAuthority, tt.wantAuthority, tt.registry} // discovery, token, exchange
			if diff := cmp.Diff(want, f.Hosts()); diff != "" {
				t.Errorf("hosts contacted (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWorkloadIdentityFailsClosed checks that a request carrying a service account token is
// answered for the pod or not at all: never with the node's identity.
func TestWorkloadIdentityFailsClosed(t *testing.T) {
	nodeConfig := map[string]any{"useManagedIdentityExtension": true}
	tests := []struct {
		name  string
		req   providers.Request
		want  error
		noCfg bool
	}{
		{name: "tenant annotation without the client ID", req: providers.Request{ServiceAccountToken: saToken(saSubject), ServiceAccountAnnotations: map[string]string{acr.AnnotationTenantID: spTenant}}, want: acr.ErrWorkloadIdentity},
		{name: "client ID not a GUID", req: providers.Request{ServiceAccountToken: saToken(saSubject), ServiceAccountAnnotations: map[string]string{acr.AnnotationClientID: "../evil", acr.AnnotationTenantID: spTenant}}, want: acr.ErrWorkloadIdentity},
		{name: "no tenant anywhere", noCfg: true, req: providers.Request{ServiceAccountToken: saToken(saSubject), ServiceAccountAnnotations: map[string]string{acr.AnnotationClientID: wiClientID}}, want: acr.ErrWorkloadIdentity},
		{name: "annotations without a token", req: providers.Request{ServiceAccountAnnotations: map[string]string{acr.AnnotationClientID: wiClientID}}, want: acr.ErrWorkloadIdentity},
		{name: "no federated credential for the subject", req: providers.Request{ServiceAccountToken: saToken("system:serviceaccount:other:sa"), ServiceAccountAnnotations: map[string]string{acr.AnnotationClientID: wiClientID, acr.AnnotationTenantID: spTenant}}, want: acr.ErrAAD},
		{name: "application in another tenant", req: providers.Request{ServiceAccountToken: saToken(saSubject), ServiceAccountAnnotations: map[string]string{acr.AnnotationClientID: wiClientID, acr.AnnotationTenantID: otherTenant}}, want: acr.ErrAAD},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t)
			p := newProvider(t, f, func(o *acr.Options) {
				if !tt.noCfg {
					o.CloudConfig = writeConfig(t, nodeConfig)
				}
			})
			req := tt.req
			req.Image = acrtest.LoginServer + "/app"
			resp, err := provide(t, p, &req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Provide = %v, %v; want an error wrapping %v", resp, err, tt.want)
			}
			if n := f.Counts(acrtest.IMDSToken); n != 0 {
				t.Errorf("IMDS was asked %d times: the node's identity must never answer a pod's request", n)
			}
			if n := f.Counts(acrtest.Exchange); n != 0 {
				t.Errorf("%d exchanges, want none", n)
			}
		})
	}
}

// TestCache checks the shared cache: one AAD call and one exchange for repeated requests, the
// AAD token reused for a second registry, and each identity its own entry.
func TestCache(t *testing.T) {
	f := start(t)
	f.AddRegistry("secondreg.azurecr.io")
	p := newProvider(t, f, nil)
	for i := 0; i < 3; i++ {
		if _, err := provide(t, p, &providers.Request{Image: acrtest.LoginServer + "/app"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := provide(t, p, &providers.Request{Image: "secondreg.azurecr.io/app"}); err != nil {
		t.Fatal(err)
	}
	if got := f.Counts(acrtest.IMDSToken); got != 1 {
		t.Errorf("IMDS calls = %d, want 1 (one AAD token for both registries)", got)
	}
	if got := f.Counts(acrtest.Exchange); got != 2 {
		t.Errorf("exchanges = %d, want 2 (one per registry)", got)
	}
	// A pod's identity is another entry.
	req := &providers.Request{Image: acrtest.LoginServer + "/app", ServiceAccountToken: saToken(saSubject),
		ServiceAccountAnnotations: map[string]string{acr.AnnotationClientID: wiClientID, acr.AnnotationTenantID: spTenant}}
	resp, err := provide(t, p, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, client, _, _ := acrtest.Claims(resp.Auth[acrtest.LoginServer].Password); client != wiClientID {
		t.Errorf("pod answer for client %q, want %q", client, wiClientID)
	}
	// A new token for the same service account reuses the entry.
	req.ServiceAccountToken = saToken(saSubject)
	if _, err := provide(t, p, req); err != nil {
		t.Fatal(err)
	}
	if got := f.Counts(acrtest.AADToken); got != 1 {
		t.Errorf("AAD calls for the pod = %d, want 1", got)
	}
}

// TestCacheDuration checks that the answer is cached for at most half the refresh token's
// remaining life, whatever the cache's fresh fraction.
func TestCacheDuration(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		refresh  time.Duration
		fraction float64
		want     time.Duration
	}{
		{name: "three hours, default fraction", refresh: 3 * time.Hour, want: 90 * time.Minute},
		{name: "fraction 0.9 still capped at half", refresh: 3 * time.Hour, fraction: 0.9, want: 90 * time.Minute},
		{name: "fraction 0.25", refresh: 2 * time.Hour, fraction: 0.25, want: 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t)
			f.SetNow(func() time.Time { return now })
			f.SetLifetimes(24*time.Hour, tt.refresh)
			p := newProvider(t, f, func(o *acr.Options) {
				o.Now = func() time.Time { return now }
				o.Cache.FreshFraction = tt.fraction
			})
			resp, err := provide(t, p, &providers.Request{Image: acrtest.LoginServer + "/app"})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.CacheDuration.Duration; got != tt.want {
				t.Errorf("cacheDuration = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestFaults is the fault matrix: IMDS absent, slow or failing, AAD errors, the exchange
// refusing. Each is an error wrapping its sentinel, with a message that says where and never
// holds a token or a response body.
func TestFaults(t *testing.T) {
	spConfig := map[string]any{"tenantId": spTenant, "aadClientId": spClientID, "aadClientSecret": spSecret}
	tests := []struct {
		name     string
		config   map[string]any
		setup    func(f *acrtest.Fake)
		opts     func(*acr.Options)
		want     error
		wantText string
	}{
		{name: "IMDS absent", opts: func(o *acr.Options) { o.IMDSEndpoint = "http://127.0.0.1:1"; o.MaxRetries = -1 }, want: acr.ErrIMDSUnreachable, wantText: "is this an Azure VM"},
		{name: "IMDS slow", setup: func(f *acrtest.Fake) { f.Block(acrtest.IMDSToken) }, opts: func(o *acr.Options) { o.IMDSTimeout = 50 * time.Millisecond }, want: acr.ErrIMDSUnreachable, wantText: "no answer within 50ms"},
		{name: "IMDS 500 for good", setup: func(f *acrtest.Fake) {
			f.Fail(acrtest.IMDSToken, http.StatusInternalServerError, `{"error":"server_error","error_description":"boom"}`, -1)
		}, want: acr.ErrAAD, wantText: "HTTP 500"},
		{name: "IMDS 500 then recovers", setup: func(f *acrtest.Fake) {
			f.Fail(acrtest.IMDSToken, http.StatusInternalServerError, `{}`, 1)
		}},
		{name: "IMDS does not know the user-assigned identity", config: map[string]any{"useManagedIdentityExtension": true, "userAssignedIdentityID": "99999999-9999-9999-9999-999999999999"}, want: acr.ErrAAD, wantText: "IMDS does not know the identity"},
		{name: "AAD wrong secret", config: map[string]any{"tenantId": spTenant, "aadClientId": spClientID, "aadClientSecret": "wrong-secret-value"}, want: acr.ErrAAD, wantText: "invalid_client AADSTS7000215"},
		{name: "AAD unknown application", config: map[string]any{"tenantId": spTenant, "aadClientId": "66666666-6666-6666-6666-666666666666", "aadClientSecret": "x"}, want: acr.ErrAAD, wantText: "AADSTS700016"},
		{name: "AAD 503 for good", config: spConfig, setup: func(f *acrtest.Fake) {
			f.Fail(acrtest.AADToken, http.StatusServiceUnavailable, `{"error":"temporarily_unavailable"}`, -1)
		}, want: acr.ErrAAD, wantText: "HTTP 503"},
		{name: "AAD slow", config: spConfig, setup: func(f *acrtest.Fake) { f.Block(acrtest.AADToken) }, opts: func(o *acr.Options) { o.HTTPTimeout = 50 * time.Millisecond }, want: acr.ErrAAD, wantText: "no answer within 50ms"},
		{name: "exchange 401", setup: func(f *acrtest.Fake) {
			f.Fail(acrtest.Exchange, http.StatusUnauthorized, `{"errors":[{"code":"UNAUTHORIZED","message":"echo `+spSecret+`"}]}`, -1)
		}, want: acr.ErrExchange, wantText: "HTTP 401"},
		{name: "exchange for a registry the identity cannot see", setup: func(f *acrtest.Fake) {}, opts: nil, want: nil},
		{name: "cloud config with no identity", config: map[string]any{"tenantId": spTenant}, want: acr.ErrNoIdentity},
		{name: "cloud config with a certificate", config: map[string]any{"tenantId": spTenant, "aadClientId": spClientID, "aadClientCertPath": "/etc/kubernetes/sp.pfx"}, want: acr.ErrNoIdentity, wantText: "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			p := newProvider(t, f, func(o *acr.Options) {
				if tt.config != nil {
					o.CloudConfig = writeConfig(t, tt.config)
				}
				if tt.opts != nil {
					tt.opts(o)
				}
			})
			resp, err := provide(t, p, &providers.Request{Image: acrtest.LoginServer + "/app"})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Provide: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Provide = %v, %v; want an error wrapping %v", resp, err, tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantText) {
				t.Errorf("error %q does not say %q", msg, tt.wantText)
			}
			for _, secret := range []string{spSecret, "wrong-secret-value", "boom", "echo"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q holds %q", msg, secret)
				}
			}
		})
	}
}
