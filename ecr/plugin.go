package ecr

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"time"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
	"github.com/pullkeys/pullkeys/providers/mirror"
)

// PluginName is the binary's name, and the name of its entry in the kubelet's
// CredentialProviderConfig.
const PluginName = "ecr-credential-provider"

// AddFlags registers the provider's flags on fs, storing into o: --role-arn (default
// $AWS_ECR_ROLE_ARN), --max-attempts and --max-backoff.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.RoleARN, "role-arn", os.Getenv(EnvRoleARN),
		"IAM role assumed with a service account token whose service account has no "+AnnotationECRRoleARN+
			" or "+AnnotationRoleARN+" annotation (default $"+EnvRoleARN+"); without one such requests use the node's identity")
	fs.IntVar(&o.MaxAttempts, "max-attempts", DefaultMaxAttempts,
		"attempts per AWS API call; 5xx and connection errors are retried with backoff within --timeout "+
			"(throttling is retried with longer, jittered waits for as long as --timeout allows)")
	fs.DurationVar(&o.MaxBackoff, "max-backoff", DefaultMaxBackoff, "longest wait between two attempts of an AWS API call")
}

// Plugin returns the ecr-credential-provider binary for providers.Main: the provider's flags,
// the shared cache's flags (--cache-dir, --no-disk-cache, --cache-fresh-fraction) and a
// constructor that does no I/O beyond preparing the cache directory.
func Plugin() providers.Plugin {
	var opts Options
	var copts cache.Options
	var mopts mirror.Options
	return providers.Plugin{
		Name: PluginName,
		Usage: "Answers kubelet image credential requests for Amazon ECR private registries " +
			"(<account>.dkr.ecr.<region>.amazonaws.com and the FIPS, dual-stack and other-partition forms) " +
			"and ECR Public (public.ecr.aws) with an ECR authorization token, fetched as the node's AWS identity " +
			"or, for v1 requests with a service account token, as the IAM role of the service account.",
		Flags: func(fs *flag.FlagSet) {
			opts.AddFlags(fs)
			copts.AddFlags(fs)
			mopts.AddFlags(fs, "an ECR registry (<account>.dkr.ecr.<region>.amazonaws.com, for an ECR pull-through cache rule)")
		},
		// cloud-provider-aws's ecr-credential-provider takes and ignores positional arguments:
		// so does this one, with a warning, so that its kubelet config entries work unchanged.
		Args: func(args []string, log *slog.Logger) error {
			log.Warn("positional arguments ignored: the request is read from stdin", "count", len(args))
			return nil
		},
		New: func(ctx context.Context, log *slog.Logger) (providers.Provider, error) {
			copts.Logger, opts.Logger = log, log
			copts.MaxLifetime = MaxTokenLifetime
			opts.Cache = cache.New(copts)
			return mirror.Wrap(ctx, New(opts), mopts, ServesMirror)
		},
	}
}

// MaxTokenLifetime is the longest an ECR authorization token lives (GetAuthorizationToken
// issues 12-hour tokens): the cache never keeps an entry longer, whatever its file says.
const MaxTokenLifetime = 12 * time.Hour

// ServesMirror is the provider's check of a mirror for mirror.Wrap: the image must be on an
// ECR registry, by ParseHost's rules (a lookalike such as <account>.dkr.ecr.<region>.amazonaws.com.evil.example
// is not).
func ServesMirror(_ context.Context, image string) error {
	_, err := ParseHost(keyring.Registry(image))
	return err
}
