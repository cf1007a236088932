// Package gcr is the kubelet image credential provider for Google's registries: Container
// Registry (gcr.io, us.gcr.io, eu.gcr.io, asia.gcr.io, marketplace.gcr.io …), Artifact
// Registry (<location>-docker.pkg.dev and the regional endpoints
// docker.<region>.rep.pkg.dev) and container.cloud.google.com.
//
// # Which images get credentials
//
// An image gets credentials only when its host matches one of the provider's patterns, by the
// kubelet's own rules (package keyring): DefaultRegistries, plus any Options.Registries
// (--registry). Matching is per label and exact in the label count and the port, so
// "gcr.io.evil.io", "evilgcr.io", "us-docker.pkg.dev.evil", "gcr.io." and "gcr.io:443" are
// not Google hosts. Any other host is an error wrapping ErrNotGoogleRegistry: no credentials,
// and a message that says why. ParseHost classifies a host the same way.
//
// # Where the credentials come from
//
// A request that carries a service account token (v1, with tokenAttributes in the kubelet's
// config) is answered for the pod's identity only. The token is exchanged at Google STS for a
// federated access token of Options.WorkloadIdentityProvider; when the service account is
// annotated with AnnotationGSA (iam.gke.io/gcp-service-account), that token impersonates the
// named Google service account through IAM Credentials generateAccessToken. A 429 from
// either (a spent quota) is waited out, each wait drawn at random below a ceiling that grows
// from 4 s to 20 s, for as long as the request's deadline can hold another call; a 5xx is
// retried once after a short pause. Any failure, or a
// provider without a workload identity provider, is an error: such a request is never
// answered with the node's identity.
//
// Any other request is answered with the node's credentials, by Options.AuthFlow:
//
//   - FlowGCR (the default): the access token of the instance's service account
//     (Options.ServiceAccount, "default") from the metadata server, user name
//     "oauth2accesstoken". The account's scopes are read with the token, in one round trip,
//     and checked before the token is used: pulling needs
//     devstorage.read_only, devstorage.read_write, devstorage.full_control or cloud-platform,
//     and an account without any of them fails with ErrMissingScope naming the scope it needs,
//     rather than handing out a token the registry would refuse.
//   - FlowDockercfg: the docker config JSON in the instance attribute google-dockercfg.
//   - FlowDockercfgURL: the docker config JSON downloaded from the URL in the instance
//     attribute google-dockercfg-url (http or https, no redirects, at most MaxDockercfgBytes,
//     within Options.DockercfgURLTimeout).
//
// Both docker config flows parse with package dockercfg, as the dockercfg provider does;
// entries served by credential helpers are skipped (instance metadata does not get to pick a
// program to run), as are identity tokens, which the kubelet cannot pass on.
//
// # Metadata server
//
// The metadata client (cloud.google.com/go/compute/metadata, pointed elsewhere by
// GCE_METADATA_HOST) is built on first use, so an answer from the cache costs no metadata
// call at all. Each call has a deadline of Options.MetadataTimeout (3s) within which the
// library retries 5xx answers and transient errors; answers without "Metadata-Flavor: Google"
// are refused (on another cloud 169.254.169.254 is another server). Off GCE the provider thus
// fails within the timeout with ErrMetadataUnreachable and a message that asks whether this
// is a GCE node.
//
// # Caching
//
// Every fetch goes through the shared cache (package cache), keyed by what determines the
// answer and never by a secret: the metadata host and service account for node tokens; the
// flow for docker configs; the workload identity provider, the Google service account and a
// hash of the service account token for workload identity (the kubelet does not say which
// Kubernetes service account sent a token, and anyone may annotate an account, so only the
// exchange proves a right to the Google account). A token is served from the cache for the
// first half of its lifetime (Options.Cache.FreshFraction), so the metadata server sees one
// token call per half-life per node, across all plugin processes; a docker config is read
// again after five minutes. The response's cacheDuration is the time left in that fresh
// window, so the kubelet's cache and the plugin's agree.
//
// Token answers carry an auth entry for every pattern the provider serves and cacheKeyType
// Global: an access token is good for every Google registry, so the kubelet reuses one answer
// for all the images its matchImages match, and an image on a host that no pattern matches
// still gets nothing from it. The kubelet adds the service account to the key of answers to
// token requests, so one account's answer never serves another.
//
// Docker config answers are what dockercfg.Resolve and dockercfg.CacheKeyType make of the
// document for the image, as in the dockercfg provider: the matching entries only, cached per
// registry, or per image when a key for that registry has a path. No matching entry is an
// empty answer (the kubelet pulls without credentials), logged as a warning. The cache holds
// the document itself, so each answer is parsed and matched afresh by that package.
package gcr
