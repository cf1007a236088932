package ecr

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/pullkeys/pullkeys/internal/redact"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// Defaults of the zero Options fields.
const (
	// DefaultMaxAttempts bounds the attempts of one API call.
	DefaultMaxAttempts = 5
	// DefaultMaxBackoff caps the wait between two attempts.
	DefaultMaxBackoff = 2 * time.Second
)

// ErrMalformedResponse is returned (wrapped) when an API answer cannot be used: it does not
// decode, holds no token, a token that is not base64 "user:password", or no expiry. The
// answer itself is never quoted: it holds credentials.
var ErrMalformedResponse = errors.New("malformed answer")

// Cache is what the provider needs of the shared credential cache (see cache.Cache).
type Cache interface {
	GetOrFetch(ctx context.Context, key cache.Key, fetch func(context.Context) (*cache.Entry, error)) (*cache.Result, error)
}

var _ Cache = (*cache.Cache)(nil)

// Options configures a Provider. The zero value is a working provider: the node's identity
// (the SDK's default credential chain), a memory-only cache, the SDK's endpoints.
type Options struct {
	// Cache holds tokens between calls and, with a directory, between processes. nil means a
	// memory-only cache.New(cache.Options{Now: Now, Logger: Logger}).
	Cache Cache
	// RoleARN is the role assumed with a service account token when the service account has
	// neither role annotation. "" means such requests use the node's identity. Plugin fills it
	// from --role-arn, whose default is $AWS_ECR_ROLE_ARN.
	RoleARN string
	// MaxAttempts bounds the attempts of each API call: 5xx answers and connection errors are
	// retried with jittered exponential backoff, and never past the context's deadline
	// (throttling is not bounded by it: see ThrottleBackoff). 0 means DefaultMaxAttempts.
	MaxAttempts int
	// MaxBackoff caps the wait between two attempts. 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// ThrottleBackoff is the ceiling of the wait after a throttled answer
	// (ThrottlingException and the SDK's other throttle codes, HTTP 429). Throttled calls
	// are not bounded by MaxAttempts: they are retried, the ceiling doubling up to
	// ThrottleMaxBackoff and each wait drawn at random below it, until the context's deadline
	// cannot hold another attempt. 0 means throttle.DefaultFirst (4 s).
	ThrottleBackoff time.Duration
	// ThrottleMaxBackoff caps the ceiling of the waits after throttled answers. 0 means
	// throttle.DefaultMax (20 s).
	ThrottleMaxBackoff time.Duration
	// HTTPClient sends the SDK's requests. nil means the SDK's default client.
	HTTPClient aws.HTTPClient
	// Now is the clock. nil means time.Now.
	Now func() time.Time
	// Logger receives diagnostics, never secrets. nil means the logger of the request's
	// context (providers.Logger), which discards unless the caller set one.
	Logger *slog.Logger
}

// Provider answers kubelet credential requests for ECR and ECR Public images with ECR
// authorization tokens. It is safe for concurrent use.
type Provider struct {
	opts  Options
	cache Cache
	now   func() time.Time

	configLoads atomic.Int64 // SDK configurations loaded, for tests
}

var _ providers.Provider = (*Provider)(nil)

// New returns a Provider. It does no I/O: the SDK configuration is loaded only when a token
// has to be fetched.
func New(opts Options) *Provider {
	p := &Provider{opts: opts, cache: opts.Cache, now: opts.Now}
	if p.now == nil {
		p.now = time.Now
	}
	if p.cache == nil {
		p.cache = cache.New(cache.Options{Now: p.now, Logger: opts.Logger, MaxLifetime: MaxTokenLifetime})
	}
	if p.opts.MaxAttempts <= 0 {
		p.opts.MaxAttempts = DefaultMaxAttempts
	}
	if p.opts.MaxBackoff <= 0 {
		p.opts.MaxBackoff = DefaultMaxBackoff
	}
	return p
}

// identity is who asks ECR for the token of one request.
type identity struct {
	roleARN string     // "" for the node's identity
	source  RoleSource // where roleARN came from
	token   string     // the service account token, when roleARN is set
	saID    string     // hash naming the service account, when roleARN is set
	node    string     // hash of the environment that selects the node's identity and endpoints
}

// Provide returns the ECR token for the registry of req.Image, keyed by that registry host
// exactly, with cacheKeyType Registry and the token's remaining fresh time as cacheDuration.
// A host that is not ECR gets an error wrapping ErrNotECR and no credentials.
func (p *Provider) Provide(ctx context.Context, req *providers.Request) (*providers.Response, error) {
	log := p.logger(ctx)
	host := keyring.Registry(req.Image)
	reg, err := ParseHost(host)
	if err != nil {
		return nil, err
	}
	id := identity{node: nodeIdentity(os.Getenv)}
	id.roleARN, id.source = RoleFor(req.ServiceAccountToken, req.ServiceAccountAnnotations, p.opts.RoleARN)
	if id.roleARN != "" {
		if err := ValidateRoleARN(id.roleARN); err != nil {
			return nil, fmt.Errorf("role from %s: %w", id.source, err)
		}
		id.token = req.ServiceAccountToken
		id.saID = serviceAccountID(id.token)
	} else if req.ServiceAccountToken != "" {
		log.Log(ctx, providers.V(2), "ecr: no role for the service account token, using the node's identity", "host", host)
	}

	key := cacheKey(reg, id)
	res, err := p.cache.GetOrFetch(ctx, key, func(ctx context.Context) (*cache.Entry, error) {
		e, err := p.fetch(ctx, log, reg, id)
		if err != nil {
			return nil, redact.Error(err, id.token) // the cache logs it when it serves a stale entry
		}
		return e, nil
	})
	if err != nil {
		return nil, redact.Error(fmt.Errorf("get authorization token for %s: %w", host, err), id.token)
	}
	cred, ok := res.Entry.Auth[host]
	if !ok {
		return nil, fmt.Errorf("get authorization token for %s: %w: cached entry holds no credentials for the host", host, ErrMalformedResponse)
	}
	log.Log(ctx, providers.V(2), "ecr: token", "host", host, "source", res.Source, "role", id.roleARN,
		"freshFor", res.FreshFor.Round(time.Second), "expiresAt", res.Entry.ExpiresAt)
	return &providers.Response{
		CacheKeyType:  providers.CacheKeyRegistry,
		CacheDuration: providers.CacheFor(res.FreshFor.Truncate(time.Second)), // whole seconds: readable, never past the fresh time
		Auth:          map[string]providers.AuthConfig{host: {Username: cred.Username, Password: cred.Password}},
	}, nil
}

// cacheKey names the token of one registry for one identity. It is built from the host and
// the identity's inputs alone (no SDK configuration is loaded to build it), and holds no
// secret: the service account is a hash, the role ARN too.
func cacheKey(reg Registry, id identity) cache.Key {
	kind := "private"
	if reg.Public {
		kind = "public"
	}
	who := []string{"node", id.node}
	if id.roleARN != "" {
		who = []string{"role", cache.HashIdentity(id.roleARN), id.saID, id.node}
	}
	return cache.NewKey(append([]string{"ecr", "v1", kind, reg.Host, reg.Partition, reg.Region, reg.Account,
		strconv.FormatBool(reg.FIPS), strconv.FormatBool(reg.DualStack)}, who...)...)
}

func (p *Provider) logger(ctx context.Context) *slog.Logger {
	if p.opts.Logger != nil {
		return p.opts.Logger
	}
	return providers.Logger(ctx)
}

// fetch calls the API for a token. It runs inside the cache's flight: once per key, node
// and fresh period.
func (p *Provider) fetch(ctx context.Context, log *slog.Logger, reg Registry, id identity) (*cache.Entry, error) {
	start := p.now()
	tok, err := p.callAPI(ctx, log, reg, id)
	if err != nil {
		return nil, sdkError(err)
	}
	if tok.token == "" {
		return nil, fmt.Errorf("%w: no authorization token", ErrMalformedResponse)
	}
	if tok.expiresAt.IsZero() {
		return nil, fmt.Errorf("%w: no expiry", ErrMalformedResponse)
	}
	user, pass, err := decodeToken(tok.token)
	if err != nil {
		return nil, err
	}
	now := p.now()
	if !tok.expiresAt.After(now) {
		return nil, fmt.Errorf("%w: token expired at %s, before it arrived (is the node's clock right?)", ErrMalformedResponse, tok.expiresAt.UTC().Format(time.RFC3339))
	}
	log.Log(ctx, providers.V(1), "ecr: fetched token", "host", reg.Host, "region", reg.Region, "role", id.roleARN,
		"expiresAt", tok.expiresAt, "elapsed", now.Sub(start).Round(time.Millisecond))
	return &cache.Entry{
		Auth:      map[string]cache.Credentials{reg.Host: {Username: user, Password: pass}},
		FetchedAt: now,
		ExpiresAt: tok.expiresAt,
	}, nil
}

// decodeToken splits a base64 "user:password" authorization token. Errors never quote it.
func decodeToken(token string) (user, pass string, err error) {
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(token, "="))
	}
	if err != nil {
		return "", "", fmt.Errorf("%w: authorization token is not base64", ErrMalformedResponse)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" || pass == "" {
		return "", "", fmt.Errorf("%w: authorization token is not user:password", ErrMalformedResponse)
	}
	return user, pass, nil
}
