package kubelet

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	configv1 "k8s.io/kubelet/config/v1"
	"k8s.io/kubernetes/pkg/features"

	pkkubelet "github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
)

const (
	audience    = "pullkeys.test/registry"
	roleKey     = "example.com/role"
	optionalKey = "example.com/optional"
	absentKey   = "example.com/absent"
)

// tokenProvider is a fake plugin entry with tokenAttributes.
func (s *scenario) tokenProvider(cacheType string, require bool, required, optional []string, kv ...string) configv1.CredentialProvider {
	p := s.fake(kv...)
	p.TokenAttributes = &configv1.ServiceAccountTokenAttributes{
		ServiceAccountTokenAudience:          audience,
		CacheType:                            configv1.ServiceAccountTokenCacheType(cacheType),
		RequireServiceAccount:                &require,
		RequiredServiceAccountAnnotationKeys: required,
		OptionalServiceAccountAnnotationKeys: optional,
	}
	return p
}

// TestServiceAccountFeatureGate pins the default the suite relies on: in 1.36 the kubelet
// passes service account tokens to plugins unless KubeletServiceAccountTokenForCredentialProviders
// is turned off.
func TestServiceAccountFeatureGate(t *testing.T) {
	if !utilfeature.DefaultFeatureGate.Enabled(features.KubeletServiceAccountTokenForCredentialProviders) {
		t.Fatal("KubeletServiceAccountTokenForCredentialProviders is off by default: the service account tests do not test what they say")
	}
}

// TestServiceAccountToken drives the service account token path: the kubelet asks the API
// for a token bound to the pod, passes it and the listed annotations to the plugin, and keys
// its cache by service account (and token, with cacheType Token).
func TestServiceAccountToken(t *testing.T) {
	api := &fakeAPI{tokens: []string{"sa-token-1", "sa-token-2", "sa-token-3"}}
	api.addAccount("ns1", "builder", "uid-builder", map[string]string{roleKey: "puller", optionalKey: "o", "example.com/unlisted": "x"})
	api.addAccount("ns1", "deployer", "uid-deployer", map[string]string{roleKey: "deployer"})
	s := newScenario(t)
	p := s.tokenProvider(pkkubelet.CacheTypeServiceAccount, true, []string{roleKey}, []string{optionalKey, absentKey})
	s.register(api, p)
	image := s.image("reg", "team/app:1")
	builder := pod{Namespace: "ns1", Name: "pod-a", UID: "pod-uid-a", ServiceAccount: "builder"}

	if diff := cmp.Diff(pass(1), lookup(t, image, builder)); diff != "" {
		t.Errorf("kubelet Lookup(%q) for %+v mismatch (-want +got):\n%s", image, builder, diff)
	}
	execs := s.execs()
	if len(execs) != 1 {
		t.Fatalf("%d execs, want 1", len(execs))
	}
	wantAnnotations := map[string]string{roleKey: "puller", optionalKey: "o"}
	if d := execs[0].Decoded; d == nil || d.Token != "sa-token-1" || !cmp.Equal(d.Annotations, wantAnnotations) {
		t.Errorf("the plugin decoded %+v, want token sa-token-1 and annotations %v", d, wantAnnotations)
	}
	// The request is what pullkeys builds and encodes for the same service account.
	req, skip := pkkubelet.BuildRequest(pkkubelet.Provider{CredentialProvider: p}, repo(t, image),
		&pkkubelet.ServiceAccount{Token: "sa-token-1", Annotations: map[string]string{roleKey: "puller", optionalKey: "o", "example.com/unlisted": "x"}})
	if skip != "" {
		t.Fatalf("BuildRequest skips the plugin: %s", skip)
	}
	wantReq, err := pkkubelet.EncodeRequest(req, providers.APIVersionV1)
	if err != nil {
		t.Fatal(err)
	}
	if execs[0].Stdin != string(wantReq) {
		t.Errorf("the kubelet wrote the request\n%s\npullkeys BuildRequest+EncodeRequest writes\n%s", execs[0].Stdin, wantReq)
	}
	// The token is requested for the provider's audience, bound to the pod.
	trs := api.tokenRequests()
	if len(trs) != 1 {
		t.Fatalf("%d token requests, want 1", len(trs))
	}
	wantTR := tokenRequest{Namespace: "ns1", Name: "builder", Request: &authenticationv1.TokenRequest{
		ObjectMeta: metav1.ObjectMeta{UID: "uid-builder"},
		Spec: authenticationv1.TokenRequestSpec{
			Audiences:      []string{audience},
			BoundObjectRef: &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: "pod-a", UID: "pod-uid-a"},
		},
	}}
	if diff := cmp.Diff(wantTR, trs[0]); diff != "" {
		t.Errorf("token request mismatch (-want +got):\n%s", diff)
	}

	// cacheType ServiceAccount: a new token for the same account, even for another pod,
	// reuses the cached answer (the kubelet still requests a token first).
	other := pod{Namespace: "ns1", Name: "pod-b", UID: "pod-uid-b", ServiceAccount: "builder"}
	if diff := cmp.Diff(pass(1), lookup(t, image, other)); diff != "" {
		t.Errorf("kubelet Lookup(%q) for %+v mismatch (-want +got):\n%s", image, other, diff)
	}
	if n := len(s.execs()); n != 1 {
		t.Errorf("%d execs after a pull by another pod of the same service account, want 1 (cached)", n)
	}
	if n := len(api.tokenRequests()); n != 2 {
		t.Errorf("%d token requests, want 2 (one per pull, before the cache)", n)
	}
	// Another service account is another cache entry.
	deployer := pod{Namespace: "ns1", Name: "pod-c", UID: "pod-uid-c", ServiceAccount: "deployer"}
	if diff := cmp.Diff(pass(2), lookup(t, image, deployer)); diff != "" {
		t.Errorf("kubelet Lookup(%q) for %+v mismatch (-want +got):\n%s", image, deployer, diff)
	}
	if execs := s.execs(); len(execs) != 2 || execs[1].Decoded.Token != "sa-token-3" || !cmp.Equal(execs[1].Decoded.Annotations, map[string]string{roleKey: "deployer"}) {
		t.Errorf("execs %+v, want a second exec with sa-token-3 and the deployer's role", execs)
	}

	// pullkeys check with the same service account gives the same credentials.
	rep := s.check([]string{image}, &pkkubelet.ServiceAccount{Token: "sa-token-1", Annotations: map[string]string{roleKey: "puller"}})
	if diff := cmp.Diff(pass(1), checkCreds(rep.Images[0])); diff != "" {
		t.Errorf("pullkeys check mismatch (-kubelet +check):\n%s", diff)
	}
}

// TestServiceAccountCacheType: with cacheType Token the cache is keyed by the token too, so
// every new token means an exec, and a plugin may hand the token back as the password; with
// cacheType ServiceAccount that answer is refused.
func TestServiceAccountCacheType(t *testing.T) {
	tests := []struct {
		name      string
		cacheType string
		tokens    []string
		// want are the credentials of two pulls of one image by one pod; execs the execs.
		want  [][]cred
		execs int
	}{
		{
			name: "Token, new token, new exec", cacheType: pkkubelet.CacheTypeToken, tokens: []string{"tok-a", "tok-b"},
			want: [][]cred{{{"user", "tok-a"}}, {{"user", "tok-b"}}}, execs: 2,
		},
		{
			name: "Token, same token, cached", cacheType: pkkubelet.CacheTypeToken, tokens: []string{"tok-same"},
			want: [][]cred{{{"user", "tok-same"}}, {{"user", "tok-same"}}}, execs: 1,
		},
		{
			name: "ServiceAccount refuses the echoed token", cacheType: pkkubelet.CacheTypeServiceAccount, tokens: []string{"tok-echo-1", "tok-echo-2"},
			want: [][]cred{{}, {}}, execs: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{tokens: tt.tokens}
			api.addAccount("ns", "sa", "uid-sa", nil)
			s := newScenario(t)
			s.register(api, s.tokenProvider(tt.cacheType, true, nil, nil,
				"FAKE_AUTH", `{"{registry}":{"username":"user","password":"{token}"}}`))
			image := s.image("reg", "app")
			p := pod{Namespace: "ns", Name: "p", UID: "pod-uid", ServiceAccount: "sa"}
			mark := kubeletLog.Len()
			for i, want := range tt.want {
				if diff := cmp.Diff(want, lookup(t, image, p)); diff != "" {
					t.Errorf("pull %d: kubelet Lookup(%q) mismatch (-want +got):\n%s", i, image, diff)
				}
			}
			if n := len(s.execs()); n != tt.execs {
				t.Errorf("%d execs, want %d", n, tt.execs)
			}
			logged := kubeletLog.Since(mark)
			for _, tok := range tt.tokens {
				if strings.Contains(logged, tok) {
					t.Errorf("the kubelet's log holds the service account token %q:\n%s", tok, logged)
				}
			}

			rep := s.check([]string{image}, &pkkubelet.ServiceAccount{Token: tt.tokens[0]})
			if diff := cmp.Diff(tt.want[0], checkCreds(rep.Images[0])); diff != "" {
				t.Errorf("pullkeys check mismatch (-kubelet +check):\n%s", diff)
			}
			if text := reportText(t, rep); strings.Contains(text, tt.tokens[0]) && tt.cacheType == pkkubelet.CacheTypeServiceAccount {
				t.Errorf("pullkeys check's report holds the service account token:\n%s", text)
			}
		})
	}
}

// TestServiceAccountSkips: the cases where the kubelet does not exec a plugin with
// tokenAttributes at all, silently, and the one where it execs it without a token.
func TestServiceAccountSkips(t *testing.T) {
	tests := []struct {
		name     string
		require  bool
		required []string
		pod      pod
		api      *fakeAPI
		exec     bool
		token    string
		checkSA  *pkkubelet.ServiceAccount
	}{
		{
			name: "required annotation missing", require: true, required: []string{roleKey},
			pod:  pod{Namespace: "ns", Name: "p", UID: "u", ServiceAccount: "plain"},
			exec: false, checkSA: &pkkubelet.ServiceAccount{Token: "t"},
		},
		{
			name: "no service account, requireServiceAccount true", require: true,
			pod:  pod{Namespace: "ns", Name: "static", UID: "u"},
			exec: false,
		},
		{
			name: "no service account, requireServiceAccount false", require: false,
			pod:  pod{Namespace: "ns", Name: "static", UID: "u"},
			exec: true,
		},
		{
			name: "required annotation present", require: true, required: []string{roleKey},
			pod:  pod{Namespace: "ns", Name: "p", UID: "u", ServiceAccount: "annotated"},
			exec: true, token: "tok", checkSA: &pkkubelet.ServiceAccount{Token: "tok", Annotations: map[string]string{roleKey: "r"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{tokens: []string{"tok"}}
			api.addAccount("ns", "plain", "uid-plain", nil)
			api.addAccount("ns", "annotated", "uid-annotated", map[string]string{roleKey: "r"})
			s := newScenario(t)
			s.register(api, s.tokenProvider(pkkubelet.CacheTypeServiceAccount, tt.require, tt.required, nil))
			image := s.image("reg", "app")
			got := lookup(t, image, tt.pod)
			execs := s.execs()
			if (len(execs) == 1) != tt.exec {
				t.Fatalf("kubelet Lookup(%q) for %+v: %d execs, want exec %v", image, tt.pod, len(execs), tt.exec)
			}
			want := []cred{}
			if tt.exec {
				want = pass(1)
				if tok := execs[0].Decoded.Token; tok != tt.token {
					t.Errorf("the plugin got token %q, want %q", tok, tt.token)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("kubelet Lookup(%q) mismatch (-want +got):\n%s", image, diff)
			}

			rep := s.check([]string{image}, tt.checkSA)
			pr := rep.Images[0].Providers[0]
			if skipped := pr.Skipped != ""; skipped == tt.exec {
				t.Errorf("pullkeys check skipped: %q, the kubelet exec'd: %v", pr.Skipped, tt.exec)
			}
			if diff := cmp.Diff(want, checkCreds(rep.Images[0])); diff != "" {
				t.Errorf("pullkeys check mismatch (-kubelet +check):\n%s", diff)
			}
		})
	}
}

// TestServiceAccountTokenRefused: when the API refuses the token, the kubelet does not exec
// the plugin and the pull has no credentials from it.
func TestServiceAccountTokenRefused(t *testing.T) {
	api := &fakeAPI{} // no tokens: every TokenRequest fails
	api.addAccount("ns", "sa", "uid", nil)
	s := newScenario(t)
	s.register(api, s.tokenProvider(pkkubelet.CacheTypeServiceAccount, true, nil, nil))
	image := s.image("reg", "app")
	mark := kubeletLog.Len()
	if got := lookup(t, image, pod{Namespace: "ns", Name: "p", UID: "u", ServiceAccount: "sa"}); len(got) != 0 {
		t.Errorf("kubelet Lookup(%q) = %v, want none", image, got)
	}
	if n := len(s.execs()); n != 0 {
		t.Errorf("%d execs, want 0", n)
	}
	if logged := kubeletLog.Since(mark); !strings.Contains(logged, "failed to get service account token") {
		t.Errorf("the kubelet's log lacks the token failure:\n%s", logged)
	}
}
