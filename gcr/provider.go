package gcr

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/metadata"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/internal/throttle"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// Username is the registry username that goes with an OAuth2 access token.
const Username = "oauth2accesstoken"

// AnnotationGSA is the service account annotation naming the Google service account that pods
// of the Kubernetes service account act as. List it in the provider's
// tokenAttributes.optionalServiceAccountAnnotationKeys (or the required ones).
const AnnotationGSA = "iam.gke.io/gcp-service-account"

// tokenKey is where a token entry keeps its credentials in the cache.
const tokenKey = "token"

// Provider answers the kubelet for Google's registries. Build it with New.
type Provider struct {
	// opts are the options New was given, defaults filled in.
	opts           Options
	patterns       []string
	audience       string // "" when workload identity is off
	gkeImagePull   bool   // audience is GKE's workload identity image pull (--identity-provider)
	stsURL, iamURL string
	cache          *cache.Cache
	log            *slog.Logger
	retryPause     time.Duration
	throttle       throttle.Policy // STS's and IAM's 429s

	metadata   func() *metadata.Client // built on first use: a warm cache never needs it
	httpClient func() *http.Client
}

var _ providers.Provider = (*Provider)(nil)

// New checks opts and returns a Provider. It does no network I/O: the metadata server and
// Google's APIs are called only when the shared cache holds no fresh answer.
func New(opts Options) (*Provider, error) {
	p := &Provider{
		opts:       opts,
		log:        providers.OrDiscard(opts.Logger),
		retryPause: 200 * time.Millisecond,
	}
	if p.opts.AuthFlow == "" {
		p.opts.AuthFlow = FlowGCR
	}
	if err := p.opts.AuthFlow.validate(); err != nil {
		return nil, fmt.Errorf("--auth-flow: %w", err)
	}
	if p.opts.ServiceAccount == "" {
		p.opts.ServiceAccount = DefaultServiceAccount
	}
	if p.opts.ServiceAccount != "default" && !accountRE().MatchString(p.opts.ServiceAccount) {
		return nil, fmt.Errorf("%w: --service-account %q: want \"default\" or an email", ErrInvalidOption, p.opts.ServiceAccount)
	}
	for _, d := range []struct {
		v    *time.Duration
		def  time.Duration
		name string
	}{
		{&p.opts.MetadataTimeout, DefaultMetadataTimeout, "metadata-timeout"},
		{&p.opts.DockercfgURLTimeout, DefaultDockercfgURLTimeout, "dockercfg-url-timeout"},
		{&p.opts.HTTPTimeout, DefaultHTTPTimeout, "http-timeout"},
	} {
		switch {
		case *d.v < 0:
			return nil, fmt.Errorf("%w: --%s must not be negative, got %s", ErrInvalidOption, d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	p.patterns = DefaultRegistries()
	for _, r := range opts.Registries {
		if err := validateRegistry(r); err != nil {
			return nil, fmt.Errorf("%w: --registry %w", ErrInvalidOption, err)
		}
		if !slices.Contains(p.patterns, r) {
			p.patterns = append(p.patterns, r)
		}
	}
	if opts.WorkloadIdentityProvider != "" {
		aud, err := audience(opts.WorkloadIdentityProvider)
		if err != nil {
			return nil, err
		}
		p.audience = aud
	}
	switch aud, err := gkeAudience(opts.GKEIdentityProvider, opts.GKEProjectID); {
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	case aud != "" && p.audience != "":
		return nil, fmt.Errorf("%w: --identity-provider and --workload-identity-provider exclude each other", ErrInvalidOption)
	case aud != "":
		p.audience, p.gkeImagePull = aud, true
	}
	if opts.CacheDuration != nil && *opts.CacheDuration < 0 {
		return nil, fmt.Errorf("%w: cache duration must not be negative", ErrInvalidOption)
	}
	sts, iam := opts.STSEndpoint, opts.IAMCredentialsEndpoint
	if sts == "" {
		sts = DefaultSTSEndpoint
	}
	if iam == "" {
		iam = DefaultIAMCredentialsEndpoint
	}
	u, err := endpoint("sts-endpoint", sts)
	if err != nil {
		return nil, err
	}
	p.stsURL = u.String()
	if u, err = endpoint("iam-credentials-endpoint", iam); err != nil {
		return nil, err
	}
	p.iamURL = strings.TrimSuffix(u.String(), "/")

	if p.opts.Now == nil {
		p.opts.Now = time.Now
	}
	copts := opts.Cache
	if copts.Now == nil {
		copts.Now = p.opts.Now
	}
	if copts.Logger == nil {
		copts.Logger = opts.Logger
	}
	if copts.MaxLifetime == 0 {
		copts.MaxLifetime = MaxTokenLifetime
	}
	p.cache = cache.New(copts)
	p.metadata = sync.OnceValue(p.newMetadataClient)
	p.httpClient = sync.OnceValue(newHTTPClient)
	return p, nil
}

// Patterns returns the registry host patterns the provider serves, defaults first: the
// provider's matchImages should list the same.
func (p *Provider) Patterns() []string { return append([]string(nil), p.patterns...) }

// Provide answers a request for an image on a Google registry: with the token of the pod's
// service account when the request carries one (workload identity, never falling back to the
// node), else with the node's credentials from the configured auth flow. An image on any other
// host is an error wrapping ErrNotGoogleRegistry.
func (p *Provider) Provide(ctx context.Context, req *providers.Request) (*providers.Response, error) {
	resp, err := p.provide(ctx, req)
	if err != nil {
		return nil, err
	}
	p.applyCachePolicy(resp)
	return resp, nil
}

func (p *Provider) provide(ctx context.Context, req *providers.Request) (*providers.Response, error) {
	image, err := keyring.NormalizeImage(req.Image)
	if err != nil {
		return nil, err
	}
	if err := p.checkHost(image); err != nil {
		return nil, err
	}
	log := p.logger(ctx)
	switch {
	case p.gkeImagePull && req.ServiceAccountAnnotations[AnnotationEnableWIImagePull] != "true":
		// GKE's workload identity image pull is opt-in per service account: the others pull
		// with the node's credentials, as with auth-provider-gcp.
	case req.ServiceAccountToken != "":
		r, err := p.workloadToken(ctx, req)
		if err != nil {
			return nil, err
		}
		log.Log(ctx, providers.V(2), "gcr: workload identity token", "source", r.Source, "freshFor", r.FreshFor)
		return p.tokenResponse(r)
	case len(req.ServiceAccountAnnotations) > 0:
		// The kubelet sends annotations only with a token; a request with annotations and
		// no token is not one to answer with the node's identity.
		return nil, fmt.Errorf("%w: the request has service account annotations but no service account token; refusing to answer with the node's identity", ErrWorkloadIdentityDisabled)
	}
	switch p.opts.AuthFlow {
	case FlowDockercfg, FlowDockercfgURL:
		d, err := p.dockercfg(ctx)
		if err != nil {
			return nil, err
		}
		log.Log(ctx, providers.V(2), "gcr: docker config", "flow", p.opts.AuthFlow, "source", d.result.Source, "freshFor", d.result.FreshFor)
		return p.dockercfgResponse(ctx, image, d)
	default:
		r, err := p.nodeToken(ctx)
		if err != nil {
			return nil, err
		}
		log.Log(ctx, providers.V(2), "gcr: node token", "account", p.opts.ServiceAccount, "source", r.Source, "freshFor", r.FreshFor)
		return p.tokenResponse(r)
	}
}

// ServesMirror is the provider's check of a mirror for mirror.Wrap: the image must be on a
// host the provider serves (DefaultRegistries and --registry), by the kubelet's matching
// rules, so a lookalike such as us-docker.pkg.dev.evil.example is refused.
func (p *Provider) ServesMirror(_ context.Context, image string) error {
	norm, err := keyring.NormalizeImage(image)
	if err != nil {
		return err
	}
	return p.checkHost(norm)
}

// checkHost returns nil when image is on a host the provider serves.
func (p *Provider) checkHost(image string) error {
	for _, pat := range p.patterns {
		if ok, _ := keyring.Match(pat, image); ok {
			return nil
		}
	}
	host := keyring.Registry(image)
	hint := ""
	if h, _, ok := strings.Cut(host, ":"); ok {
		for _, pat := range p.patterns {
			if ok, _ := keyring.Match(pat, h+image[len(host):]); ok {
				hint = "; a registry with a port never matches a pattern without one, so the kubelet would not use the credentials"
				break
			}
		}
	}
	return fmt.Errorf("%w: no credentials for %s (served: %s; add more with --registry)%s",
		ErrNotGoogleRegistry, host, strings.Join(p.patterns, ", "), hint)
}

// tokenResponse answers with the access token in r for every pattern the provider serves.
//
// The cache key type is Global: an access token is good for every Google registry host, so
// the kubelet may reuse one answer for all the images its matchImages match, and since the
// auth map is keyed by the same patterns, an image on a host none of them matches still gets
// nothing. For service account token requests the kubelet adds the service account (and, with
// cacheType Token, the token) to the key, so one pod's answer never serves another account.
func (p *Provider) tokenResponse(r *cache.Result) (*providers.Response, error) {
	c, ok := r.Entry.Auth[tokenKey]
	if !ok || c.Password == "" {
		return nil, fmt.Errorf("cached entry holds no token")
	}
	auth := make(map[string]providers.AuthConfig, len(p.patterns))
	for _, pat := range p.patterns {
		auth[pat] = providers.AuthConfig{Username: c.Username, Password: c.Password}
	}
	return &providers.Response{
		CacheKeyType:  providers.CacheKeyGlobal,
		CacheDuration: providers.CacheFor(r.FreshFor.Truncate(time.Second)),
		Auth:          auth,
	}, nil
}

func (p *Provider) logger(ctx context.Context) *slog.Logger {
	if l := providers.Logger(ctx); l.Handler() != slog.DiscardHandler {
		return l
	}
	return p.log
}

func tokenEntry(token string, fetchedAt, expiresAt time.Time) *cache.Entry {
	return &cache.Entry{
		Auth:      map[string]cache.Credentials{tokenKey: {Username: Username, Password: token}},
		FetchedAt: fetchedAt,
		ExpiresAt: expiresAt,
	}
}
