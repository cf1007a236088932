// Package prepull pulls images into a node's container runtime through CRI, as the kubelet
// does for a pod, so that every node holds the same images before any pod asks for them.
//
// For each image, [Run] asks the runtime's image service for the image first (ImageStatus,
// with the reference the kubelet uses: ":latest" added when the image has neither tag nor
// digest) and pulls only when it is absent. A pull tries each [Credential] in order until
// one works, with no credential an anonymous pull, exactly as the kubelet's runtime manager
// hands credentials to the runtime; the caller supplies them (pullkeys takes them from pull
// Secrets, then from the node's credential providers). Pulls run one at a time unless
// Options.Parallel says otherwise, as the kubelet's serial image puller.
//
// Images pulled this way leave no record in the kubelet's image_manager directory: the
// kubelet treats them as preloaded. Under its default imagePullCredentialsVerificationPolicy
// (NeverVerifyPreloadedImages) any pod on the node may then use them without credentials;
// [Allowlist] gives the preloadedImagesVerificationAllowlist entries to name them explicitly
// under NeverVerifyAllowlistedImages.
//
// [Connect] uses the kubelet's CRI client (k8s.io/cri-client). Only the pullkeys binary
// links this package; the credential provider plugins do not, and must not, import it.
package prepull
