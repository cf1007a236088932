package gcr

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/pullkeys/pullkeys/providers"
)

// What GKE's credential provider (auth-provider-gcp, in kubernetes/cloud-provider-gcp) takes
// on its command line and in its environment, so that a node's kubelet config entry for it
// works unchanged with this binary installed under its name:
//
//   - name: auth-provider-gcp
//     args: [get-credentials, --v=3]
//
// The subcommand get-credentials is what this binary always does; --v is the shared
// verbosity flag; --authFlow (-a) is --auth-flow; --identity-provider with --project-id turn
// on GKE's workload identity image pull (see Options.GKEIdentityProvider); the klog flags it
// inherits are accepted and ignored with a warning. KUBE_SIDECAR_CACHE_TYPE and
// KUBE_SIDECAR_CACHE_DURATION set the answer's cacheKeyType and cacheDuration as they do
// there, except that the duration never passes the time the token stays fresh.
const (
	// PeerCommand is the subcommand auth-provider-gcp's kubelet config entries pass.
	PeerCommand = "get-credentials"
	// EnvCacheType and EnvCacheDuration are auth-provider-gcp's environment variables for the
	// answer's cacheKeyType (image, registry or global) and cacheDuration (a Go duration).
	EnvCacheType     = "KUBE_SIDECAR_CACHE_TYPE"
	EnvCacheDuration = "KUBE_SIDECAR_CACHE_DURATION"
	// AnnotationEnableWIImagePull is the service account annotation that opts a pod into
	// GKE's workload identity image pull (with --identity-provider), as in auth-provider-gcp.
	AnnotationEnableWIImagePull = "iam.gke.io/enable-wi-image-pull"
)

// peerIgnored are the klog flags auth-provider-gcp accepts, which mean nothing here (logs go
// to stderr, at -v).
var peerIgnored = func() []providers.IgnoredFlag {
	const why = "a klog flag of auth-provider-gcp; this plugin logs to stderr at -v"
	var out []providers.IgnoredFlag
	for _, name := range []string{"logtostderr", "alsologtostderr", "add_dir_header", "skip_headers", "skip_log_headers", "one_output", "legacy_stderr_threshold_behavior"} {
		out = append(out, providers.IgnoredFlag{Name: name, Bool: true, Why: why})
	}
	for _, name := range []string{"vmodule", "stderrthreshold", "alsologtostderrthreshold", "log_dir", "log_file", "log_file_max_size", "log_backtrace_at"} {
		out = append(out, providers.IgnoredFlag{Name: name, Why: why})
	}
	return out
}()

// addPeerFlags registers auth-provider-gcp's own flags that mean something here.
func (o *Options) addPeerFlags(fs *flag.FlagSet) {
	authFlow := fs.Lookup("auth-flow")
	fs.Var(authFlow.Value, "authFlow", "same as --auth-flow (the name auth-provider-gcp uses)")
	fs.Var(authFlow.Value, "a", "same as --auth-flow")
	fs.StringVar(&o.GKEIdentityProvider, "identity-provider", "",
		"GKE workload identity image pull, as auth-provider-gcp: the identity provider of the cluster's workload pool (with --project-id); pods whose service account has "+AnnotationEnableWIImagePull+"=true pull with their own federated token")
	fs.StringVar(&o.GKEProjectID, "project-id", "", "the project of the cluster's workload pool <project>.svc.id.goog, with --identity-provider")
}

// peerArgs accepts auth-provider-gcp's subcommand.
func peerArgs(args []string, _ *slog.Logger) error {
	if args[0] != PeerCommand {
		return fmt.Errorf("unexpected argument %q: the request is read from stdin (%s, the subcommand of auth-provider-gcp, is accepted)", args[0], PeerCommand)
	}
	if len(args) > 1 {
		return fmt.Errorf("unexpected argument %q after %s", args[1], PeerCommand)
	}
	return nil
}

// peerCachePolicy reads EnvCacheType and EnvCacheDuration from getenv into o.
func (o *Options) peerCachePolicy(getenv func(string) string) error {
	if v := getenv(EnvCacheType); v != "" {
		switch strings.ToLower(v) {
		case "image":
			o.CacheKeyType = providers.CacheKeyImage
		case "registry":
			o.CacheKeyType = providers.CacheKeyRegistry
		case "global":
			o.CacheKeyType = providers.CacheKeyGlobal
		default:
			return fmt.Errorf("%w: $%s is %q: want image, registry or global", ErrInvalidOption, EnvCacheType, v)
		}
	}
	if v := getenv(EnvCacheDuration); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%w: $%s is %q: want a duration such as 30m", ErrInvalidOption, EnvCacheDuration, v)
		}
		o.CacheDuration = &d
	}
	return nil
}

// gkeAudience is the STS audience of GKE's workload identity image pull.
func gkeAudience(provider, project string) (string, error) {
	switch {
	case provider == "" && project == "":
		return "", nil
	case project == "":
		return "", errors.New("--identity-provider needs --project-id")
	case provider == "":
		return "", errors.New("--project-id means nothing without --identity-provider")
	case strings.ContainsAny(project, ":/ \t\n") || strings.ContainsAny(provider, " \t\n"):
		return "", errors.New("--project-id must be a project ID and --identity-provider hold no spaces")
	}
	return "identitynamespace:" + project + ".svc.id.goog:" + provider, nil
}

// applyCachePolicy overrides resp's cacheKeyType and cacheDuration as configured, never past
// the duration the provider computed (the time its token stays fresh).
func (p *Provider) applyCachePolicy(resp *providers.Response) {
	if p.opts.CacheKeyType != "" {
		resp.CacheKeyType = p.opts.CacheKeyType
	}
	if p.opts.CacheDuration != nil && (resp.CacheDuration == nil || *p.opts.CacheDuration < resp.CacheDuration.Duration) {
		resp.CacheDuration = providers.CacheFor(*p.opts.CacheDuration)
	}
}

// lookupEnv is os.Getenv, replaced by tests.
var lookupEnv = os.Getenv
