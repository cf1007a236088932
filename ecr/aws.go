package ecr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/pullkeys/pullkeys/internal/throttle"
	"github.com/pullkeys/pullkeys/providers"
)

// token is what the ECR and ECR Public APIs answer.
type token struct {
	token     string
	expiresAt time.Time
}

// callAPI loads the SDK configuration for the registry's region and asks ECR (or ECR Public)
// for a token, as the node or, with a role, as that role assumed with the service account
// token. Everything SDK-related happens here, inside the cache's fetch.
func (p *Provider) callAPI(ctx context.Context, log *slog.Logger, reg Registry, id identity) (token, error) {
	p.configLoads.Add(1)
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(reg.Region),
		config.WithRetryer(p.retryer),
		config.WithLogger(sdkLogger{ctx: ctx, log: log}),
	}
	if p.opts.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(p.opts.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return token{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	// Wrapped after loading, not with WithHTTPClient, so that AWS_CA_BUNDLE still applies
	// (loading leaves the client nil when nothing customises it: the SDK's default then).
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = awshttp.NewBuildableClient()
	}
	cfg.HTTPClient = inMemoryBodies{cfg.HTTPClient}
	// Credentials are fetched before the ECR call, not inside its retry loop: a failure then
	// says whose credentials are missing, and STS is not retried once per ECR attempt.
	if id.roleARN != "" {
		client := sts.NewFromConfig(cfg)
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewWebIdentityRoleProvider(client, id.roleARN,
			staticToken(id.token), func(o *stscreds.WebIdentityRoleOptions) {
				o.RoleSessionName = sessionName(id.token)
			}))
		if err := p.throttled(ctx, func(ctx context.Context) error {
			_, err := cfg.Credentials.Retrieve(ctx)
			return err
		}); err != nil {
			return token{}, fmt.Errorf("assume role %s (%s) with the service account token: %w", id.roleARN, id.source, err)
		}
	} else if cfg.Credentials != nil {
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			return token{}, fmt.Errorf("get the node's AWS credentials: %w", err)
		}
	}
	if reg.Public {
		client := ecrpublic.NewFromConfig(cfg)
		var out *ecrpublic.GetAuthorizationTokenOutput
		if err := p.throttled(ctx, func(ctx context.Context) (err error) {
			out, err = client.GetAuthorizationToken(ctx, &ecrpublic.GetAuthorizationTokenInput{})
			return err
		}); err != nil {
			return token{}, err
		}
		if out.AuthorizationData == nil {
			return token{}, fmt.Errorf("%w: no authorization data", ErrMalformedResponse)
		}
		return token{aws.ToString(out.AuthorizationData.AuthorizationToken), aws.ToTime(out.AuthorizationData.ExpiresAt)}, nil
	}
	client := ecr.NewFromConfig(cfg, func(o *ecr.Options) {
		// A custom endpoint (AWS_ENDPOINT_URL_ECR, a test's fake) is used as is: the SDK
		// refuses FIPS or dual-stack together with one.
		if o.BaseEndpoint != nil {
			return
		}
		if reg.FIPS {
			o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		}
		if reg.DualStack {
			o.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateEnabled
		}
	})
	var out *ecr.GetAuthorizationTokenOutput
	if err := p.throttled(ctx, func(ctx context.Context) (err error) {
		out, err = client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{RegistryIds: []string{reg.Account}})
		return err
	}); err != nil {
		return token{}, err
	}
	if len(out.AuthorizationData) == 0 {
		return token{}, fmt.Errorf("%w: no authorization data", ErrMalformedResponse)
	}
	d := out.AuthorizationData[0]
	return token{aws.ToString(d.AuthorizationToken), aws.ToTime(d.ExpiresAt)}, nil
}

// retryer is the SDK's standard retryer with the provider's bounds, for every error but
// throttling, which it returns at once: throttled calls are retried by throttled, for as long
// as the deadline allows. The client-side retry quota is off: a plugin process makes one call,
// and the quota only matters to long-lived clients. So is the SDK's adaptive mode, for the
// same reason: its client-side rate is learnt in the process, which a plugin never reuses.
func (p *Provider) retryer() aws.Retryer {
	return notThrottles{retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = p.opts.MaxAttempts
		o.MaxBackoff = p.opts.MaxBackoff
		o.RateLimiter = ratelimit.None
	})}
}

// notThrottles is a retryer that does not retry throttling.
type notThrottles struct{ *retry.Standard }

func (r notThrottles) IsErrorRetryable(err error) bool {
	return !isThrottle(err) && r.Standard.IsErrorRetryable(err)
}

// isThrottle reports whether err is a throttled answer: one of the SDK's throttle error codes
// (ThrottlingException, Throttling, TooManyRequestsException, …) or an HTTP 429.
func isThrottle(err error) bool {
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool()
}

// throttled calls f until it is not throttled, waiting with full jitter and a growing ceiling
// between attempts (see internal/throttle), and stops once the context's deadline cannot hold
// another attempt: providers.DefaultTimeout from now when the context has none.
func (p *Provider) throttled(ctx context.Context, f func(context.Context) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, providers.DefaultTimeout)
		defer cancel()
	}
	return throttle.Do(ctx, throttle.Policy{First: p.opts.ThrottleBackoff, Max: p.opts.ThrottleMaxBackoff}, isThrottle, f)
}

// staticToken hands the request's service account token to stscreds.
type staticToken string

func (t staticToken) GetIdentityToken() ([]byte, error) { return []byte(t), nil }

// sdkError keeps an SDK error's text unless the SDK failed to decode an answer: the decoders'
// messages can quote the answer, which holds credentials. Not every decoding failure is a
// smithy.DeserializationError (the query protocol's, STS's, is returned bare, quoting the
// value it could not parse), so any error on a 2xx answer counts as one.
func sdkError(err error) error {
	var de *smithy.DeserializationError
	var status interface{ HTTPStatusCode() int }
	decoding := errors.As(err, &de) ||
		errors.As(err, &status) && status.HTTPStatusCode() >= 200 && status.HTTPStatusCode() < 300
	if !decoding {
		return err
	}
	what := "an API answer"
	for e := err; ; {
		var oe *smithy.OperationError
		if !errors.As(e, &oe) {
			break
		}
		what = fmt.Sprintf("the %s %s answer", oe.Service(), oe.Operation())
		e = oe.Err
	}
	return fmt.Errorf("%w: %s could not be decoded", ErrMalformedResponse, what)
}

// sdkLogger sends the SDK's own log lines (warnings such as a deprecated setting) to the
// provider's logger. Request and response logging is never turned on.
type sdkLogger struct {
	ctx context.Context
	log *slog.Logger
}

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := providers.V(4)
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	l.log.Log(l.ctx, level, "aws sdk: "+fmt.Sprintf(format, v...))
}

// inMemoryBodies sends each request with its body read into memory first. smithy-go closes a
// request body as soon as the response headers are in, and a read of the closed body answers
// io.EOF as an error to a WriterTo caller. net/http's write loop can still be in the body then
// (an endpoint may answer once it has the bytes, before the loop's final read past
// Content-Length): it takes that io.EOF for a failed write and closes the connection under the
// response body, and a token answer larger than the transport's read buffer fails with "use of
// closed network connection" (then the SDK retries, and logs a warning on stderr). With the
// body in memory, net/http sends it whole before it reads the answer. Requests to ECR and STS
// are a few hundred bytes.
type inMemoryBodies struct{ c aws.HTTPClient }

func (h inMemoryBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return h.c.Do(r)
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	return h.c.Do(r)
}
