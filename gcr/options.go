package gcr

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/providers"
)

// AuthFlow selects where the node's credentials come from (--auth-flow).
type AuthFlow string

// The node auth flows. The names are those of the GKE credential provider's flag.
const (
	// FlowGCR is an access token of the node's service account from the metadata server.
	FlowGCR AuthFlow = "gcr"
	// FlowDockercfg is the docker config JSON in the instance attribute google-dockercfg.
	FlowDockercfg AuthFlow = "dockercfg"
	// FlowDockercfgURL is the docker config JSON at the URL in the instance attribute
	// google-dockercfg-url.
	FlowDockercfgURL AuthFlow = "dockercfg-url"
)

// Defaults of the zero fields of Options.
const (
	DefaultServiceAccount         = "default"
	DefaultMetadataTimeout        = 3 * time.Second
	DefaultDockercfgURLTimeout    = 10 * time.Second
	DefaultHTTPTimeout            = 10 * time.Second
	DefaultSTSEndpoint            = "https://sts.googleapis.com/v1/token"
	DefaultIAMCredentialsEndpoint = "https://iamcredentials.googleapis.com"
)

// Options configures a Provider. The zero value is the gcr flow for the default service
// account, the default registries, no workload identity and a memory-only cache.
type Options struct {
	// AuthFlow is the node flow, used for requests without a service account token.
	// "" means FlowGCR.
	AuthFlow AuthFlow
	// ServiceAccount is the instance's service account whose token FlowGCR hands out:
	// "default" or an account email. "" means "default".
	ServiceAccount string
	// Registries are host patterns served besides DefaultRegistries (--registry), in the
	// kubelet's matching syntax. Their last two host labels must be literal.
	Registries []string
	// MetadataTimeout bounds each metadata server call, retries included. 0 means
	// DefaultMetadataTimeout.
	MetadataTimeout time.Duration
	// DockercfgURLTimeout bounds the download of the google-dockercfg-url document. 0 means
	// DefaultDockercfgURLTimeout.
	DockercfgURLTimeout time.Duration

	// WorkloadIdentityProvider enables service account token requests: the workload identity
	// pool provider whose audience STS exchanges tokens for, as
	// "projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>",
	// optionally prefixed with "//iam.googleapis.com/" or "https://iam.googleapis.com/".
	WorkloadIdentityProvider string
	// GKEIdentityProvider and GKEProjectID are auth-provider-gcp's --identity-provider and
	// --project-id: GKE's workload identity image pull. A request whose service account has
	// the annotation AnnotationEnableWIImagePull "true" is answered with its token exchanged at
	// STS for the audience identitynamespace:<project>.svc.id.goog:<provider>, without
	// impersonation; any other request with the node's credentials, as auth-provider-gcp does.
	// Exclusive with WorkloadIdentityProvider.
	GKEIdentityProvider, GKEProjectID string
	// STSEndpoint is Google STS's token endpoint. "" means DefaultSTSEndpoint. It must be
	// https, or http on a loopback address (for tests).
	STSEndpoint string
	// IAMCredentialsEndpoint is the base URL of the IAM Credentials API. "" means
	// DefaultIAMCredentialsEndpoint. It must be https, or http on a loopback address.
	IAMCredentialsEndpoint string
	// HTTPTimeout bounds each call to STS or IAM Credentials, its one retry of a 5xx
	// included. A 429 (a spent quota) is waited out with jittered, growing waits for as long
	// as the request's deadline can hold another call (internal/throttle). 0 means
	// DefaultHTTPTimeout.
	HTTPTimeout time.Duration

	// CacheKeyType, when set, replaces the answers' cacheKeyType (Global for tokens), and
	// CacheDuration, when set, caps their cacheDuration (the time the token stays fresh):
	// auth-provider-gcp's KUBE_SIDECAR_CACHE_TYPE and KUBE_SIDECAR_CACHE_DURATION.
	CacheKeyType  providers.CacheKeyType
	CacheDuration *time.Duration

	// Cache configures the credential cache shared by the plugin processes of a node. A nil
	// Cache.Now or Cache.Logger takes Now or Logger.
	Cache cache.Options
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives diagnostics, never secrets; nil discards.
	Logger *slog.Logger
}

// AddFlags registers the provider's flags on fs, storing into o, with the cache's flags
// (--cache-dir, --no-disk-cache, --cache-fresh-fraction).
func (o *Options) AddFlags(fs *flag.FlagSet) {
	if o.AuthFlow == "" {
		o.AuthFlow = FlowGCR
	}
	fs.Func("auth-flow", fmt.Sprintf("where node credentials come from: %s (service account token from the metadata server), %s (instance attribute google-dockercfg) or %s (the URL in instance attribute google-dockercfg-url) (default %s)",
		FlowGCR, FlowDockercfg, FlowDockercfgURL, FlowGCR), func(s string) error {
		f := AuthFlow(s)
		if err := f.validate(); err != nil {
			return err
		}
		o.AuthFlow = f
		return nil
	})
	fs.StringVar(&o.ServiceAccount, "service-account", DefaultServiceAccount,
		`the instance service account whose token is used by --auth-flow=gcr: "default" or an email`)
	fs.Func("registry", "a further registry host pattern to serve, in matchImages syntax (repeatable); default: "+strings.Join(DefaultRegistries(), ", "),
		func(s string) error {
			if err := validateRegistry(s); err != nil {
				return err
			}
			o.Registries = append(o.Registries, s)
			return nil
		})
	fs.DurationVar(&o.MetadataTimeout, "metadata-timeout", DefaultMetadataTimeout,
		"give up on a metadata server call after this long, retries included")
	fs.DurationVar(&o.DockercfgURLTimeout, "dockercfg-url-timeout", DefaultDockercfgURLTimeout,
		"give up on downloading the google-dockercfg-url document after this long")
	fs.StringVar(&o.WorkloadIdentityProvider, "workload-identity-provider", "",
		"workload identity pool provider (projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>) to exchange service account tokens with; required for requests that carry one")
	fs.StringVar(&o.STSEndpoint, "sts-endpoint", DefaultSTSEndpoint, "Google STS token endpoint")
	fs.StringVar(&o.IAMCredentialsEndpoint, "iam-credentials-endpoint", DefaultIAMCredentialsEndpoint,
		"IAM Credentials API base URL, for service account impersonation")
	fs.DurationVar(&o.HTTPTimeout, "http-timeout", DefaultHTTPTimeout,
		"give up on an STS or IAM Credentials call after this long")
	o.Cache.AddFlags(fs)
	o.addPeerFlags(fs)
}

func (f AuthFlow) validate() error {
	switch f {
	case FlowGCR, FlowDockercfg, FlowDockercfgURL:
		return nil
	}
	return fmt.Errorf("%w %q: want %s, %s or %s", ErrInvalidOption, string(f), FlowGCR, FlowDockercfg, FlowDockercfgURL)
}

// accountRE is what an instance service account name may look like: "default" or an email.
// It keeps the name from changing the metadata path it is put in.
// It is compiled on first use, as are the other patterns of the package: package
// initialisers run in every invocation, a token answered from the cache included.
var accountRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(default|[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9.-]*)$`)
})

// providerRE is a workload identity pool provider's resource name.
var providerRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^projects/[0-9]+/locations/global/workloadIdentityPools/[a-z0-9-]+/providers/[a-z0-9-]+$`)
})

// audience returns the STS audience of a workload identity provider given in any of the
// accepted forms.
func audience(provider string) (string, error) {
	name := provider
	for _, p := range []string{"//iam.googleapis.com/", "https://iam.googleapis.com/"} {
		name = strings.TrimPrefix(name, p)
	}
	if !providerRE().MatchString(name) {
		return "", fmt.Errorf("%w: --workload-identity-provider %q: want projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>", ErrInvalidOption, provider)
	}
	return "//iam.googleapis.com/" + name, nil
}

// endpoint checks an endpoint override: https, or http on a loopback address, so that a token
// never crosses a network in clear text.
func endpoint(flagName, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: --%s %q is not an http(s) URL without query", ErrInvalidOption, flagName, raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%w: --%s %q: http is allowed on loopback addresses only, use https", ErrInvalidOption, flagName, raw)
		}
	default:
		return nil, fmt.Errorf("%w: --%s %q: scheme must be https", ErrInvalidOption, flagName, raw)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// MaxTokenLifetime is the longest an access token of this provider's sources lives (the
// metadata server's and generateAccessToken's hour; the docker config documents are kept 10
// minutes): the cache never keeps an entry longer, whatever its file says.
const MaxTokenLifetime = time.Hour
