package kubelet

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	configv1 "k8s.io/kubelet/config/v1"

	"github.com/pullkeys/pullkeys/acr"
	"github.com/pullkeys/pullkeys/acr/acrtest"
	pkkubelet "github.com/pullkeys/pullkeys/kubelet"
)

// acrLoginServer is an ACR login server of its own for the scenario.
func (s *scenario) acrLoginServer() string { return "pullkeys" + s.id + ".azurecr.io" }

// realACR is the ACR binary for the scenario's login server, pointed at the Azure fake f (its
// endpoints and certificate in the entry's env, the exchange in args), with a cache directory
// of its own; extra args come first.
func (s *scenario) realACR(t *testing.T, f *acrtest.Fake, extra ...string) configv1.CredentialProvider {
	t.Helper()
	host := s.acrLoginServer()
	f.AddRegistry(host)
	p := s.real(ACR, host)
	p.Args = append(append(extra, f.Args()...), "--cache-dir="+t.TempDir())
	env, err := f.Env()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		p.Env = append(p.Env, configv1.ExecEnvVar{Name: name, Value: value})
	}
	return p
}

// TestACRBinary: the node's managed identity, through the kubelet's own exec and cache code.
func TestACRBinary(t *testing.T) {
	f := acrtest.Start(t)
	s := newScenario(t)
	host := s.acrLoginServer()
	s.register(nil, s.realACR(t, f))
	got := pullAll(t, s, pod{}, nil, []pull{
		{host + "/team/app:1", nil},
		{host + "/other", nil}, // cacheKeyType Registry: no exec, same refresh token
	})
	ex := f.Requests(acrtest.Exchange)
	if len(ex) == 0 || ex[0].Service != host {
		t.Fatalf("exchanges %+v, want one for %s", ex, host)
	}
	want := []cred{{acr.Username, ex[0].Issued}}
	for i, c := range got {
		if diff := cmp.Diff(want, c); diff != "" {
			t.Errorf("pull %d: credentials mismatch with the refresh token the fake issued (-want +got):\n%s", i, diff)
		}
	}
	if n := len(ex); n != 1 {
		t.Errorf("%d exchanges, want 1 (the kubelet cached the first answer; pullkeys check hit the plugin's disk cache)", n)
	}
	if n := f.Counts(acrtest.IMDSToken); n != 1 {
		t.Errorf("%d IMDS calls, want 1", n)
	}
}

// acrSAToken is a service account token shaped as the API server issues them: the fake AAD
// reads its subject to find the federated credential.
func acrSAToken(namespace, name string) string {
	enc := base64.RawURLEncoding.EncodeToString
	claims, _ := json.Marshal(map[string]any{"iss": "https://kubernetes.default.svc", "sub": "system:serviceaccount:" + namespace + ":" + name, "aud": []string{"api://AzureADTokenExchange"}})
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(claims) + "." + enc([]byte("e2e-acr-sa-signature-"+name))
}

// TestACRBinaryWorkloadIdentity: the kubelet's service account token as the client assertion
// of the application in the azure.workload.identity/client-id annotation; the node's identity
// is never used for the pod.
func TestACRBinaryWorkloadIdentity(t *testing.T) {
	const client = "44444444-4444-4444-4444-444444444444"
	f := acrtest.Start(t)
	f.AddApp(acrtest.App{ClientID: client, Tenant: acrtest.Tenant, Subjects: []string{"system:serviceaccount:apps:puller"}})
	s := newScenario(t)
	host := s.acrLoginServer()
	require := true
	p := s.realACR(t, f)
	p.TokenAttributes = &configv1.ServiceAccountTokenAttributes{
		ServiceAccountTokenAudience:          "api://AzureADTokenExchange",
		CacheType:                            configv1.ServiceAccountServiceAccountTokenCacheType,
		RequireServiceAccount:                &require,
		RequiredServiceAccountAnnotationKeys: []string{acr.AnnotationClientID},
		OptionalServiceAccountAnnotationKeys: []string{acr.AnnotationTenantID},
	}
	saToken := acrSAToken("apps", "puller")
	ann := map[string]string{acr.AnnotationClientID: client, acr.AnnotationTenantID: acrtest.Tenant}
	api := &fakeAPI{tokens: []string{saToken}}
	api.addAccount("apps", "puller", "uid-puller", ann)
	s.register(api, p)

	image := host + "/team/app"
	got := pullAll(t, s, pod{Namespace: "apps", Name: "p", UID: "pod-uid", ServiceAccount: "puller"},
		&pkkubelet.ServiceAccount{Token: saToken, Annotations: ann}, []pull{{image, nil}})
	aad := f.Requests(acrtest.AADToken)
	if len(aad) == 0 || aad[0].Assertion != saToken || aad[0].ClientID != client {
		t.Fatalf("AAD calls: %d, want one with the service account token as the assertion of %s", len(aad), client)
	}
	ex := f.Requests(acrtest.Exchange)
	if len(ex) == 0 {
		t.Fatal("no exchange")
	}
	if diff := cmp.Diff([]cred{{acr.Username, ex[0].Issued}}, got[0]); diff != "" {
		t.Errorf("credentials mismatch with the pod's refresh token (-want +got):\n%s", diff)
	}
	if n := f.Counts(acrtest.IMDSToken); n != 0 {
		t.Errorf("IMDS got %d calls: a pod's pull must not use the node's identity", n)
	}
}
