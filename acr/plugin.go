package acr

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
	"github.com/pullkeys/pullkeys/providers/mirror"
)

// PluginName is the binary's name, and the name of its entry in the kubelet's
// CredentialProviderConfig: the Azure plugin's, so that its config entries work unchanged.
const PluginName = "acr-credential-provider"

// compatFlags are flags of the Azure plugin (cloud-provider-azure's acr-credential-provider)
// that mean nothing here: accepted, each with a one-line warning when given.
func compatFlags() []providers.IgnoredFlag {
	const bindings = "identity bindings (AKS preview) are not supported; pods use workload identity through the kubelet's service account tokens"
	const klog = "a klog flag of the Azure plugin; pullkeys logs with -v only"
	return []providers.IgnoredFlag{
		{Name: "ib-sni-name", Why: bindings},
		{Name: "ib-default-client-id", Why: bindings},
		{Name: "ib-default-tenant-id", Why: bindings},
		{Name: "ib-apiserver-ip", Why: bindings},
		{Name: "ksa-auth-config", Why: bindings},
		{Name: "vmodule", Why: klog},
		{Name: "log-flush-frequency", Why: klog},
		{Name: "logging-format", Why: klog},
	}
}

// AddFlags registers the provider's flags on fs, storing into o, with the cache's flags and
// the Azure plugin's --registry-mirror (and -r), whose warnings go to warn.
func (o *Options) AddFlags(fs *flag.FlagSet, warn *[]string) {
	fs.StringVar(&o.CloudConfig, "cloud-config", "",
		"the node's cloud config file (/etc/kubernetes/azure.json on AKS); also accepted as the one positional argument, as the Azure plugin takes it. Without one, the VM's managed identity is used")
	fs.Func("registry-suffix", "a further registry DNS suffix to serve, for another cloud (repeatable); served: "+strings.Join(DefaultSuffixes(), ", "), func(s string) error {
		if err := ValidateSuffix(s); err != nil {
			return err
		}
		o.RegistrySuffixes = append(o.RegistrySuffixes, s)
		return nil
	})
	fs.StringVar(&o.UserAssignedIdentityID, "user-assigned-identity-id", "",
		"client ID (or resource ID) of the user-assigned managed identity to use, instead of the cloud config's userAssignedIdentityID")
	imds := os.Getenv(EnvIMDSEndpoint)
	if imds == "" {
		imds = DefaultIMDSEndpoint
	}
	fs.StringVar(&o.IMDSEndpoint, "imds-endpoint", imds, "instance metadata service base URL for managed identity tokens (default $"+EnvIMDSEndpoint+" or "+DefaultIMDSEndpoint+")")
	fs.StringVar(&o.AuthorityHost, "authority-host", os.Getenv(EnvAuthorityHost),
		"AAD authority for every registry (default $"+EnvAuthorityHost+"; else the authority of the registry's cloud: login.microsoftonline.com, login.chinacloudapi.cn, login.microsoftonline.us)")
	fs.StringVar(&o.ExchangeEndpoint, "exchange-endpoint", "",
		"base URL of the registry token exchange instead of https://<login server> (a proxy; tests)")
	fs.DurationVar(&o.IMDSTimeout, "imds-timeout", DefaultIMDSTimeout, "give up on a managed identity token after this long, retries included")
	fs.DurationVar(&o.HTTPTimeout, "http-timeout", DefaultHTTPTimeout, "give up on an AAD token request or a token exchange after this long, retries included")
	fs.IntVar(&o.MaxRetries, "max-retries", DefaultMaxRetries, "retries of a failed IMDS, AAD or exchange call (throttling, 5xx, connection errors); -1 for none")
	mirror := func(s string) error {
		for _, m := range strings.Split(strings.ReplaceAll(s, " ", ""), ",") {
			if m == "" {
				continue
			}
			src, dst, ok := strings.Cut(m, ":")
			if !ok || src == "" || strings.Contains(dst, ":") {
				*warn = append(*warn, fmt.Sprintf("--registry-mirror %q is not <source host>:<login server>; ignored", oneWord(m)))
				continue
			}
			if _, err := ParseHost(dst, o.RegistrySuffixes...); err != nil {
				*warn = append(*warn, fmt.Sprintf("--registry-mirror %s: %v; ignored", oneWord(m), err))
				continue
			}
			if o.RegistryMirrors == nil {
				o.RegistryMirrors = make(map[string]string)
			}
			o.RegistryMirrors[src] = dst
		}
		return nil
	}
	usage := "the Azure plugin's mirror mapping <source host>:<login server>[,…]: images on the source host get the login server's credential, as with --mirror SOURCE=LOGIN-SERVER"
	fs.Func("registry-mirror", usage, mirror)
	fs.Func("r", "shorthand for --registry-mirror", mirror)
	o.Cache.AddFlags(fs)
}

// Plugin returns the acr-credential-provider binary for providers.Main.
func Plugin() providers.Plugin {
	var (
		opts  Options
		mopts mirror.Options
		warn  []string
	)
	return providers.Plugin{
		Name: PluginName,
		Usage: "Credentials for Azure Container Registry (<name>.azurecr.io, .azurecr.cn, .azurecr.us): an AAD token\n" +
			"for the registry audience, from the VM's managed identity (IMDS) or the service principal of the\n" +
			"node's cloud config, or for requests that carry a service account token the pod's workload\n" +
			"identity, exchanged at the registry for a refresh token. Usage as the Azure plugin's:\n" +
			"  acr-credential-provider [flags] [/etc/kubernetes/azure.json]",
		Flags: func(fs *flag.FlagSet) {
			opts.AddFlags(fs, &warn)
			mopts.AddFlags(fs, "an Azure container registry (<name>.azurecr.io)")
		},
		Ignored: compatFlags(),
		Args: func(args []string, _ *slog.Logger) error {
			switch {
			case len(args) == 0:
			case len(args) > 1:
				return fmt.Errorf("want at most one argument, the cloud config file; got %d", len(args))
			case len(args) == 1 && opts.CloudConfig != "" && opts.CloudConfig != args[0]:
				return fmt.Errorf("the cloud config is given twice: %q and --cloud-config %q", oneWord(args[0]), oneWord(opts.CloudConfig))
			case len(args) == 1:
				opts.CloudConfig = args[0]
			}
			return nil
		},
		New: func(ctx context.Context, log *slog.Logger) (providers.Provider, error) {
			for _, w := range warn {
				log.Warn(PluginName + ": " + w)
			}
			opts.Logger = log
			p, err := New(opts)
			if err != nil {
				return nil, err
			}
			// The Azure plugin's --registry-mirror source:target is --mirror source=target.
			for _, src := range slices.Sorted(maps.Keys(opts.RegistryMirrors)) {
				m, err := mirror.Parse(src + "=" + opts.RegistryMirrors[src])
				if err != nil {
					return nil, fmt.Errorf("--registry-mirror %s:%s: %w", oneWord(src), oneWord(opts.RegistryMirrors[src]), err)
				}
				mopts.Mappings = append(mopts.Mappings, m)
			}
			suffixes := opts.RegistrySuffixes
			return mirror.Wrap(ctx, p, mopts, func(_ context.Context, image string) error {
				_, err := ParseHost(keyring.Registry(image), suffixes...)
				return err
			})
		},
	}
}
