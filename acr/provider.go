package acr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/internal/redact"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// Defaults of the zero fields of Options.
const (
	DefaultIMDSEndpoint = "http://" + IMDSHost
	DefaultIMDSTimeout  = 10 * time.Second
	DefaultHTTPTimeout  = 10 * time.Second
	DefaultMaxRetries   = 2
	DefaultRetryDelay   = 500 * time.Millisecond
	// DefaultRefreshLifetime is the lifetime assumed for a refresh token without an exp
	// claim (ACR's last three hours), when the AAD token does not expire sooner.
	DefaultRefreshLifetime = 3 * time.Hour
)

// Options configures a Provider. The zero value is the node's system-assigned managed
// identity, the default registry suffixes, the public cloud and a memory-only cache.
type Options struct {
	// CloudConfig is the path of the node's cloud config (azure.json); "" means none: the
	// managed identity is used.
	CloudConfig string
	// RegistrySuffixes are DNS suffixes served besides azurecr.io, azurecr.cn and azurecr.us
	// (--registry-suffix), for other clouds.
	RegistrySuffixes []string
	// UserAssignedIdentityID selects a user-assigned managed identity by client ID or
	// resource ID, overriding the cloud config.
	UserAssignedIdentityID string
	// IMDSEndpoint is where the managed identity's tokens come from. "" means
	// DefaultIMDSEndpoint.
	IMDSEndpoint string
	// AuthorityHost overrides the AAD authority of every registry. "" means the authority of
	// the registry's cloud (by its suffix), or for a --registry-suffix registry the cloud
	// config's cloud.
	AuthorityHost string
	// ExchangeEndpoint replaces https://<login server> as the base URL of the registry's
	// token exchange (a proxy, a test). "" means the login server.
	ExchangeEndpoint string
	// RegistryMirrors maps a source registry host to the ACR login server that mirrors it
	// (the Azure plugin's --registry-mirror). Not implemented yet: New accepts the mapping
	// and Provide serves no credentials for source hosts. See docs/migration.md.
	RegistryMirrors map[string]string
	// IMDSTimeout bounds a managed identity token request, retries included;
	// HTTPTimeout bounds an AAD token request and the exchange. 0 means the defaults.
	IMDSTimeout, HTTPTimeout time.Duration
	// MaxRetries and RetryDelay are the SDK's retry policy for each call. 0 means the
	// defaults; a negative MaxRetries means no retries.
	MaxRetries int
	RetryDelay time.Duration
	// Transport sends every HTTP request (tests point it at fakes); nil means a default
	// client that honours the proxy environment.
	Transport policy.Transporter

	// Cache configures the credential cache shared by the plugin processes of a node. A nil
	// Cache.Now or Cache.Logger takes Now or Logger.
	Cache cache.Options
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives diagnostics, never secrets; nil discards.
	Logger *slog.Logger
}

// Provider answers the kubelet for Azure Container Registry. Build it with New.
type Provider struct {
	cfg              *CloudConfig // nil without a cloud config
	cfgCloud         Cloud
	suffixes         []string
	userAssignedID   string
	imdsEndpoint     string
	authorityHost    string
	exchangeEndpoint string
	mirrors          map[string]string
	imdsTimeout      time.Duration
	httpTimeout      time.Duration
	maxRetries       int
	retryDelay       time.Duration
	transport        policy.Transporter
	cache            *cache.Cache
	now              func() time.Time
	log              *slog.Logger

	node func() (*identity, error) // the node's identity, worked out once
}

var _ providers.Provider = (*Provider)(nil)

// New checks opts, reads the cloud config and returns a Provider. It does no network I/O:
// IMDS, AAD and the registry are called only when the shared cache holds no fresh answer.
func New(opts Options) (*Provider, error) {
	p := &Provider{
		userAssignedID: strings.TrimSpace(opts.UserAssignedIdentityID),
		imdsTimeout:    opts.IMDSTimeout,
		httpTimeout:    opts.HTTPTimeout,
		maxRetries:     opts.MaxRetries,
		retryDelay:     opts.RetryDelay,
		transport:      opts.Transport,
		now:            opts.Now,
		log:            providers.OrDiscard(opts.Logger),
		cfgCloud:       AzurePublic,
	}
	for _, d := range []struct {
		v    *time.Duration
		def  time.Duration
		name string
	}{
		{&p.imdsTimeout, DefaultIMDSTimeout, "imds-timeout"},
		{&p.httpTimeout, DefaultHTTPTimeout, "http-timeout"},
		{&p.retryDelay, DefaultRetryDelay, "retry-delay"},
	} {
		switch {
		case *d.v < 0:
			return nil, fmt.Errorf("acr: %w: --%s must not be negative, got %s", ErrInvalidOption, d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	switch {
	case p.maxRetries == 0:
		p.maxRetries = DefaultMaxRetries
	case p.maxRetries < 0:
		p.maxRetries = -1 // azcore: no retries
	}
	for _, s := range opts.RegistrySuffixes {
		if err := ValidateSuffix(s); err != nil {
			return nil, fmt.Errorf("acr: %w", err)
		}
		s = strings.TrimPrefix(s, ".")
		if !slices.Contains(p.suffixes, s) && !slices.Contains(DefaultSuffixes(), s) {
			p.suffixes = append(p.suffixes, s)
		}
	}
	if opts.CloudConfig != "" {
		cfg, err := LoadCloudConfig(opts.CloudConfig)
		if err != nil {
			return nil, fmt.Errorf("acr: %w", err)
		}
		p.cfg = cfg
		p.cfgCloud, _ = CloudByName(cfg.Cloud) // checked by ParseCloudConfig
	}
	imds := opts.IMDSEndpoint
	if imds == "" {
		imds = DefaultIMDSEndpoint
	}
	u, err := url.Parse(imds)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("acr: %w: --imds-endpoint %q is not an http(s) URL without query", ErrInvalidOption, redact.URL(imds))
	}
	p.imdsEndpoint = strings.TrimSuffix(u.String(), "/")
	if opts.AuthorityHost != "" {
		a, err := endpoint("authority-host", opts.AuthorityHost)
		if err != nil {
			return nil, fmt.Errorf("acr: %w", err)
		}
		p.authorityHost = strings.TrimSuffix(a.String(), "/") + "/"
	}
	if opts.ExchangeEndpoint != "" {
		e, err := endpoint("exchange-endpoint", opts.ExchangeEndpoint)
		if err != nil {
			return nil, fmt.Errorf("acr: %w", err)
		}
		p.exchangeEndpoint = strings.TrimSuffix(e.String(), "/")
	}
	if len(opts.RegistryMirrors) > 0 {
		p.mirrors = make(map[string]string, len(opts.RegistryMirrors))
		for src, dst := range opts.RegistryMirrors {
			if _, err := ParseHost(dst, p.suffixes...); err != nil {
				return nil, fmt.Errorf("acr: %w: --registry-mirror %s:%s: %w", ErrInvalidOption, oneWord(src), oneWord(dst), err)
			}
			p.mirrors[strings.ToLower(src)] = strings.ToLower(dst)
		}
	}
	if p.transport == nil {
		p.transport = defaultClient()
	}
	if p.now == nil {
		p.now = time.Now
	}
	copts := opts.Cache
	if copts.Now == nil {
		copts.Now = p.now
	}
	if copts.Logger == nil {
		copts.Logger = opts.Logger
	}
	p.cache = cache.New(copts)
	p.node = sync.OnceValues(p.nodeIdentity)
	return p, nil
}

// Patterns returns the matchImages patterns of the registries the provider serves.
func (p *Provider) Patterns() []string { return MatchImages(p.suffixes...) }

// Provide answers a request for an image on an ACR login server with a refresh token of that
// registry: for the pod's identity when the request carries a service account token (never
// falling back to the node), else for the node's. An image on any other host is an error
// wrapping ErrNotACR.
func (p *Provider) Provide(ctx context.Context, req *providers.Request) (*providers.Response, error) {
	image, err := keyring.NormalizeImage(req.Image)
	if err != nil {
		return nil, fmt.Errorf("acr: %w", err)
	}
	host := keyring.Registry(image)
	reg, err := ParseHost(host, p.suffixes...)
	if err != nil {
		if dst, ok := p.mirrors[strings.ToLower(host)]; ok {
			// The extension point of the mirrors issue: the mapping is parsed, not served.
			return nil, fmt.Errorf("acr: %w: %s is mirrored by %s (--registry-mirror), which this version does not serve yet", ErrNotACR, host, dst)
		}
		return nil, fmt.Errorf("acr: %w (serves %s)", err, strings.Join(p.Patterns(), ", "))
	}
	var id *identity
	switch {
	case req.ServiceAccountToken != "":
		if id, err = p.podIdentity(req); id == nil && err == nil {
			id, err = p.node()
		}
	case len(req.ServiceAccountAnnotations) > 0:
		// The kubelet sends annotations only with a token.
		err = fmt.Errorf("%w: the request has service account annotations but no service account token; refusing to answer with the node's identity", ErrWorkloadIdentity)
	default:
		id, err = p.node()
	}
	if err != nil {
		return nil, fmt.Errorf("acr: %w", err)
	}
	authority := p.authorityFor(reg)
	log := p.logger(ctx)
	key := cache.NewKey(append([]string{"acr", "v1", "refresh", reg.LoginServer, p.exchangeEndpoint, authority}, id.key...)...)
	r, err := p.cache.GetOrFetchOwnError(ctx, key, func(ctx context.Context) (*cache.Entry, error) {
		aad, err := p.cachedAADToken(ctx, id, authority)
		if err != nil {
			return nil, err
		}
		rt, err := p.exchange(ctx, reg, id.tenant, aad.Password)
		if err != nil {
			return nil, err
		}
		now := p.now()
		exp, ok := expiry(rt)
		if !ok {
			exp = now.Add(DefaultRefreshLifetime)
			log.Log(ctx, providers.V(1), "acr: refresh token without an exp claim; assuming its lifetime", "registry", reg.LoginServer, "lifetime", DefaultRefreshLifetime)
		}
		return &cache.Entry{
			Auth:      map[string]cache.Credentials{tokenKey: {Username: Username, Password: rt}},
			FetchedAt: now,
			ExpiresAt: exp,
		}, nil
	})
	if err != nil {
		return nil, err
	}
	c, ok := r.Entry.Auth[tokenKey]
	if !ok || c.Password == "" {
		return nil, errors.New("acr: cached entry holds no token")
	}
	// At most half of what is left of the token's life, whatever the cache's fraction.
	d := r.FreshFor
	if half := r.Entry.ExpiresAt.Sub(p.now()) / 2; d > half {
		d = half
	}
	log.Log(ctx, providers.V(2), "acr: refresh token", "registry", reg.LoginServer, "identity", id.describe, "source", r.Source, "freshFor", d)
	return &providers.Response{
		CacheKeyType:  providers.CacheKeyRegistry,
		CacheDuration: providers.CacheFor(d.Truncate(time.Second)),
		Auth:          map[string]providers.AuthConfig{reg.Host: {Username: Username, Password: c.Password}},
	}, nil
}

// tokenKey is where an entry keeps its credentials in the cache.
const tokenKey = "token"

// cachedAADToken returns an AAD token of id through the shared cache, so that one identity
// pulling from several registries asks AAD once.
func (p *Provider) cachedAADToken(ctx context.Context, id *identity, authority string) (cache.Credentials, error) {
	key := cache.NewKey(append([]string{"acr", "v1", "aad", authority}, id.key...)...)
	r, err := p.cache.GetOrFetchOwnError(ctx, key, func(ctx context.Context) (*cache.Entry, error) {
		tok, err := p.aadToken(ctx, id, authority)
		if err != nil {
			return nil, err
		}
		return &cache.Entry{
			Auth:      map[string]cache.Credentials{tokenKey: {Password: tok.Token}},
			FetchedAt: p.now(),
			ExpiresAt: tok.ExpiresOn,
		}, nil
	})
	if err != nil {
		return cache.Credentials{}, err
	}
	return r.Entry.Auth[tokenKey], nil
}

// authorityFor returns the AAD authority for a registry: --authority-host, else the
// authority of the cloud the registry's suffix belongs to, else the cloud config's cloud's.
func (p *Provider) authorityFor(reg Registry) string {
	switch {
	case p.authorityHost != "":
		return p.authorityHost
	case reg.Known:
		return reg.Cloud.AuthorityHost
	}
	return p.cfgCloud.AuthorityHost
}

func (p *Provider) logger(ctx context.Context) *slog.Logger {
	if l := providers.Logger(ctx); l.Handler() != slog.DiscardHandler {
		return l
	}
	return p.log
}

// endpoint checks an endpoint override: https, or http on a loopback address, so that a token
// never crosses a network in clear text.
func endpoint(flagName, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: --%s %q is not an http(s) URL without query", ErrInvalidOption, flagName, redact.URL(raw))
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%w: --%s %q: http is allowed on loopback addresses only, use https", ErrInvalidOption, flagName, redact.URL(raw))
		}
	default:
		return nil, fmt.Errorf("%w: --%s %q: scheme must be https", ErrInvalidOption, flagName, redact.URL(raw))
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

// defaultClient is the HTTP client of a provider without Options.Transport: the proxy
// environment, TLS 1.2 or later, no redirects (a token request is never sent on).
func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsConfig()
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
