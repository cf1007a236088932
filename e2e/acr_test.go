package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/acr"
	"github.com/pullkeys/pullkeys/acr/acrtest"
	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
)

// The AAD applications of the ACR scenarios.
const (
	acrSPClient = "33333333-3333-3333-3333-333333333333"
	acrSPSecret = "e2e-sp-secret"
	acrWIClient = "44444444-4444-4444-4444-444444444444"
)

// acrProvider is the config entry an operator writes for the ACR plugin, pointed at the Azure
// fake through the config's env (IMDS, AAD, the fake's certificate) and args (the exchange),
// with a cache directory of its own; extra args come first (the Azure plugin's positional
// cloud config).
func acrProvider(t *testing.T, f *acrtest.Fake, extra ...string) harness.Provider {
	t.Helper()
	env, err := f.Env()
	if err != nil {
		t.Fatal(err)
	}
	args := append(append(extra, f.Args()...), "--cache-dir="+t.TempDir())
	return harness.NewProvider(harness.ACR, acr.MatchImages(), envMap(env), args...)
}

// TestACR: the kubelet's plugin code execs acr-credential-provider for an image on an ACR
// login server; the plugin gets an AAD token of the node's identity, exchanges it at the
// registry for a refresh token, and the loopback registry, which accepts that refresh token as
// ACR does (user 00000000-0000-0000-0000-000000000000), serves the pull with it.
func TestACR(t *testing.T) {
	tests := []struct {
		name   string
		config string // cloud config, "" for none
		// positional passes the cloud config as the Azure plugin's config entries do.
		positional bool
		wantClient string
	}{
		{name: "managed identity", wantClient: acrtest.SystemAssignedID},
		{name: "service principal, --cloud-config", config: `{"cloud":"AzurePublicCloud","tenantId":"` + acrtest.Tenant + `","aadClientId":"` + acrSPClient + `","aadClientSecret":"` + acrSPSecret + `"}`, wantClient: acrSPClient},
		{name: "user-assigned identity, the Azure plugin's positional cloud config", config: `{"useManagedIdentityExtension":true,"userAssignedIdentityID":"` + acrtest.UserAssignedID + `","aadClientId":"msi","aadClientSecret":"msi"}`, positional: true, wantClient: acrtest.UserAssignedID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := acrtest.Start(t)
			f.AddApp(acrtest.App{ClientID: acrSPClient, Tenant: acrtest.Tenant, Secret: acrSPSecret})
			var extra []string
			if tt.config != "" {
				path := filepath.Join(t.TempDir(), "azure.json")
				if err := os.WriteFile(path, []byte(tt.config), 0o600); err != nil {
					t.Fatal(err)
				}
				if tt.positional {
					extra = []string{path}
				} else {
					extra = []string{"--cloud-config=" + path}
				}
			}
			reg := startRegistry(t, harness.RegistryOptions{Hosts: []string{acrtest.LoginServer}})
			push(t, reg, "team/app", "v1")
			node := newNode(t, acrProvider(t, f, extra...))
			image := acrtest.LoginServer + "/team/app:v1"

			img := check(t, node, image)
			if img.Status != kubelet.StatusOK || len(img.Credentials) != 1 {
				t.Fatalf("Check(%q) = %s, want one credential", image, describe(img))
			}
			p, _ := harness.ProviderOf(img, harness.ACR)
			if p.Answer == nil || p.Answer.CacheKeyType != string(providers.CacheKeyRegistry) || p.Answer.CacheKey != acrtest.LoginServer {
				t.Errorf("Check(%q): answer %+v, want cacheKeyType Registry keyed by %s", image, p.Answer, acrtest.LoginServer)
			}
			ex := f.Requests(acrtest.Exchange)
			if len(ex) != 1 || ex[0].Issued == "" {
				t.Fatalf("exchanges = %+v, want one that issued a refresh token", ex)
			}
			refresh := ex[0].Issued
			if _, _, client, _, _ := acrtest.Claims(refresh); client != tt.wantClient {
				t.Errorf("refresh token for client %s, want %s", client, tt.wantClient)
			}
			if diff := cmp.Diff([]harness.Credential{{Username: acr.Username, Password: refresh}}, credentials(img)); diff != "" {
				t.Errorf("Check(%q) credentials (-want +got):\n%s", image, diff)
			}
			if err := reg.AddUser(acr.Username, refresh); err != nil {
				t.Fatal(err)
			}
			if _, err := reg.Pull(ctx, image, &credentials(img)[0]); err != nil {
				t.Errorf("Pull(%q) with the refresh token = %v", image, err)
			}
			if _, err := reg.Pull(ctx, image, nil); !harness.IsUnauthorized(err) {
				t.Errorf("Pull(%q) anonymously = %v, want 401", image, err)
			}

			// A second plugin process answers from the shared disk cache.
			again := check(t, node, image)
			if diff := cmp.Diff(credentials(img), credentials(again)); diff != "" {
				t.Errorf("second Check(%q) credentials (-first +second):\n%s", image, diff)
			}
			if n := f.Counts(acrtest.Exchange); n != 1 {
				t.Errorf("%d exchanges for two checks, want 1 (the plugin's disk cache)", n)
			}
		})
	}
}

// TestACRServiceAccount: a pod whose service account has the workload identity annotations
// gets a refresh token of its own identity; one whose token AAD refuses gets nothing, not the
// node's.
func TestACRServiceAccount(t *testing.T) {
	ctx := context.Background()
	const audience = "api://AzureADTokenExchange"
	f := acrtest.Start(t)
	f.AddApp(acrtest.App{ClientID: acrWIClient, Tenant: acrtest.Tenant, Subjects: []string{"system:serviceaccount:apps:puller"}})
	reg := startRegistry(t, harness.RegistryOptions{Hosts: []string{acrtest.LoginServer}})
	push(t, reg, "team/app", "v1")
	image := acrtest.LoginServer + "/team/app:v1"
	node := newNode(t, withTokenAttributes(acrProvider(t, f), audience, false, acr.AnnotationClientID, acr.AnnotationTenantID))
	ann := map[string]string{acr.AnnotationClientID: acrWIClient, acr.AnnotationTenantID: acrtest.Tenant}

	t.Run("federated identity of the service account", func(t *testing.T) {
		token := harness.ServiceAccountToken("apps", "puller", audience)
		report, err := node.CheckAs(ctx, &kubelet.ServiceAccount{Token: token, Annotations: ann}, image)
		if err != nil {
			t.Fatal(err)
		}
		img, _ := harness.ImageOf(report, image)
		if img.Status != kubelet.StatusOK || len(img.Credentials) != 1 {
			t.Fatalf("Check(%q) as apps/puller = %s, want one credential", image, describe(img))
		}
		aad := f.Requests(acrtest.AADToken)
		if len(aad) != 1 || aad[0].Assertion != token || aad[0].ClientID != acrWIClient {
			t.Fatalf("AAD calls = %d, want one with the pod's token as the assertion of %s", len(aad), acrWIClient)
		}
		if n := f.Counts(acrtest.IMDSToken); n != 0 {
			t.Errorf("IMDS asked %d times for a pod's pull, want 0", n)
		}
		if err := reg.AddUser(acr.Username, img.Credentials[0].Password); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Pull(ctx, image, &credentials(img)[0]); err != nil {
			t.Errorf("Pull(%q) with the pod's refresh token = %v", image, err)
		}
		noSecretIn(t, report, token)
	})
	t.Run("no federated credential: no credentials, not the node's", func(t *testing.T) {
		token := harness.ServiceAccountToken("apps", "intruder", audience)
		report, err := node.CheckAs(ctx, &kubelet.ServiceAccount{Token: token, Annotations: ann}, image)
		if err != nil {
			t.Fatal(err)
		}
		img, _ := harness.ImageOf(report, image)
		if len(img.Credentials) != 0 {
			t.Fatalf("Check(%q) as apps/intruder = %s, want no credentials", image, describe(img))
		}
		if n := f.Counts(acrtest.IMDSToken); n != 0 {
			t.Errorf("IMDS asked %d times, want 0: the node's identity never answers a pod", n)
		}
		noSecretIn(t, report, token)
	})
}
