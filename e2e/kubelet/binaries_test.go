package kubelet

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	configv1 "k8s.io/kubelet/config/v1"

	"github.com/pullkeys/pullkeys/ecr"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	pkkubelet "github.com/pullkeys/pullkeys/kubelet"
)

// The real binaries of the root module, driven by the kubelet's code. For each image the
// kubelet's credentials must be the expected ones and those of pullkeys check.

// real returns a provider entry for one of the root module's binaries, named after it and
// the scenario.
func (s *scenario) real(bin string, matchImages ...string) configv1.CredentialProvider {
	p := s.fake()
	p.Name = fmt.Sprintf("%s-%s", bin, s.id)
	p.MatchImages = matchImages
	s.binaries[p.Name] = binary(s.t, bin)
	return p
}

// pull is one image of a real binary's scenario and the credentials the kubelet must hand
// to the runtime. want nil means "whatever pullkeys check says" (the value is computed by
// the fake cloud).
type pull struct {
	image string
	want  []cred
}

// pullAll pulls the images in turn through the kubelet's code, then checks them all in one
// pullkeys check run (which caches answers as the kubelet does), and compares.
func pullAll(t *testing.T, s *scenario, p pod, sa *pkkubelet.ServiceAccount, pulls []pull) [][]cred {
	t.Helper()
	var got [][]cred
	var images []string
	for _, pl := range pulls {
		mark := kubeletLog.Len()
		c := lookup(t, pl.image, p)
		if logged := kubeletLog.Since(mark); strings.Contains(logged, kubeletRejected) {
			t.Errorf("kubelet Lookup(%q): the plugin failed:\n%s", pl.image, logged)
		}
		if pl.want != nil {
			if diff := cmp.Diff(pl.want, c); diff != "" {
				t.Errorf("kubelet Lookup(%q) mismatch (-want +got):\n%s", pl.image, diff)
			}
		}
		got = append(got, c)
		images = append(images, pl.image)
	}
	rep := s.check(images, sa)
	for i, img := range rep.Images {
		if diff := cmp.Diff(got[i], checkCreds(img)); diff != "" {
			t.Errorf("pullkeys check of %s mismatch with the kubelet (-kubelet +check):\n%s\nreport:\n%s", img.Image, diff, reportText(t, rep))
		}
		if img.Status == pkkubelet.StatusError {
			t.Errorf("pullkeys check of %s: status error:\n%s", img.Image, reportText(t, rep))
		}
	}
	return got
}

func TestDockercfgBinary(t *testing.T) {
	s := newScenario(t)
	d := s.domain
	b64 := base64.StdEncoding.EncodeToString
	config := map[string]any{
		"auths": map[string]any{
			"reg." + d:                      map[string]string{"auth": b64([]byte("alice:pw-host"))},
			"https://reg." + d + "/v2/team": map[string]string{"username": "bob", "password": "pw-team"},
			"other." + d + ":5000":          map[string]string{"auth": b64([]byte("carol:pw:with:colons"))},
			"unpadded." + d:                 map[string]string{"auth": strings.TrimRight(base64.StdEncoding.EncodeToString([]byte("dave:pw-unpadded1")), "=")},
		},
		"credHelpers": map[string]string{"helper." + d: "e2efake"},
	}
	dir := t.TempDir()
	configPath := filepath.Join(dir, "config.json")
	writeJSON(t, configPath, config)
	// A docker credential helper, found on the PATH the kubelet passes on.
	helperDir := filepath.Join(dir, "helpers")
	if err := os.Mkdir(helperDir, 0o755); err != nil {
		t.Fatal(err)
	}
	helper := "#!/bin/sh\nread server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"helper-user\",\"Secret\":\"helper-secret\"}\\n' \"$server\"\n"
	if err := os.WriteFile(filepath.Join(helperDir, "docker-credential-e2efake"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", helperDir+string(os.PathListSeparator)+os.Getenv("PATH"))

	p := s.real(Dockercfg, "*."+d, "*."+d+":5000")
	p.Args = []string{"--config=" + configPath}
	s.register(nil, p)
	pullAll(t, s, pod{}, nil, []pull{
		// First an image of the registry that only the host key covers: its answer must not
		// be reused for the team's images, which a more specific key covers.
		{s.image("reg", "other/app"), []cred{{"alice", "pw-host"}}},
		{s.image("reg", "team/app:1"), []cred{{"bob", "pw-team"}, {"alice", "pw-host"}}},
		{s.image("reg", "team/app:2"), []cred{{"bob", "pw-team"}, {"alice", "pw-host"}}},
		{s.image("other:5000", "x"), []cred{{"carol", "pw:with:colons"}}},
		{s.image("other", "x"), []cred{}},
		{s.image("unpadded", "x"), []cred{{"dave", "pw-unpadded1"}}},
		{s.image("helper", "x"), []cred{{"helper-user", "helper-secret"}}},
		{s.image("nobody", "x"), []cred{}},
	})
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// ecrHost is an ECR registry of its own for the scenario.
func (s *scenario) ecrHost(k int) string {
	var n int
	fmt.Sscanf(s.id, "s%d", &n)
	return fmt.Sprintf("%012d.dkr.ecr.us-east-1.amazonaws.com", 100000000000+n*10+k)
}

// realECR is the ECR binary for host, with a cache directory of its own and the fake srv's
// endpoints and credentials in its env.
func (s *scenario) realECR(t *testing.T, srv *ecrtest.Server, host string) configv1.CredentialProvider {
	p := s.real(ECR, host)
	p.Args = []string{"--cache-dir=" + t.TempDir()}
	for _, kv := range srv.Env() {
		name, value, _ := strings.Cut(kv, "=")
		p.Env = append(p.Env, configv1.ExecEnvVar{Name: name, Value: value})
	}
	return p
}

func TestECRBinary(t *testing.T) {
	srv := ecrtest.Start(t)
	srv.Setenv(t)
	s := newScenario(t)
	host := s.ecrHost(0)
	p := s.realECR(t, srv, host)
	s.register(nil, p)
	got := pullAll(t, s, pod{}, nil, []pull{
		{host + "/team/app:1", nil},
		{host + "/other", nil}, // cacheKeyType Registry: no exec, same token
	})
	reqs := srv.Requests(ecrtest.GetAuthorizationToken)
	if len(reqs) == 0 {
		t.Fatal("the fake ECR got no GetAuthorizationToken call")
	}
	want := []cred{{"AWS", reqs[0].Password}}
	for i, c := range got {
		if diff := cmp.Diff(want, c); diff != "" {
			t.Errorf("pull %d: credentials mismatch with the token the fake issued (-want +got):\n%s", i, diff)
		}
	}
	if n := len(reqs); n != 1 {
		t.Errorf("%d GetAuthorizationToken calls, want 1 (the kubelet cached the first answer; pullkeys check hit the plugin's disk cache)", n)
	}
}

func TestECRBinaryServiceAccount(t *testing.T) {
	srv := ecrtest.Start(t)
	srv.Setenv(t)
	s := newScenario(t)
	host := s.ecrHost(1)
	require := false
	p := s.real(ECR, host)
	p.Args = []string{"--cache-dir=" + t.TempDir()}
	p.TokenAttributes = &configv1.ServiceAccountTokenAttributes{
		ServiceAccountTokenAudience:          "sts.amazonaws.com",
		CacheType:                            configv1.ServiceAccountServiceAccountTokenCacheType,
		RequireServiceAccount:                &require,
		OptionalServiceAccountAnnotationKeys: []string{ecr.AnnotationECRRoleARN, ecr.AnnotationRoleARN},
	}
	const role = "arn:aws:iam::123456789012:role/puller"
	const saToken = "eyJhbGciOiJSUzI1NiJ9.e2e-sa-token.sig"
	api := &fakeAPI{tokens: []string{saToken}}
	api.addAccount("apps", "puller", "uid-puller", map[string]string{ecr.AnnotationRoleARN: role})
	api.addAccount("apps", "denied", "uid-denied", map[string]string{ecr.AnnotationRoleARN: "arn:aws:iam::123456789012:role/denied"})
	s.register(api, p)

	image := host + "/team/app"
	puller := pod{Namespace: "apps", Name: "p", UID: "pod-uid", ServiceAccount: "puller"}
	got := pullAll(t, s, puller, &pkkubelet.ServiceAccount{Token: saToken, Annotations: map[string]string{ecr.AnnotationRoleARN: role}}, []pull{{image, nil}})
	sts := srv.Requests(ecrtest.AssumeRoleWithWebIdentity)
	if len(sts) == 0 || sts[0].WebIdentityToken != saToken || sts[0].RoleARN != role {
		t.Fatalf("AssumeRoleWithWebIdentity calls %+v, want one with the service account token and role %s", sts, role)
	}
	ecrCalls := srv.Requests(ecrtest.GetAuthorizationToken)
	if len(ecrCalls) == 0 || ecrCalls[0].AccessKeyID != sts[0].IssuedKeyID {
		t.Fatalf("GetAuthorizationToken calls %+v, want one signed with the assumed role's key %s", ecrCalls, sts[0].IssuedKeyID)
	}
	if diff := cmp.Diff([]cred{{"AWS", ecrCalls[0].Password}}, got[0]); diff != "" {
		t.Errorf("credentials mismatch with the token issued to the role (-want +got):\n%s", diff)
	}

	// STS refuses the role: no credentials, and the token stays out of the kubelet's log.
	srv.Inject(ecrtest.AssumeRoleWithWebIdentity, ecrtest.AccessDenied, -1)
	mark := kubeletLog.Len()
	denied := pod{Namespace: "apps", Name: "q", UID: "pod-uid-2", ServiceAccount: "denied"}
	if c := lookup(t, image, denied); len(c) != 0 {
		t.Errorf("kubelet Lookup(%q) for %+v = %v, want none", image, denied, c)
	}
	logged := kubeletLog.Since(mark)
	if !strings.Contains(logged, kubeletRejected) {
		t.Errorf("the kubelet's log lacks the failure:\n%s", logged)
	}
	if strings.Contains(logged, saToken) || strings.Contains(logged, "e2e-sa-token") {
		t.Errorf("the kubelet's log holds the service account token:\n%s", logged)
	}
}

func TestGCRBinary(t *testing.T) {
	md := gcrtest.NewMetadata()
	t.Cleanup(md.Close)
	s := newScenario(t)
	project := s.id + "-project"
	p := s.real(GCR, "us-docker.pkg.dev/"+project, "gcr.io/"+project)
	p.Args = []string{"--cache-dir=" + t.TempDir()}
	p.Env = []configv1.ExecEnvVar{{Name: "GCE_METADATA_HOST", Value: md.Host()}}
	s.register(nil, p)
	got := pullAll(t, s, pod{}, nil, []pull{
		{"us-docker.pkg.dev/" + project + "/repo/app:1", nil},
		{"gcr.io/" + project + "/app", nil}, // cacheKeyType Global: no exec
	})
	issued := md.Issued()
	if len(issued) == 0 {
		t.Fatal("the fake metadata server issued no token")
	}
	want := []cred{{gcr.Username, issued[0]}}
	for i, c := range got {
		if diff := cmp.Diff(want, c); diff != "" {
			t.Errorf("pull %d: credentials mismatch with the token the metadata server issued (-want +got):\n%s", i, diff)
		}
	}
}

// TestGCRBinaryWorkloadIdentity: the kubelet's service account token, exchanged at STS and
// impersonating the Google service account of the iam.gke.io/gcp-service-account annotation.
func TestGCRBinaryWorkloadIdentity(t *testing.T) {
	const (
		pool     = "projects/123456789012/locations/global/workloadIdentityPools/pool/providers/k8s"
		saToken  = "eyJhbGciOiJSUzI1NiJ9.e2e-gcr-sa-token.sig"
		gsaEmail = "puller@fake-project.iam.gserviceaccount.com"
	)
	md := gcrtest.NewMetadata()
	t.Cleanup(md.Close)
	sts := gcrtest.NewSTS("//iam.googleapis.com/" + pool)
	t.Cleanup(sts.Close)
	sts.Allow(saToken)
	iam := gcrtest.NewIAMCredentials()
	t.Cleanup(iam.Close)
	iam.Allow(gcrtest.FederatedToken(saToken), gsaEmail)

	s := newScenario(t)
	project := s.id + "-project"
	require := true
	p := s.real(GCR, "europe-docker.pkg.dev/"+project)
	p.Args = []string{
		"--cache-dir=" + t.TempDir(),
		"--workload-identity-provider=" + pool,
		"--sts-endpoint=" + sts.URL(),
		"--iam-credentials-endpoint=" + iam.URL(),
	}
	p.Env = []configv1.ExecEnvVar{{Name: "GCE_METADATA_HOST", Value: md.Host()}}
	p.TokenAttributes = &configv1.ServiceAccountTokenAttributes{
		ServiceAccountTokenAudience:          "pullkeys-e2e",
		CacheType:                            configv1.ServiceAccountServiceAccountTokenCacheType,
		RequireServiceAccount:                &require,
		RequiredServiceAccountAnnotationKeys: []string{gcr.AnnotationGSA},
	}
	api := &fakeAPI{tokens: []string{saToken}}
	api.addAccount("apps", "puller", "uid-puller", map[string]string{gcr.AnnotationGSA: gsaEmail})
	api.addAccount("apps", "plain", "uid-plain", nil)
	s.register(api, p)

	image := "europe-docker.pkg.dev/" + project + "/repo/app"
	want := []cred{{gcr.Username, gcrtest.ImpersonatedToken(gcrtest.FederatedToken(saToken), gsaEmail)}}
	pullAll(t, s, pod{Namespace: "apps", Name: "p", UID: "pod-uid", ServiceAccount: "puller"},
		&pkkubelet.ServiceAccount{Token: saToken, Annotations: map[string]string{gcr.AnnotationGSA: gsaEmail}},
		[]pull{{image, want}})
	if n := md.TotalCalls(); n != 0 {
		t.Errorf("the metadata server got %d calls: a pod's pull must not use the node's identity", n)
	}

	// A service account without the required annotation: the kubelet skips the plugin, so the
	// pull has no credentials from it, and neither the node's.
	if c := lookup(t, image, pod{Namespace: "apps", Name: "q", UID: "pod-uid-2", ServiceAccount: "plain"}); len(c) != 0 {
		t.Errorf("kubelet Lookup(%q) for a service account without %s = %v, want none", image, gcr.AnnotationGSA, c)
	}
}
