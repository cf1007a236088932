package kubelet

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// The image pull policies of a container (core/v1 PullPolicy values).
const (
	PullAlways       = "Always"
	PullIfNotPresent = "IfNotPresent"
	PullNever        = "Never"
)

// PullPolicies lists the pull policies the API server accepts.
func PullPolicies() []string { return []string{PullAlways, PullIfNotPresent, PullNever} }

// DefaultPullPolicy returns the imagePullPolicy the API server gives a container that sets
// none: Always when the image's tag is "latest" or when it has neither tag nor digest (the
// kubelet then pulls ":latest"), IfNotPresent otherwise, digest-only references included.
// An image that does not parse gets IfNotPresent, as in the API server, which leaves the
// error to validation.
func DefaultPullPolicy(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return PullIfNotPresent
	}
	var tag string
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	if _, digested := named.(reference.Digested); tag == "latest" || (tag == "" && !digested) {
		return PullAlways
	}
	return PullIfNotPresent
}

// The kubelet's imagePullCredentialsVerificationPolicy values (KEP-2535).
const (
	// NeverVerify: any pod may use any image present on the node.
	NeverVerify = "NeverVerify"
	// NeverVerifyPreloadedImages (the default): images the kubelet did not pull (baked into
	// the node, or pulled through the runtime directly, as pullkeys prepull does) may be
	// used by any pod; images the kubelet pulled are checked against its pull records.
	NeverVerifyPreloadedImages = "NeverVerifyPreloadedImages"
	// NeverVerifyAllowlistedImages: images whose name is in
	// preloadedImagesVerificationAllowlist may be used by any pod; every other image is
	// checked against the pull records, preloaded or not.
	NeverVerifyAllowlistedImages = "NeverVerifyAllowlistedImages"
	// AlwaysVerify: every image is checked against the pull records.
	AlwaysVerify = "AlwaysVerify"
)

// VerificationPolicies lists the values of imagePullCredentialsVerificationPolicy.
func VerificationPolicies() []string {
	return []string{NeverVerify, NeverVerifyPreloadedImages, NeverVerifyAllowlistedImages, AlwaysVerify}
}

// TrimTagDigest removes a trailing digest and then a trailing tag from image, leaving the
// name exactly as written (no docker.io/library/ added): the key of the kubelet's pull
// records and what preloadedImagesVerificationAllowlist is compared with.
func TrimTagDigest(image string) (string, error) {
	parsed, err := reference.Parse(image)
	if err != nil {
		return "", err
	}
	if d, ok := parsed.(reference.Digested); ok {
		var found bool
		if image, found = strings.CutSuffix(image, "@"+d.Digest().String()); !found {
			return "", fmt.Errorf("digest was not specified last in %q", image)
		}
	}
	if t, ok := parsed.(reference.Tagged); ok {
		var found bool
		if image, found = strings.CutSuffix(image, ":"+t.Tag()); !found {
			return "", fmt.Errorf("tag %q was not specified last (or before the digest) in %q", t.Tag(), image)
		}
	}
	return image, nil
}

// AllowlistPattern checks one preloadedImagesVerificationAllowlist entry with the kubelet's
// rules and returns what it compares: an image name without tag or digest matched exactly
// ("registry.example/team/app"), or a prefix ending in "/" when the entry ends in "/*"
// ("registry.example/team/*" matches every image under registry.example/team/, at any
// depth). Names are compared as written in the pod, not normalised: "nginx" and
// "docker.io/library/nginx" are different entries.
func AllowlistPattern(pattern string) (prefix string, wildcard bool, err error) {
	if pattern != strings.TrimSpace(pattern) {
		return "", false, fmt.Errorf("leading/trailing spaces are not allowed: %s", pattern)
	}
	trimmed := pattern
	if strings.HasSuffix(pattern, "/*") {
		wildcard = true
		trimmed = strings.TrimSuffix(trimmed, "*")
	}
	if trimmed == "" {
		return "", false, fmt.Errorf("the supplied pattern is too short: %s", pattern)
	}
	if strings.ContainsRune(trimmed, '*') {
		return "", false, fmt.Errorf("not a valid wildcard pattern, only patterns ending with '/*' are allowed: %s", pattern)
	}
	if wildcard {
		if len(trimmed) == 1 {
			return "", false, fmt.Errorf("at least registry hostname is required")
		}
		return trimmed, true, nil
	}
	name, err := TrimTagDigest(trimmed)
	if err != nil {
		return "", false, fmt.Errorf("failed to parse as an image name: %w", err)
	}
	if name != trimmed {
		return "", false, fmt.Errorf("neither tag nor digest is accepted in an image reference: %s", pattern)
	}
	return trimmed, false, nil
}

// AllowlistMatch returns the first entry of allowlist that lets image skip verification
// under NeverVerifyAllowlistedImages, or "" when none does. Invalid entries never match
// (the kubelet refuses to start with one).
func AllowlistMatch(allowlist []string, image string) string {
	name, err := TrimTagDigest(image)
	if err != nil {
		name = image // the kubelet matches what it has, best effort
	}
	for _, entry := range allowlist {
		p, wildcard, err := AllowlistPattern(entry)
		switch {
		case err != nil:
		case wildcard && strings.HasPrefix(name, p), !wildcard && name == p:
			return entry
		}
	}
	return ""
}

// AllowlistEntry returns the preloadedImagesVerificationAllowlist entry that covers image:
// the image as written with its tag and digest removed.
func AllowlistEntry(image string) (string, error) {
	name, err := TrimTagDigest(image)
	if err != nil {
		return "", err
	}
	if _, _, err := AllowlistPattern(name); err != nil {
		return "", err
	}
	return name, nil
}

// RequiresVerification reports whether the kubelet, under policy, checks its pull records
// before letting a pod use an image already on the node. pulledByKubelet says the kubelet
// holds a pull record (or a pull intent) for the image. An unknown policy verifies.
func RequiresVerification(policy string, allowlist []string, image string, pulledByKubelet bool) bool {
	switch policy {
	case NeverVerify:
		return false
	case NeverVerifyPreloadedImages:
		return pulledByKubelet
	case NeverVerifyAllowlistedImages:
		return AllowlistMatch(allowlist, image) == ""
	}
	return true
}

// The kubelet's pull records for an image already on the node, from the point of view of a
// pod: how the image got there.
const (
	// RecordNone: no record, the image is preloaded (node image, or pulled through the
	// runtime by something other than the kubelet, such as pullkeys prepull).
	RecordNone = "none"
	// RecordNode: the kubelet pulled it with node-wide credentials (a credential provider
	// without tokenAttributes) or anonymously; the record says any pod on the node may use it.
	RecordNode = "node"
	// RecordSecret: the kubelet pulled it with a pod's pull Secret (or a service account
	// token) and recorded only those credentials.
	RecordSecret = "secret"
	// RecordUnknown: the kubelet has a record without credentials for this image name (it
	// found the image after a restart, or pulled it under another name).
	RecordUnknown = "unknown"
)

// Outcomes of PresentImage.
const (
	// UseImage: the pod uses the image on the node; the registry is not contacted.
	UseImage = "use"
	// PullImage: the kubelet pulls the image for the pod, contacting the registry with the
	// credentials the node's providers and the pod's Secrets give (none: anonymously).
	PullImage = "pull"
	// FailNever: pull policy Never but the pod may not use the image on the node: the
	// kubelet reports ErrImageNeverPull, as if the image were absent.
	FailNever = "fail"
)

// PresentImage says what the kubelet does for a pod without credentials of its own (no pull
// Secret, no service account token credentials) whose container names image, under
// pullPolicy, when the image is already on the node and the kubelet's pull records for it
// are record (RecordNone, RecordNode, RecordSecret or RecordUnknown). ensureSecretPulled is
// the KubeletEnsureSecretPulledImages feature gate; without it the policy is ignored.
func PresentImage(pullPolicy string, ensureSecretPulled bool, policy string, allowlist []string, image, record string) string {
	if pullPolicy == PullAlways {
		return PullImage
	}
	if !ensureSecretPulled {
		return UseImage
	}
	mustPull := RequiresVerification(policy, allowlist, image, record != RecordNone) && record != RecordNode
	switch {
	case !mustPull:
		return UseImage
	case pullPolicy == PullNever:
		return FailNever
	}
	return PullImage
}
