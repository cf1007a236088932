// Package ecr is the kubelet credential provider for Amazon ECR private registries and ECR
// Public: it answers a CredentialProviderRequest with an ECR authorization token.
//
// # Which hosts
//
// The registry is the image's host, as the kubelet keys registries (host with port).
// [ParseHost] accepts exactly the ECR forms, in every AWS partition:
//
//	<account>.dkr.ecr.<region>.amazonaws.com          (and .amazonaws.com.cn, .amazonaws.eu,
//	<account>.dkr.ecr-fips.<region>.amazonaws.com      .c2s.ic.gov, .sc2s.sgov.gov,
//	                                                   .cloud.adc-e.uk, .csp.hci.ic.gov)
//	<account>.dkr-ecr.<region>.on.aws                  (and .on.amazonwebservices.com.cn)
//	<account>.dkr-ecr-fips.<region>.on.aws
//	public.ecr.aws, ecr-public.aws.com
//
// The account is exactly 12 digits, the region a region name whose partition is the
// suffix's (a cn- region only under the China suffixes, and so on), the port absent or 443.
// Any other host, including lookalikes such as 123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io,
// gets an error wrapping [ErrNotECR] and no API call: an ECR token is never handed to a host
// that is not ECR. [MatchImages] lists the kubelet matchImages patterns for all the forms.
//
// # Which token
//
// For a private registry the provider calls ECR GetAuthorizationToken in the registry's
// region with RegistryIds set to the host's account (so cross-account pulls work), on the
// FIPS endpoint for a FIPS host and the dual-stack endpoint for a dual-stack host, unless an
// endpoint is configured (AWS_ENDPOINT_URL_ECR). For ECR Public it calls ecr-public
// GetAuthorizationToken in us-east-1. The token decodes to user:password ("AWS" and a long
// password). The response maps the requested host, exactly as requested, to those
// credentials, with cacheKeyType Registry; a public.ecr.aws answer never holds a private
// registry's token, nor the other way round.
//
// # As whom
//
// By default, as the node: the SDK's default credential chain (environment, shared config
// and profile, web identity, EKS Pod Identity, IMDSv2). For a v1 request with a service
// account token (the kubelet's tokenAttributes, KEP-4412) the role is taken from the service
// account's eks.amazonaws.com/ecr-role-arn annotation, else eks.amazonaws.com/role-arn, else
// [Options.RoleARN] (--role-arn, default $AWS_ECR_ROLE_ARN); the provider calls STS
// AssumeRoleWithWebIdentity with the token (session name pullkeys-<namespace>-<name>) and ECR
// as that role. A service account token with no role to assume falls back to the node's
// identity. See [RoleFor].
//
// # Caching
//
// Every token goes through the shared cache ([Options.Cache], normally the node's cache
// directory shared by all plugin processes): one API call per registry, identity and fresh
// period, however many processes the kubelet starts at once. The cache key is built from the
// host (account, region, partition, FIPS, dual-stack) and the identity's inputs alone: a hash
// of the environment that selects the node's identity and endpoints, and for a role a hash of
// the role ARN and of the service account (issuer, subject, UID and audience read from the
// token's claims, so the tokens the kubelet mints again and again for one service account
// share one entry). No SDK configuration is loaded, and no file or network touched, when the
// cache answers. A token is fresh for half its life as ECR reports it (expiresAt: 12 hours
// after issue, by ECR's documentation); the response's cacheDuration is the fresh time left,
// and 0 when the cache serves a stale token because a refresh failed.
//
// # Failures
//
// 5xx answers and connection errors are retried by the SDK with jittered exponential
// backoff, at most [Options.MaxAttempts] attempts and never past the context's deadline.
// Throttling (ECR's GetAuthorizationToken is one token bucket per account and region, about
// 20 calls a second with a burst of 200, answering 400 ThrottlingException when empty; STS's
// Throttling; any of the SDK's throttle codes or a 429) is retried for as long as the deadline
// allows: each wait drawn at random below a ceiling that starts at
// [Options.ThrottleBackoff] (4 s) and doubles up to [Options.ThrottleMaxBackoff] (20 s), so
// that hundreds of nodes asking at once come back spread over the time the bucket needs to
// refill; once the deadline cannot hold another attempt the call fails at once, saying so.
// Errors name the host, the role and the API error; they never hold a password, a
// token or an API answer: an answer that does not decode is reported as
// [ErrMalformedResponse] without its text, and the service account token is removed from any
// message that would echo it. Logs (at verbosity 1 and 2) name hosts, roles and expiry times
// only.
package ecr
