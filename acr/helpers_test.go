package acr_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/acr"
	"github.com/pullkeys/pullkeys/acr/acrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// Identities of the tests' AAD applications.
const (
	spClientID  = "33333333-3333-3333-3333-333333333333"
	spSecret    = "sp-secret-do-not-log-7f3a"
	wiClientID  = "44444444-4444-4444-4444-444444444444"
	spTenant    = acrtest.Tenant
	otherTenant = "55555555-5555-5555-5555-555555555555"
	saSubject   = "system:serviceaccount:team:puller"
)

// start returns a fake with the tests' applications.
func start(t *testing.T) *acrtest.Fake {
	t.Helper()
	f := acrtest.Start(t)
	f.AddApp(acrtest.App{ClientID: spClientID, Tenant: spTenant, Secret: spSecret})
	f.AddApp(acrtest.App{ClientID: wiClientID, Tenant: spTenant, Subjects: []string{saSubject}})
	return f
}

// newProvider returns a provider whose every request goes to f (through f.Transport, at
// the real host names), memory cache only, quick retries. mod edits the options first.
func newProvider(t *testing.T, f *acrtest.Fake, mod func(*acr.Options)) *acr.Provider {
	t.Helper()
	opts := acr.Options{
		Transport:  f.Transport(),
		RetryDelay: time.Millisecond,
	}
	if mod != nil {
		mod(&opts)
	}
	p, err := acr.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// writeConfig writes a cloud config document and returns its path.
func writeConfig(t *testing.T, cfg map[string]any) string {
	t.Helper()
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "azure.json")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// saToken returns an unsigned service account token for subject.
func saToken(subject string) string {
	enc := base64.RawURLEncoding.EncodeToString
	claims, _ := json.Marshal(map[string]any{
		"iss": "https://oidc.example.io/cluster", "sub": subject, "aud": []string{"api://AzureADTokenExchange"},
		"exp":           time.Now().Add(time.Hour).Unix(),
		"kubernetes.io": map[string]any{"namespace": "team", "serviceaccount": map[string]string{"name": "puller", "uid": "uid-1"}},
	})
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(claims) + "." + enc([]byte("sig"))
}

func provide(t *testing.T, p *acr.Provider, req *providers.Request) (*providers.Response, error) {
	t.Helper()
	return p.Provide(context.Background(), req)
}
