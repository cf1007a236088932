package kubelet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestDefaultPullPolicy(t *testing.T) {
	for _, tc := range []struct {
		name, image, want string
	}{
		{"no tag", "nginx", PullAlways},
		{"latest tag", "nginx:latest", PullAlways},
		{"other tag", "nginx:1.27", PullIfNotPresent},
		{"digest only", "nginx@" + digest, PullIfNotPresent},
		{"latest tag and digest", "nginx:latest@" + digest, PullAlways},
		{"registry with port, no tag", "registry.example:5000/team/app", PullAlways},
		{"registry with port and tag", "registry.example:5000/team/app:v1", PullIfNotPresent},
		{"tag Latest is not latest", "nginx:Latest", PullIfNotPresent},
		{"unparsable", "Nginx", PullIfNotPresent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DefaultPullPolicy(tc.image); got != tc.want {
				t.Errorf("DefaultPullPolicy(%q) = %q, want %q", tc.image, got, tc.want)
			}
		})
	}
}

func TestAllowlistPattern(t *testing.T) {
	for _, tc := range []struct {
		name, pattern, want string
		wildcard, ok        bool
	}{
		{name: "image name", pattern: "registry.example/team/app", want: "registry.example/team/app", ok: true},
		{name: "short name", pattern: "nginx", want: "nginx", ok: true},
		{name: "wildcard", pattern: "registry.example/team/*", want: "registry.example/team/", wildcard: true, ok: true},
		{name: "registry wildcard", pattern: "registry.example/*", want: "registry.example/", wildcard: true, ok: true},
		{name: "bare wildcard", pattern: "/*"},
		{name: "star only", pattern: "*"},
		{name: "tag refused", pattern: "nginx:1.27"},
		{name: "digest refused", pattern: "nginx@" + digest},
		{name: "star inside", pattern: "registry.example/*/app"},
		{name: "suffix star without slash", pattern: "registry.example/team*"},
		{name: "leading space", pattern: " nginx"},
		{name: "empty", pattern: ""},
		{name: "upper case", pattern: "Registry/App"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, wildcard, err := AllowlistPattern(tc.pattern)
			if (err == nil) != tc.ok {
				t.Fatalf("AllowlistPattern(%q) error = %v, want ok %v", tc.pattern, err, tc.ok)
			}
			if tc.ok && (got != tc.want || wildcard != tc.wildcard) {
				t.Errorf("AllowlistPattern(%q) = %q, %v, want %q, %v", tc.pattern, got, wildcard, tc.want, tc.wildcard)
			}
		})
	}
}

func TestAllowlistMatch(t *testing.T) {
	list := []string{"registry.example/team/*", "nginx", "other.example/app"}
	for _, tc := range []struct {
		name, image, want string
	}{
		{"under a wildcard", "registry.example/team/app:v1", "registry.example/team/*"},
		{"deeper under a wildcard", "registry.example/team/sub/app@" + digest, "registry.example/team/*"},
		{"exact name with tag", "other.example/app:v2", "other.example/app"},
		{"short name as written", "nginx:1.27", "nginx"},
		{"normalised name does not match a short entry", "docker.io/library/nginx:1.27", ""},
		{"other path", "other.example/app2", ""},
		{"wildcard needs the slash", "registry.example/teamx/app", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := AllowlistMatch(list, tc.image); got != tc.want {
				t.Errorf("AllowlistMatch(%q) = %q, want %q", tc.image, got, tc.want)
			}
		})
	}
}

func TestPresentImage(t *testing.T) {
	allow := []string{"registry.example/*"}
	for _, tc := range []struct {
		name, pullPolicy string
		gate             bool
		policy, image    string
		record, want     string
	}{
		{"Always pulls whatever the policy", PullAlways, true, NeverVerify, "registry.example/a:v1", RecordNone, PullImage},
		{"gate off: used", PullIfNotPresent, false, "", "registry.example/a:v1", RecordSecret, UseImage},
		{"gate off, Never: used", PullNever, false, "", "registry.example/a:v1", RecordSecret, UseImage},
		{"NeverVerify, Secret record: used", PullIfNotPresent, true, NeverVerify, "registry.example/a:v1", RecordSecret, UseImage},
		{"NeverVerifyPreloadedImages, preloaded: used", PullIfNotPresent, true, NeverVerifyPreloadedImages, "private.example/a:v1", RecordNone, UseImage},
		{"NeverVerifyPreloadedImages, node record: used", PullIfNotPresent, true, NeverVerifyPreloadedImages, "private.example/a:v1", RecordNode, UseImage},
		{"NeverVerifyPreloadedImages, Secret record: pull", PullIfNotPresent, true, NeverVerifyPreloadedImages, "private.example/a:v1", RecordSecret, PullImage},
		{"NeverVerifyPreloadedImages, record without credentials: pull", PullIfNotPresent, true, NeverVerifyPreloadedImages, "private.example/a:v1", RecordUnknown, PullImage},
		{"NeverVerifyPreloadedImages, Secret record, Never: fail", PullNever, true, NeverVerifyPreloadedImages, "private.example/a:v1", RecordSecret, FailNever},
		{"allowlisted, Secret record: used", PullIfNotPresent, true, NeverVerifyAllowlistedImages, "registry.example/a:v1", RecordSecret, UseImage},
		{"not allowlisted, preloaded: pull", PullIfNotPresent, true, NeverVerifyAllowlistedImages, "private.example/a:v1", RecordNone, PullImage},
		{"not allowlisted, preloaded, Never: fail", PullNever, true, NeverVerifyAllowlistedImages, "private.example/a:v1", RecordNone, FailNever},
		{"AlwaysVerify, preloaded: pull", PullIfNotPresent, true, AlwaysVerify, "registry.example/a:v1", RecordNone, PullImage},
		{"AlwaysVerify, node record: used", PullIfNotPresent, true, AlwaysVerify, "registry.example/a:v1", RecordNode, UseImage},
		{"AlwaysVerify, node record, Never: used", PullNever, true, AlwaysVerify, "registry.example/a:v1", RecordNode, UseImage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PresentImage(tc.pullPolicy, tc.gate, tc.policy, allow, tc.image, tc.record); got != tc.want {
				t.Errorf("PresentImage(%s, %v, %s, %q, %s) = %s, want %s", tc.pullPolicy, tc.gate, tc.policy, tc.image, tc.record, got, tc.want)
			}
		})
	}
}

func TestLoadKubeletConfig(t *testing.T) {
	const head = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
	type want struct {
		gate      bool
		policy    string
		source    string
		allowlist []string
		errors    []string // fields of the errors
		warnings  []string // fields of the warnings
	}
	for _, tc := range []struct {
		name, file string
		want       want
	}{
		{name: "defaults", file: head, want: want{gate: true, policy: NeverVerifyPreloadedImages, source: "default"}},
		{name: "AlwaysVerify", file: head + "imagePullCredentialsVerificationPolicy: AlwaysVerify\n", want: want{gate: true, policy: AlwaysVerify, source: "file"}},
		{name: "allowlist", file: head + "imagePullCredentialsVerificationPolicy: NeverVerifyAllowlistedImages\npreloadedImagesVerificationAllowlist: [\"registry.example/*\"]\n",
			want: want{gate: true, policy: NeverVerifyAllowlistedImages, source: "file", allowlist: []string{"registry.example/*"}}},
		{name: "allowlist with the wrong policy", file: head + "preloadedImagesVerificationAllowlist: [\"registry.example/*\"]\n",
			want: want{gate: true, policy: NeverVerifyPreloadedImages, source: "default", allowlist: []string{"registry.example/*"}, errors: []string{"preloadedImagesVerificationAllowlist"}}},
		{name: "bad allowlist entry", file: head + "imagePullCredentialsVerificationPolicy: NeverVerifyAllowlistedImages\npreloadedImagesVerificationAllowlist: [\"nginx:1.2\", \"ok\"]\n",
			want: want{gate: true, policy: NeverVerifyAllowlistedImages, source: "file", allowlist: []string{"nginx:1.2", "ok"}, errors: []string{"preloadedImagesVerificationAllowlist[0]"}}},
		{name: "unknown policy", file: head + "imagePullCredentialsVerificationPolicy: Sometimes\n", want: want{gate: true, policy: "Sometimes", source: "file", errors: []string{"imagePullCredentialsVerificationPolicy"}}},
		{name: "gate off", file: head + "featureGates:\n  KubeletEnsureSecretPulledImages: false\n", want: want{}},
		{name: "gate off with a policy", file: head + "featureGates:\n  KubeletEnsureSecretPulledImages: false\nimagePullCredentialsVerificationPolicy: AlwaysVerify\n",
			want: want{policy: AlwaysVerify, source: "file", errors: []string{"imagePullCredentialsVerificationPolicy"}}},
		{name: "unknown field is a warning", file: head + "imagePullCredentialsVerificationpolicy: AlwaysVerify\n", want: want{gate: true, policy: NeverVerifyPreloadedImages, source: "default", warnings: []string{"imagePullCredentialsVerificationpolicy"}}},
		{name: "JSON", file: `{"apiVersion":"kubelet.config.k8s.io/v1beta1","kind":"KubeletConfiguration","imagePullCredentialsVerificationPolicy":"NeverVerify"}`, want: want{gate: true, policy: NeverVerify, source: "file"}},
		{name: "wrong kind", file: "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: CredentialProviderConfig\n", want: want{errors: []string{"kind"}}},
		{name: "wrong version", file: "apiVersion: kubelet.config.k8s.io/v1\nkind: KubeletConfiguration\n", want: want{errors: []string{"apiVersion"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kubelet.yaml")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			kc, problems := LoadKubeletConfig(path)
			fields := func(ps Problems) []string {
				var out []string
				for _, p := range ps {
					if p.File != path {
						t.Errorf("problem %v: file %q, want %q", p, p.File, path)
					}
					out = append(out, p.Field)
				}
				return out
			}
			got := want{gate: kc.EnsureSecretPulledImages, policy: kc.VerificationPolicy, source: kc.PolicySource, allowlist: kc.Allowlist,
				errors: fields(problems.Errors()), warnings: fields(problems.Warnings())}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("LoadKubeletConfig(%s) (-want +got):\n%s\nproblems: %v", strings.TrimSpace(tc.name), diff, problems)
			}
		})
	}
}

func TestNewPullReport(t *testing.T) {
	kc := &KubeletConfig{Path: "k.yaml", EnsureSecretPulledImages: true, VerificationPolicy: NeverVerifyAllowlistedImages, Allowlist: []string{"registry.example/*"}}
	for _, tc := range []struct {
		name, image, policy string
		kc                  *KubeletConfig
		want                PullReport
	}{
		{name: "latest, no config", image: "nginx:latest", want: PullReport{DefaultPolicy: PullAlways, Policy: PullAlways, PolicySource: "default", WhenAbsent: PullImage,
			Verification: VerificationReport{FeatureGate: true, Policy: NeverVerifyPreloadedImages, Preloaded: PullImage, PulledByKubeletForNode: PullImage, PulledByKubeletWithSecret: PullImage}}},
		{name: "digest, allowlisted", image: "registry.example/a@" + digest, kc: kc, want: PullReport{DefaultPolicy: PullIfNotPresent, Policy: PullIfNotPresent, PolicySource: "default", WhenAbsent: PullImage,
			Verification: VerificationReport{KubeletConfig: "k.yaml", FeatureGate: true, Policy: NeverVerifyAllowlistedImages, AllowlistEntry: "registry.example/*", Preloaded: UseImage, PulledByKubeletForNode: UseImage, PulledByKubeletWithSecret: UseImage}}},
		{name: "Never given, not allowlisted", image: "other.example/a:v1", policy: PullNever, kc: kc, want: PullReport{DefaultPolicy: PullIfNotPresent, Policy: PullNever, PolicySource: "given", WhenAbsent: FailNever,
			Verification: VerificationReport{KubeletConfig: "k.yaml", FeatureGate: true, Policy: NeverVerifyAllowlistedImages, Preloaded: FailNever, PulledByKubeletForNode: UseImage, PulledByKubeletWithSecret: FailNever}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NewPullReport(tc.image, tc.policy, tc.kc)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("NewPullReport(%q, %q) (-want +got):\n%s", tc.image, tc.policy, diff)
			}
		})
	}
}
