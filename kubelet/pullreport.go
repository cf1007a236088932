package kubelet

import (
	"fmt"
	"slices"
)

// PullReport is what the kubelet does about pulling one image: the pull policy, and whether a
// pod without credentials of its own may use the image when it is already on the node.
type PullReport struct {
	// DefaultPolicy is the imagePullPolicy the API server gives a container that sets none.
	DefaultPolicy string `json:"defaultPolicy"`
	// Policy is the policy used below: the one given, else DefaultPolicy.
	Policy string `json:"policy"`
	// PolicySource is "default" or "given".
	PolicySource string `json:"policySource"`
	// WhenAbsent is what the kubelet does when the image is not on the node: PullImage, or
	// FailNever for pull policy Never (ErrImageNeverPull).
	WhenAbsent string `json:"whenAbsent"`
	// Verification says how the kubelet treats the image when it is on the node.
	Verification VerificationReport `json:"verification"`
}

// VerificationReport applies the kubelet's credential verification (KEP-2535) to one image,
// for a pod without credentials of its own (no pull Secret, no service account token
// credentials): each field but the first four is the outcome (UseImage, PullImage or
// FailNever) when the image is on the node, by how it got there.
type VerificationReport struct {
	// KubeletConfig is the KubeletConfiguration read; "" when none was given and the
	// kubelet's defaults are assumed.
	KubeletConfig string `json:"kubeletConfig,omitempty"`
	// FeatureGate is KubeletEnsureSecretPulledImages; when off the policy is ignored.
	FeatureGate bool `json:"featureGate"`
	// Policy is imagePullCredentialsVerificationPolicy ("" with the gate off).
	Policy string `json:"policy,omitempty"`
	// AllowlistEntry is the preloadedImagesVerificationAllowlist entry matching the image,
	// under NeverVerifyAllowlistedImages.
	AllowlistEntry string `json:"allowlistEntry,omitempty"`
	// Preloaded: no kubelet pull record (node image, or pulled through CRI by pullkeys
	// prepull or any tool other than the kubelet).
	Preloaded string `json:"preloaded"`
	// PulledByKubeletForNode: the kubelet pulled it with node-wide credentials (providers
	// without tokenAttributes) or anonymously.
	PulledByKubeletForNode string `json:"pulledByKubeletForNode"`
	// PulledByKubeletWithSecret: the kubelet pulled it only with other pods' Secrets or
	// service account tokens.
	PulledByKubeletWithSecret string `json:"pulledByKubeletWithSecret"`
}

// NewPullReport answers for image with the pull policy given (""
// for the API server's default) and the kubelet config (nil: the kubelet's defaults, the
// gate on and NeverVerifyPreloadedImages).
func NewPullReport(image, policy string, kc *KubeletConfig) PullReport {
	pr := PullReport{DefaultPolicy: DefaultPullPolicy(image), Policy: policy, PolicySource: "given"}
	if policy == "" {
		pr.Policy, pr.PolicySource = pr.DefaultPolicy, "default"
	}
	pr.WhenAbsent = PullImage
	if pr.Policy == PullNever {
		pr.WhenAbsent = FailNever
	}
	v := VerificationReport{FeatureGate: true, Policy: NeverVerifyPreloadedImages}
	var allowlist []string
	if kc != nil {
		v.KubeletConfig, v.FeatureGate, v.Policy, allowlist = kc.Path, kc.EnsureSecretPulledImages, kc.VerificationPolicy, kc.Allowlist
	}
	if v.FeatureGate && v.Policy == NeverVerifyAllowlistedImages {
		v.AllowlistEntry = AllowlistMatch(allowlist, image)
	}
	outcome := func(record string) string {
		return PresentImage(pr.Policy, v.FeatureGate, v.Policy, allowlist, image, record)
	}
	v.Preloaded = outcome(RecordNone)
	v.PulledByKubeletForNode = outcome(RecordNode)
	v.PulledByKubeletWithSecret = outcome(RecordSecret)
	pr.Verification = v
	return pr
}

// ValidPullPolicy reports an error for a policy the API server rejects ("" is allowed: the
// default).
func ValidPullPolicy(policy string) error {
	if policy == "" || slices.Contains(PullPolicies(), policy) {
		return nil
	}
	return fmt.Errorf("pull policy %q: want one of %q", policy, PullPolicies())
}

// outcomeText says an outcome in words for a pod without credentials of its own; creds is
// how many credentials the node's providers give for the image.
func outcomeText(outcome string, creds int) string {
	switch outcome {
	case UseImage:
		return "uses the image on the node, no registry contact"
	case FailNever:
		return "fails: ErrImageNeverPull (\"not present with pull policy of Never\")"
	}
	if creds == 0 {
		return "pulls again, anonymously (the node's providers give no credentials)"
	}
	return fmt.Sprintf("pulls again with the node's credentials (%d from providers)", creds)
}
