package kubelet

import (
	"fmt"
	"os"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	k8sjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	configv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"
)

// KubeletConfigKind is the kind of the kubelet's --config file.
const KubeletConfigKind = "KubeletConfiguration"

// EnsureSecretPulledImagesGate is the feature gate of KEP-2535: when on, the kubelet checks
// its pull records before letting a pod use an image already on the node. Beta and on by
// default since Kubernetes 1.35.
const EnsureSecretPulledImagesGate = "KubeletEnsureSecretPulledImages"

// KubeletConfig is what pullkeys reads from a KubeletConfiguration: the settings that decide
// whether a pod may use an image already on the node, with the kubelet's defaults applied.
type KubeletConfig struct {
	// Path is the file read.
	Path string `json:"path"`
	// EnsureSecretPulledImages is the KubeletEnsureSecretPulledImages gate as the file's
	// featureGates leave it (on unless set to false there; the kubelet's --feature-gates
	// flag, which pullkeys does not see, can also change it).
	EnsureSecretPulledImages bool `json:"ensureSecretPulledImages"`
	// VerificationPolicy is imagePullCredentialsVerificationPolicy, defaulted to
	// NeverVerifyPreloadedImages when the gate is on; "" when it is off.
	VerificationPolicy string `json:"imagePullCredentialsVerificationPolicy,omitempty"`
	// PolicySource is "file" or "default".
	PolicySource string `json:"policySource,omitempty"`
	// Allowlist is preloadedImagesVerificationAllowlist.
	Allowlist []string `json:"preloadedImagesVerificationAllowlist,omitempty"`
}

// DefaultKubeletRootDir is the kubelet's default --root-dir.
const DefaultKubeletRootDir = "/var/lib/kubelet"

var kubeletConfigCodecs = sync.OnceValue(func() serializer.CodecFactory {
	scheme := runtime.NewScheme()
	scheme.AddKnownTypes(configv1beta1.SchemeGroupVersion, &configv1beta1.KubeletConfiguration{})
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict)
})

var kubeletConfigLenient = sync.OnceValue(func() serializer.CodecFactory {
	scheme := runtime.NewScheme()
	scheme.AddKnownTypes(configv1beta1.SchemeGroupVersion, &configv1beta1.KubeletConfiguration{})
	return serializer.NewCodecFactory(scheme)
})

// LoadKubeletConfig reads a KubeletConfiguration (kubelet.config.k8s.io/v1beta1, YAML or
// JSON) as the kubelet does: strictly first; on unknown or duplicate fields the kubelet
// decodes again leniently and only logs, so those are warnings here. It then applies the
// kubelet's defaults and validation for imagePullCredentialsVerificationPolicy and
// preloadedImagesVerificationAllowlist; errors are what makes the kubelet refuse to start.
// The other fields are not checked.
func LoadKubeletConfig(path string) (*KubeletConfig, Problems) {
	kc := &KubeletConfig{Path: path}
	data, err := os.ReadFile(path)
	if err != nil {
		return kc, Problems{errorf(path, "", "", "unable to read kubelet config: %s", pathError(err))}
	}
	problems := decodeKubeletConfig(data, kc)
	for i := range problems {
		problems[i].File = path
	}
	return kc, problems
}

func decodeKubeletConfig(data []byte, kc *KubeletConfig) Problems {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return Problems{errorf("", "", "", "cannot parse YAML: %s", jsonProblem(err))}
	}
	gvk, err := k8sjson.DefaultMetaFactory.Interpret(js)
	if err != nil {
		return Problems{errorf("", "", "", "cannot parse JSON: %s", jsonProblem(err))}
	}
	want := configv1beta1.SchemeGroupVersion.String()
	switch {
	case gvk.GroupVersion().String() != want:
		return Problems{errorf("", "apiVersion", "Unsupported value", "%q: want %s", gvk.GroupVersion().String(), want)}
	case gvk.Kind != KubeletConfigKind:
		return Problems{errorf("", "kind", "Unsupported value", "%q: want %s", gvk.Kind, KubeletConfigKind)}
	}
	var problems Problems
	obj, _, err := kubeletConfigCodecs().UniversalDeserializer().Decode(data, nil, nil)
	if strict, ok := runtime.AsStrictDecodingError(err); ok {
		for _, e := range strict.Errors() {
			for _, p := range strictProblems(e) {
				p.Severity = SeverityWarning
				p.Detail = "the kubelet logs \"Using lenient decoding as strict decoding failed\" and ignores it"
				problems = append(problems, p)
			}
		}
		obj, _, err = kubeletConfigLenient().UniversalDeserializer().Decode(data, nil, nil)
	}
	if err != nil {
		return append(problems, errorf("", "", "", "cannot decode %s: %s", KubeletConfigKind, jsonProblem(err)))
	}
	c, ok := obj.(*configv1beta1.KubeletConfiguration)
	if !ok {
		return append(problems, errorf("", "", "", "unexpected type %T", obj))
	}
	kc.EnsureSecretPulledImages = true
	if on, set := c.FeatureGates[EnsureSecretPulledImagesGate]; set {
		kc.EnsureSecretPulledImages = on
	}
	kc.VerificationPolicy = string(c.ImagePullCredentialsVerificationPolicy)
	kc.Allowlist = c.PreloadedImagesVerificationAllowlist
	if kc.VerificationPolicy != "" {
		kc.PolicySource = "file"
	}
	return append(problems, kc.defaultAndValidate()...)
}

// defaultAndValidate applies the kubelet's default for the policy and its validation rules
// (pkg/kubelet/apis/config: v1beta1 defaults, validation).
func (kc *KubeletConfig) defaultAndValidate() Problems {
	const policyField, allowField = "imagePullCredentialsVerificationPolicy", "preloadedImagesVerificationAllowlist"
	var problems Problems
	if !kc.EnsureSecretPulledImages {
		if kc.VerificationPolicy != "" {
			problems = append(problems, errorf("", policyField, "Forbidden", "must not be set if the %s feature gate is not enabled", EnsureSecretPulledImagesGate))
		}
		if len(kc.Allowlist) > 0 {
			problems = append(problems, errorf("", allowField, "Forbidden", "must not be set if the %s feature gate is not enabled", EnsureSecretPulledImagesGate))
		}
		return problems
	}
	if kc.VerificationPolicy == "" {
		kc.VerificationPolicy, kc.PolicySource = NeverVerifyPreloadedImages, "default"
	}
	if !slices.Contains(VerificationPolicies(), kc.VerificationPolicy) {
		problems = append(problems, errorf("", policyField, "Unsupported value", "%q: supported values: %q", kc.VerificationPolicy, VerificationPolicies()))
	}
	if len(kc.Allowlist) > 0 && kc.VerificationPolicy != NeverVerifyAllowlistedImages {
		problems = append(problems, errorf("", allowField, "Forbidden", "can't be set unless %s is %q", policyField, NeverVerifyAllowlistedImages))
		return problems
	}
	for i, entry := range kc.Allowlist {
		if _, _, err := AllowlistPattern(entry); err != nil {
			problems = append(problems, errorf("", fmt.Sprintf("%s[%d]", allowField, i), "Invalid value", "%s", err))
		}
	}
	return problems
}
