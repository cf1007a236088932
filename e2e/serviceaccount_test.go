package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	kubeletconfigv1 "k8s.io/kubelet/config/v1"

	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/ecr"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/kubelet"
)

// withTokenAttributes gives a v1 provider the kubelet's service account token path.
func withTokenAttributes(p harness.Provider, audience string, require bool, annotations ...string) harness.Provider {
	p.TokenAttributes = &kubeletconfigv1.ServiceAccountTokenAttributes{
		ServiceAccountTokenAudience:          audience,
		CacheType:                            kubeletconfigv1.ServiceAccountServiceAccountTokenCacheType,
		RequireServiceAccount:                &require,
		OptionalServiceAccountAnnotationKeys: annotations,
	}
	return p
}

// noSecretIn fails the test when the report, as `pullkeys check -o json` prints it, holds
// one of the secrets (a service account token is never shown, even with --show-secrets).
func noSecretIn(t *testing.T, report *kubelet.Report, secrets ...string) {
	t.Helper()
	data, err := json.Marshal(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(data), s) {
			t.Errorf("the report holds a secret of %d bytes", len(s))
		}
	}
}

// TestECRServiceAccount: a pod whose service account names an IAM role gets an ECR token of
// that role: the kubelet passes the service account token and the role annotation, the plugin
// assumes the role with STS AssumeRoleWithWebIdentity and asks ECR as the role.
func TestECRServiceAccount(t *testing.T) {
	ctx := context.Background()
	const role = "arn:aws:iam::" + ecrtest.DefaultAccount + ":role/puller"
	fake := ecrtest.Start(t)
	reg := startRegistry(t, harness.RegistryOptions{Hosts: []string{ecrHost}})
	push(t, reg, "team/app", "v1")
	image := ecrHost + "/team/app:v1"
	node := newNode(t, withTokenAttributes(ecrProvider(t, fake), "sts.amazonaws.com", true, ecr.AnnotationECRRoleARN, ecr.AnnotationRoleARN))

	t.Run("role of the service account", func(t *testing.T) {
		token := harness.ServiceAccountToken("apps", "puller", "sts.amazonaws.com")
		sa := &kubelet.ServiceAccount{Token: token, Annotations: map[string]string{
			ecr.AnnotationRoleARN:      role,
			"unlisted.example.com/key": "not passed on",
		}}
		report, err := node.CheckAs(ctx, sa, image)
		if err != nil {
			t.Fatal(err)
		}
		img, _ := harness.ImageOf(report, image)
		if img.Status != kubelet.StatusOK || len(img.Credentials) != 1 {
			t.Fatalf("Check(%q) as apps/puller = %s, want one credential", image, describe(img))
		}
		assumed := fake.Requests(ecrtest.AssumeRoleWithWebIdentity)
		if len(assumed) != 1 || assumed[0].RoleARN != role || assumed[0].WebIdentityToken != token {
			t.Fatalf("STS AssumeRoleWithWebIdentity calls = %d (%+v), want one for %s with the pod's token", len(assumed), roles(assumed), role)
		}
		tokens := fake.Requests(ecrtest.GetAuthorizationToken)
		if len(tokens) != 1 || tokens[0].AccessKeyID != assumed[0].IssuedKeyID {
			t.Fatalf("ECR GetAuthorizationToken signed by %v, want the role's session key %s", keyIDs(tokens), assumed[0].IssuedKeyID)
		}
		noSecretIn(t, report, token)
		if err := reg.AddUser("AWS", tokens[0].Password); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Pull(ctx, image, &credentials(img)[0]); err != nil {
			t.Errorf("Pull(%q) with the role's token = %v", image, err)
		}
	})

	t.Run("requireServiceAccount skips a pod without one", func(t *testing.T) {
		img := check(t, node, image)
		p, _ := harness.ProviderOf(img, harness.ECR)
		if !p.Matched || p.Skipped == "" || p.Exec != nil || len(img.Credentials) != 0 {
			t.Fatalf("Check(%q) without a service account = %s, want the provider matched but skipped", image, describe(img))
		}
		if _, err := reg.Pull(ctx, image, nil); !harness.IsUnauthorized(err) {
			t.Errorf("Pull(%q) anonymously = %v, want 401", image, err)
		}
	})
}

func roles(reqs []ecrtest.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.RoleARN)
	}
	return out
}

func keyIDs(reqs []ecrtest.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.AccessKeyID)
	}
	return out
}

// TestGCRWorkloadIdentity: a pod's service account token is exchanged at Google STS and, with
// the iam.gke.io/gcp-service-account annotation, impersonates that Google service account;
// the registry accepts the impersonated token.
func TestGCRWorkloadIdentity(t *testing.T) {
	ctx := context.Background()
	const (
		pool     = "projects/" + gcrtest.NumericProjectID + "/locations/global/workloadIdentityPools/e2e/providers/k8s"
		audience = "//iam.googleapis.com/" + pool
		gsa      = "puller@" + gcrtest.ProjectID + ".iam.gserviceaccount.com"
	)
	token := harness.ServiceAccountToken("apps", "puller", audience)
	sts := gcrtest.NewSTS(audience)
	t.Cleanup(sts.Close)
	sts.Allow(token)
	iam := gcrtest.NewIAMCredentials()
	t.Cleanup(iam.Close)
	federated := gcrtest.FederatedToken(token)
	iam.Allow(federated, gsa)
	impersonated := gcrtest.ImpersonatedToken(federated, gsa)

	nodeToken := "ya29.node-" + harness.RandomString(30)
	md := startMetadata(t, nodeToken)
	reg := startRegistry(t, harness.RegistryOptions{Hosts: []string{"gcr.io"}, Users: map[string]string{gcrUser: impersonated}})
	push(t, reg, gcrtest.ProjectID+"/app", "v1")
	image := "gcr.io/" + gcrtest.ProjectID + "/app:v1"

	p := gcrProvider(t, md)
	p.Args = append(p.Args, "--workload-identity-provider="+pool, "--sts-endpoint="+sts.URL(), "--iam-credentials-endpoint="+iam.URL())
	node := newNode(t, withTokenAttributes(p, audience, true, gcr.AnnotationGSA))

	sa := &kubelet.ServiceAccount{Token: token, Annotations: map[string]string{gcr.AnnotationGSA: gsa}}
	report, err := node.CheckAs(ctx, sa, image)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := harness.ImageOf(report, image)
	if diff := cmp.Diff([]harness.Credential{{Username: gcrUser, Password: impersonated}}, credentials(img)); diff != "" {
		t.Fatalf("Check(%q) as apps/puller credentials (-want +got):\n%s\n%s", image, diff, describe(img))
	}
	if sts.Calls() != 1 || iam.Calls() != 1 {
		t.Errorf("STS calls %d, IAM Credentials calls %d; want 1 and 1", sts.Calls(), iam.Calls())
	}
	if n := md.Calls(gcrtest.TokenPath("default")); n != 0 {
		t.Errorf("metadata token calls = %d, want 0: a pod's request is never answered with the node's identity", n)
	}
	noSecretIn(t, report, token)
	if _, err := reg.Pull(ctx, image, &credentials(img)[0]); err != nil {
		t.Errorf("Pull(%q) with the impersonated token = %v", image, err)
	}
	// The node's own token is not what this registry accepts for the pod.
	if _, err := reg.Pull(ctx, image, &harness.Credential{Username: gcrUser, Password: nodeToken}); !harness.IsUnauthorized(err) {
		t.Errorf("Pull(%q) with the node's token = %v, want 401", image, err)
	}
}
