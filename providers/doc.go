// Package providers implements the plugin side of the kubelet's image credential provider
// exec protocol (credentialprovider.kubelet.k8s.io v1alpha1, v1beta1 and v1).
//
// The kubelet starts a plugin binary, writes one CredentialProviderRequest as JSON on its
// stdin and reads one CredentialProviderResponse from its stdout. The kubelet never fails a
// pull because a plugin failed: it logs the error (with the plugin's stderr) and pulls with
// whatever other credentials it has, often anonymously. So a plugin must either answer exactly
// right or fail loudly, and must keep stdout for the protocol alone.
//
// # Requests
//
// [DecodeRequest] reads the group, version and kind first. Malformed JSON, a kind other than
// CredentialProviderRequest, or an apiVersion other than the three the kubelet speaks is an
// error. Unknown fields are tolerated (a newer kubelet adds fields to an existing version, as
// it did with the service-account fields in v1) and only logged at verbosity 4.
// serviceAccountToken and serviceAccountAnnotations exist in v1 only; in older versions they
// are unknown fields and never reach the provider.
//
// # Responses
//
// [EncodeResponse] writes the response in the apiVersion of the request (a kubelet configured
// for v1beta1 rejects a v1 answer) and in a form that the kubelet's strict decoder accepts:
// cacheKeyType is always one of Image, Registry or Global. A nil CacheDuration is left off the
// wire, so the kubelet applies the provider's defaultCacheDuration; a zero duration is written
// as "0s", which tells the kubelet not to cache the answer at all.
//
// # Running
//
// [Run] is the whole protocol as a function of a reader and a writer: it reads at most
// [MaxRequestBytes], normalises the image the way the kubelet does before it calls a plugin
// (nginx:1.2 becomes docker.io/library/nginx), calls the [Provider] under a deadline safely
// below the kubelet's one-minute kill, and writes exactly one JSON document on success and
// nothing at all on failure. [Main] wraps Run for a binary: shared flags, logs on stderr,
// exit status and signals.
//
// # Start-up
//
// The kubelet starts a plugin process for every pull it cannot answer from its own cache, so
// what a process does before it reads the request is paid on every such pull. The scheme and
// codecs are built on first use, and nothing here compiles regular expressions or builds
// tables at package initialisation. Each plugin is one binary: what keeps it fast in steady
// state is the shared token cache (package cache), which answers without a cloud call while
// the token is fresh; hack/bench and docs/benchmarks.md measure it.
package providers
