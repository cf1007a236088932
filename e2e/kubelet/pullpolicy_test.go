package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/klog/v2"
	corev1defaults "k8s.io/kubernetes/pkg/apis/core/v1"
	kubeletconfiginternal "k8s.io/kubernetes/pkg/kubelet/apis/config"
	kubeletscheme "k8s.io/kubernetes/pkg/kubelet/apis/config/scheme"
	kubeletvalidation "k8s.io/kubernetes/pkg/kubelet/apis/config/validation"
	"k8s.io/kubernetes/pkg/kubelet/images/pullmanager"
	kubeletcodec "k8s.io/kubernetes/pkg/kubelet/kubeletconfig/util/codec"

	pkkubelet "github.com/pullkeys/pullkeys/kubelet"
)

// The pull policy and KEP-2535 answers of `pullkeys check`, compared with the API server's
// defaulting (SetDefaults_Container), the kubelet's verification policies and allowlist
// (pullmanager), its PullManager.MustAttemptImagePull over real on-disk pull records, and
// its KubeletConfiguration decoding and validation.

const dgst = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var pullImages = []string{
	"nginx", "nginx:latest", "nginx:1.27", "nginx@" + dgst, "nginx:latest@" + dgst, "nginx:1.27@" + dgst,
	"docker.io/library/nginx:1.27", "registry.example:5000/team/app", "registry.example:5000/team/app:v1",
	"registry.example/team/sub/app@" + dgst, "localhost/app:latest", "Nginx:1.2", "nginx:Latest",
}

func TestDefaultPullPolicyMatchesAPIServer(t *testing.T) {
	for _, image := range pullImages {
		t.Run(image, func(t *testing.T) {
			c := &corev1.Container{Image: image}
			corev1defaults.SetDefaults_Container(c)
			if got, want := pkkubelet.DefaultPullPolicy(image), string(c.ImagePullPolicy); got != want {
				t.Errorf("DefaultPullPolicy(%q) = %q, SetDefaults_Container gives %q", image, got, want)
			}
		})
	}
}

var allowlistPatterns = []string{
	"registry.example/team/*", "registry.example/*", "nginx", "docker.io/library/nginx", "/*", "*", "",
	"nginx:1.27", "nginx@" + dgst, "registry.example/*/app", "registry.example/team*", " nginx",
	"registry.example:5000/team/*", "Upper/case", "a/b/c/*", "registry.example/team/app/",
}

func TestAllowlistPatternMatchesKubelet(t *testing.T) {
	for _, p := range allowlistPatterns {
		t.Run(fmt.Sprintf("%q", p), func(t *testing.T) {
			_, _, err := pkkubelet.AllowlistPattern(p)
			kerr := pullmanager.ValidateAllowlistImagesPatterns([]string{p})
			if (err == nil) != (kerr == nil) {
				t.Errorf("AllowlistPattern(%q) error = %v, kubelet's = %v", p, err, kerr)
			}
			if err == nil {
				return
			}
			if entry, err := pkkubelet.AllowlistEntry(p); err == nil {
				if kerr := pullmanager.ValidateAllowlistImagesPatterns([]string{entry}); kerr != nil {
					t.Errorf("AllowlistEntry(%q) = %q, which the kubelet refuses: %v", p, entry, kerr)
				}
			}
		})
	}
}

func TestAllowlistEntryAcceptedByKubelet(t *testing.T) {
	for _, image := range pullImages {
		t.Run(image, func(t *testing.T) {
			entry, err := pkkubelet.AllowlistEntry(image)
			if err != nil {
				return // an image the kubelet cannot parse either; checked below
			}
			if kerr := pullmanager.ValidateAllowlistImagesPatterns([]string{entry}); kerr != nil {
				t.Fatalf("AllowlistEntry(%q) = %q, kubelet refuses it: %v", image, entry, kerr)
			}
			policy, err := pullmanager.NewNeverVerifyAllowListedPullPolicy([]string{entry})
			if err != nil {
				t.Fatal(err)
			}
			if policy.RequireCredentialVerificationForImage(image, true) {
				t.Errorf("the kubelet still verifies %q with allowlist entry %q", image, entry)
			}
		})
	}
}

var verificationPolicies = map[string]kubeletconfiginternal.ImagePullCredentialsVerificationPolicy{
	pkkubelet.NeverVerify:                  kubeletconfiginternal.NeverVerify,
	pkkubelet.NeverVerifyPreloadedImages:   kubeletconfiginternal.NeverVerifyPreloadedImages,
	pkkubelet.NeverVerifyAllowlistedImages: kubeletconfiginternal.NeverVerifyAllowlistedImages,
	pkkubelet.AlwaysVerify:                 kubeletconfiginternal.AlwaysVerify,
}

var testAllowlist = []string{"registry.example/team/*", "nginx", "registry.example:5000/team/app"}

func TestRequiresVerificationMatchesKubelet(t *testing.T) {
	for name, kp := range verificationPolicies {
		enforcer, err := pullmanager.NewImagePullCredentialVerificationPolicy(kp, testAllowlist)
		if err != nil {
			t.Fatal(err)
		}
		for _, image := range pullImages {
			for _, pulled := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/pulledByKubelet=%v", name, image, pulled), func(t *testing.T) {
					got := pkkubelet.RequiresVerification(name, testAllowlist, image, pulled)
					if want := enforcer.RequireCredentialVerificationForImage(image, pulled); got != want {
						t.Errorf("RequiresVerification(%s, %q, %v) = %v, kubelet's = %v", name, image, pulled, got, want)
					}
				})
			}
		}
	}
}

// TestPresentImageMatchesPullManager builds the kubelet's PullManager over pull records
// written by its own file accessor, and asks it whether a pod without credentials must pull
// an image already on the node.
func TestPresentImageMatchesPullManager(t *testing.T) {
	ctx := context.Background()
	logger := klog.Background()
	records := []string{pkkubelet.RecordNone, pkkubelet.RecordNode, pkkubelet.RecordSecret, pkkubelet.RecordUnknown}
	for name, kp := range verificationPolicies {
		for _, image := range pullImages {
			sanitized, err := pkkubelet.TrimTagDigest(image)
			if err != nil {
				continue
			}
			for _, record := range records {
				t.Run(fmt.Sprintf("%s/%s/%s", name, image, record), func(t *testing.T) {
					accessor, err := pullmanager.NewFSPullRecordsAccessor(logger, t.TempDir())
					if err != nil {
						t.Fatal(err)
					}
					const imageRef = "sha256:feedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedface"
					rec := &kubeletconfiginternal.ImagePulledRecord{
						LastUpdatedTime:   metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
						ImageRef:          imageRef,
						CredentialMapping: map[string]kubeletconfiginternal.ImagePullCredentials{},
					}
					switch record {
					case pkkubelet.RecordNode:
						rec.CredentialMapping[sanitized] = kubeletconfiginternal.ImagePullCredentials{NodePodsAccessible: true}
					case pkkubelet.RecordSecret:
						rec.CredentialMapping[sanitized] = kubeletconfiginternal.ImagePullCredentials{KubernetesSecrets: []kubeletconfiginternal.ImagePullSecret{
							{UID: "uid", Namespace: "ns", Name: "regcred", CredentialHash: "hash"}}}
					}
					if record != pkkubelet.RecordNone {
						if err := accessor.WriteImagePulledRecord(logger, rec); err != nil {
							t.Fatal(err)
						}
					}
					enforcer, err := pullmanager.NewImagePullCredentialVerificationPolicy(kp, testAllowlist)
					if err != nil {
						t.Fatal(err)
					}
					m, err := pullmanager.NewImagePullManager(ctx, accessor, enforcer, nil, 4)
					if err != nil {
						t.Fatal(err)
					}
					noCredentials := func() ([]kubeletconfiginternal.ImagePullSecret, *kubeletconfiginternal.ImagePullServiceAccount, error) {
						return nil, nil, nil
					}
					mustPull, err := m.MustAttemptImagePull(ctx, image, imageRef, noCredentials)
					if err != nil {
						t.Fatal(err)
					}
					// The image manager: IfNotPresent pulls when MustAttemptImagePull says so;
					// Never fails instead.
					for policy, want := range map[string]string{
						pkkubelet.PullIfNotPresent: map[bool]string{true: pkkubelet.PullImage, false: pkkubelet.UseImage}[mustPull],
						pkkubelet.PullNever:        map[bool]string{true: pkkubelet.FailNever, false: pkkubelet.UseImage}[mustPull],
						pkkubelet.PullAlways:       pkkubelet.PullImage,
					} {
						if got := pkkubelet.PresentImage(policy, true, name, testAllowlist, image, record); got != want {
							t.Errorf("PresentImage(%s, %s, %q, %s) = %s, kubelet's PullManager gives %s (MustAttemptImagePull = %v)", policy, name, image, record, got, want, mustPull)
						}
					}
				})
			}
		}
	}
}

// TestKubeletConfigMatchesKubelet decodes KubeletConfiguration files with the kubelet's codec
// and validation and compares the verification settings and whether it accepts them.
func TestKubeletConfigMatchesKubelet(t *testing.T) {
	const head = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
	for _, tc := range []struct{ name, file string }{
		{"defaults", head},
		{"AlwaysVerify", head + "imagePullCredentialsVerificationPolicy: AlwaysVerify\n"},
		{"NeverVerify", head + "imagePullCredentialsVerificationPolicy: NeverVerify\n"},
		{"allowlist", head + "imagePullCredentialsVerificationPolicy: NeverVerifyAllowlistedImages\npreloadedImagesVerificationAllowlist: [\"registry.example/*\", \"nginx\"]\n"},
		{"allowlisted policy, empty list", head + "imagePullCredentialsVerificationPolicy: NeverVerifyAllowlistedImages\n"},
		{"allowlist with the default policy", head + "preloadedImagesVerificationAllowlist: [\"registry.example/*\"]\n"},
		{"bad allowlist entry", head + "imagePullCredentialsVerificationPolicy: NeverVerifyAllowlistedImages\npreloadedImagesVerificationAllowlist: [\"nginx:1.27\"]\n"},
		{"unknown policy", head + "imagePullCredentialsVerificationPolicy: Sometimes\n"},
		{"gate off", head + "featureGates:\n  KubeletEnsureSecretPulledImages: false\n"},
		{"gate off with a policy", head + "featureGates:\n  KubeletEnsureSecretPulledImages: false\nimagePullCredentialsVerificationPolicy: AlwaysVerify\n"},
		{"unknown field (lenient)", head + "imagePullCredentialsVerificationpolicy: AlwaysVerify\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kubelet.yaml")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			kc, problems := pkkubelet.LoadKubeletConfig(path)

			_, codecs, err := kubeletscheme.NewSchemeAndCodecs(serializer.EnableStrict)
			if err != nil {
				t.Fatal(err)
			}
			internal, err := kubeletcodec.DecodeKubeletConfiguration(context.Background(), codecs, []byte(tc.file))
			if err != nil {
				t.Fatalf("kubelet's DecodeKubeletConfiguration: %v", err)
			}
			verr := kubeletvalidation.ValidateKubeletConfiguration(internal, utilfeature.DefaultFeatureGate)
			var relevant []string
			var agg interface{ Errors() []error }
			if errors.As(verr, &agg) {
				for _, e := range agg.Errors() {
					if s := e.Error(); strings.Contains(s, "imagePullCredentialsVerificationPolicy") || strings.Contains(s, "preloadedImagesVerificationAllowlist") {
						relevant = append(relevant, s)
					}
				}
			}
			if got, want := len(problems.Errors()) == 0, len(relevant) == 0; got != want {
				t.Errorf("LoadKubeletConfig accepts: %v (%v); the kubelet: %v (%v)", got, problems, want, relevant)
			}
			if kc.VerificationPolicy != string(internal.ImagePullCredentialsVerificationPolicy) {
				t.Errorf("policy = %q, the kubelet's = %q", kc.VerificationPolicy, internal.ImagePullCredentialsVerificationPolicy)
			}
			if fmt.Sprint(kc.Allowlist) != fmt.Sprint(internal.PreloadedImagesVerificationAllowlist) {
				t.Errorf("allowlist = %q, the kubelet's = %q", kc.Allowlist, internal.PreloadedImagesVerificationAllowlist)
			}
		})
	}
}

// TestImageRecordsReadsKubeletFiles writes pull records and intents with the kubelet's own
// file accessor and reads them back with kubelet.ReadImageRecords.
func TestImageRecordsReadsKubeletFiles(t *testing.T) {
	logger := klog.Background()
	root := t.TempDir()
	accessor, err := pullmanager.NewFSPullRecordsAccessor(logger, root)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	records := []*kubeletconfiginternal.ImagePulledRecord{
		{LastUpdatedTime: metav1.NewTime(at), ImageRef: "sha256:aaaa", CredentialMapping: map[string]kubeletconfiginternal.ImagePullCredentials{
			"registry.example/app": {NodePodsAccessible: true},
			"registry.example/other": {
				KubernetesSecrets:         []kubeletconfiginternal.ImagePullSecret{{UID: "u1", Namespace: "team", Name: "regcred", CredentialHash: "h"}},
				KubernetesServiceAccounts: []kubeletconfiginternal.ImagePullServiceAccount{{UID: "u2", Namespace: "team", Name: "builder"}},
			},
		}},
		{LastUpdatedTime: metav1.NewTime(at), ImageRef: "sha256:bbbb", CredentialMapping: map[string]kubeletconfiginternal.ImagePullCredentials{}},
	}
	for _, r := range records {
		if err := accessor.WriteImagePulledRecord(logger, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := accessor.WriteImagePullIntent(logger, "registry.example/app:v2"); err != nil {
		t.Fatal(err)
	}
	got, err := pkkubelet.ReadImageRecords(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Problems) != 0 {
		t.Errorf("ReadImageRecords problems: %v", got.Problems)
	}
	type rec struct {
		Ref    string
		At     time.Time
		Images []pkkubelet.RecordImage
	}
	var gotRecs []rec
	for _, r := range got.Pulled {
		if filepath.Base(r.File) != pkkubelet.RecordFileName(r.ImageRef) {
			t.Errorf("record %s in file %s: RecordFileName = %s", r.ImageRef, r.File, pkkubelet.RecordFileName(r.ImageRef))
		}
		gotRecs = append(gotRecs, rec{r.ImageRef, r.LastUpdated.UTC(), r.Images})
	}
	want := []rec{
		{"sha256:aaaa", at, []pkkubelet.RecordImage{
			{Image: "registry.example/app", Access: pkkubelet.AccessNode},
			{Image: "registry.example/other", Access: pkkubelet.AccessPods, Secrets: []string{"team/regcred (uid u1)"}, ServiceAccounts: []string{"team/builder (uid u2)"}},
		}},
		{"sha256:bbbb", at, []pkkubelet.RecordImage{}},
	}
	if diff := cmp.Diff(want, gotRecs); diff != "" {
		t.Errorf("ReadImageRecords (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"registry.example/app:v2"}, got.Pulling); diff != "" {
		t.Errorf("ReadImageRecords pulling (-want +got):\n%s", diff)
	}
}
