// Package kubelet is the kubelet's side of the image credential provider exec protocol, as a
// library: read and validate a CredentialProviderConfig, pick the providers for an image, exec a
// plugin and judge its answer exactly as the kubelet does (k8s.io/kubernetes
// pkg/credentialprovider/plugin), and show every step. The pullkeys command and the end-to-end
// tests are built on it.
//
// # Config
//
// [ReadConfig] reads the kubelet's --image-credential-provider-config: one file, or a directory
// whose regular *.json, *.yaml and *.yml files (extensions compared case-sensitively, other
// files ignored) are read in lexical order and merged, as recent kubelets do. Each file must
// be a CredentialProviderConfig of kubelet.config.k8s.io v1, v1beta1 or v1alpha1, and is
// decoded strictly, as by the kubelet's codec: unknown fields (including fields in the wrong
// case, and tokenAttributes in v1beta1 or v1alpha1), duplicate fields and YAML duplicate keys
// are errors. apiVersion and kind are checked before decoding, so no error quotes the document
// (env values may be secret). Unlike the kubelet, which stops at the first bad file, every file
// is read and every problem reported.
//
// [Validate] applies the kubelet's validateCredentialProviderConfig to the merged providers:
// at least one provider; names without '/' or spaces, not "." or "..", unique across all files;
// apiVersion one of credentialprovider.kubelet.k8s.io v1, v1beta1, v1alpha1; at least one
// matchImages entry, each parsing as a schemeless URL; defaultCacheDuration present and not
// negative; and for tokenAttributes (credentialprovider v1 only): serviceAccountTokenAudience,
// requireServiceAccount and cacheType (Token or ServiceAccount) set, annotation keys that are
// qualified names (case-insensitively), unique, not both required and optional, and required
// keys only with requireServiceAccount: true. Each [Problem] carries its file and a field path
// with the entry's index in that file (providers[1].matchImages[0]; the kubelet prints no
// index). Warnings, which the kubelet does not give, flag entries it accepts but that cannot
// work: a matchImages entry with a scheme, a '?' or '#', a tag, or a malformed glob.
//
// [CheckBinaries] is the kubelet's start-up check: the bin dir exists and
// exec.LookPath(<bin-dir>/<name>) finds every provider's binary. A failure there, like any
// config error, keeps the kubelet from starting at all.
//
// # One image
//
// [Check] takes images as people type them and for each does what the kubelet does before a
// pull:
//
//   - the image is normalised (keyring.NormalizeImage: nginx:1.2 is sent as
//     docker.io/library/nginx);
//   - a provider is used when one of its matchImages matches the image by the kubelet's rules
//     (keyring.Match); for each entry that does not, [ExplainMatch] names the rule that failed
//     (port, label count, path, host) and the parts that differ, since a provider skipped in
//     silence is the most common wiring mistake;
//   - with tokenAttributes, the service account rules of the kubelet apply ([BuildRequest]):
//     no service account and requireServiceAccount: true, or a missing required annotation,
//     skip the plugin (the kubelet logs this at verbosity 5 only);
//   - each matching plugin is run by [Exec] exactly as the kubelet runs it: <bin-dir>/<name>
//     with the config's args, the parent environment with the config's env appended (a config
//     entry overrides a variable of the same name), the request in the provider's apiVersion
//     on stdin, stdout and stderr apart, killed after [DefaultTimeout] (one minute). A plugin
//     that exits but leaves a child holding its stdout or stderr is waited for, like the kubelet
//     does, up to the timeout;
//   - the answer is decoded as the kubelet does (providers.DecodeResponse: the apiVersion of
//     the request, kind CredentialProviderResponse, strict, a known cacheKeyType); a rejected
//     answer is reported without its content, with a hint when stdout is empty, starts with
//     something other than a JSON object, or holds two documents. With a service account token
//     and cacheType ServiceAccount, an answer whose password is the token itself is refused,
//     as by the kubelet;
//   - the answers of all providers are merged into one keyring, and keyring.Lookup gives the
//     credentials the kubelet hands to the runtime, in its order (keys in reverse lexical
//     order, Docker Hub images falling back to index.docker.io). An answer with credentials
//     none of which applies to the image is an error of that provider: the kubelet silently
//     uses none of them;
//   - the kubelet's cache key for the answer ([CacheKey]: the image, its registry, or
//     "global") and duration ([CacheDuration]: the answer's cacheDuration, else the provider's
//     defaultCacheDuration; 0s is not cached) are reported. Within one Check, answers are
//     cached as the kubelet caches them and looked up by image, registry, then global before
//     an exec, so a Registry or Global answer is reused for later images without an exec, as
//     on a node, where it may not cover them.
//
// The kubelet never fails a pull because a plugin failed: it logs and pulls with whatever else
// it has, often anonymously. Check turns each such silent failure into an error in the
// [Report]: [Report.OK] is false when the config has errors or any image has [StatusError].
//
// # Secrets
//
// Passwords in a Report are masked ([Mask]: "********(32 chars)") unless
// CheckOptions.ShowSecrets is set. A plugin's stdout is never kept beyond decoding; its stderr,
// the plugin's own diagnostics that the kubelet copies into its log, is reported with the
// service account token and the answer's passwords redacted, as they are and as user:password,
// in clear and in standard, URL-safe and unpadded base64. Env values of the config are
// never reported, only their names.
//
// # Pull policy and credential verification
//
// [DefaultPullPolicy] is the API server's default imagePullPolicy (Always for ":latest" or no
// tag, IfNotPresent otherwise, digest-only included). [LoadKubeletConfig] reads the settings of
// a KubeletConfiguration that decide whether a pod may use an image already on the node
// (KEP-2535: the KubeletEnsureSecretPulledImages gate, imagePullCredentialsVerificationPolicy,
// preloadedImagesVerificationAllowlist) with the kubelet's defaults and validation;
// [PresentImage] applies them for a pod without credentials of its own, by how the image got
// there (preloaded, pulled by the kubelet for the node, pulled with another pod's Secret), and
// Check reports it per image ([PullReport]). [ReadImageRecords] reads the kubelet's own pull
// records (<root-dir>/image_manager), read-only. [TokenAudiences] and [TokenRBAC] give the RBAC
// the nodes need for providers with tokenAttributes. Each of these is compared with the
// kubelet's and the API server's own code in e2e/kubelet.
package kubelet
