package providers

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	credentialprovider "k8s.io/kubelet/pkg/apis/credentialprovider"
)

// Request is the kubelet's request, in the API's internal (version-independent) form.
// Image is the repository the kubelet is about to pull, without tag or digest.
// ServiceAccountToken and ServiceAccountAnnotations are set only by v1 requests from a
// kubelet whose provider config has tokenAttributes.
type Request = credentialprovider.CredentialProviderRequest

// Response is a provider's answer, in the API's internal form. Run fills in the TypeMeta.
//
//   - Auth maps a match pattern (a registry host, optionally with a path and with globs in
//     host labels, matched by the kubelet's rules) to credentials. Nil or empty means "no
//     credentials": the kubelet pulls with whatever else it has.
//   - CacheKeyType must be CacheKeyImage, CacheKeyRegistry or CacheKeyGlobal.
//   - CacheDuration nil means "use the provider's defaultCacheDuration from the kubelet
//     config"; a pointer to zero means "do not cache". See [CacheFor] and [DoNotCache].
type Response = credentialprovider.CredentialProviderResponse

// AuthConfig is one username and password.
type AuthConfig = credentialprovider.AuthConfig

// CacheKeyType tells the kubelet what to key a cached answer by.
type CacheKeyType = credentialprovider.PluginCacheKeyType

// The three cache key types the kubelet knows.
const (
	// CacheKeyImage caches the answer for the exact image (repository) requested.
	CacheKeyImage = credentialprovider.ImagePluginCacheKeyType
	// CacheKeyRegistry caches the answer for the registry host (with port) of the image.
	CacheKeyRegistry = credentialprovider.RegistryPluginCacheKeyType
	// CacheKeyGlobal caches one answer for every image the provider's matchImages match.
	CacheKeyGlobal = credentialprovider.GlobalPluginCacheKeyType
)

// Provider answers one credential request. It returns an error when it cannot answer
// correctly; "this image needs no credentials from me" is a Response with an empty Auth.
type Provider interface {
	Provide(ctx context.Context, req *Request) (*Response, error)
}

// ProviderFunc adapts a function to the Provider interface.
type ProviderFunc func(ctx context.Context, req *Request) (*Response, error)

// Provide calls f.
func (f ProviderFunc) Provide(ctx context.Context, req *Request) (*Response, error) {
	return f(ctx, req)
}

// CacheFor returns a cache duration for Response.CacheDuration. Negative durations become zero.
func CacheFor(d time.Duration) *metav1.Duration {
	if d < 0 {
		d = 0
	}
	return &metav1.Duration{Duration: d}
}

// DoNotCache returns the explicit zero duration that tells the kubelet not to cache an answer.
func DoNotCache() *metav1.Duration { return CacheFor(0) }
