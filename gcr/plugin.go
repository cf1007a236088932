package gcr

import (
	"context"
	"flag"
	"log/slog"
	"strings"

	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/mirror"
)

// PluginName is the binary's name, and the name of its entry in the kubelet's
// CredentialProviderConfig.
const PluginName = "gcr-credential-provider"

// Plugin returns the gcr-credential-provider binary for providers.Main: its flags are those of
// Options.AddFlags.
func Plugin() providers.Plugin {
	var opts Options
	var mopts mirror.Options
	return providers.Plugin{
		Name: PluginName,
		Usage: "Credentials for Google Container Registry and Artifact Registry (" + joinPatterns() + "):\n" +
			"the node service account's access token from the GCE metadata server (--auth-flow=gcr), the\n" +
			"docker config in instance metadata (dockercfg, dockercfg-url), or, for requests that carry a\n" +
			"service account token, a workload identity federation token (--workload-identity-provider).",
		Flags: func(fs *flag.FlagSet) {
			opts.AddFlags(fs)
			mopts.AddFlags(fs, "a Google registry (an Artifact Registry remote repository, <location>-docker.pkg.dev/<project>/<repository>) or a --registry host")
		},
		Args:    peerArgs,
		Ignored: peerIgnored,
		New: func(ctx context.Context, log *slog.Logger) (providers.Provider, error) {
			opts.Logger = log
			if err := opts.peerCachePolicy(lookupEnv); err != nil {
				return nil, err
			}
			p, err := New(opts)
			if err != nil {
				return nil, err
			}
			return mirror.Wrap(ctx, p, mopts, p.ServesMirror)
		},
	}
}

func joinPatterns() string { return strings.Join(DefaultRegistries(), ", ") }
