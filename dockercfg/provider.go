package dockercfg

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/pullkeys/pullkeys/internal/cmdline"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
	"github.com/pullkeys/pullkeys/providers/mirror"
)

// Defaults of Options and of the flags.
const (
	// DefaultKubeletRootDir is the kubelet's --root-dir default, the first place it looks for
	// docker config files.
	DefaultKubeletRootDir = "/var/lib/kubelet"
	// DefaultCacheDuration is how long the kubelet may reuse an answer: the kubelet re-reads
	// its own docker config files every five minutes.
	DefaultCacheDuration = 5 * time.Minute
)

// Name is the binary's name, as the kubelet config's providers[].name.
const Name = "dockercfg-credential-provider"

// Options configures the provider.
type Options struct {
	// Configs are the --config paths: docker config files, or directories holding
	// config.json, .dockerconfigjson or .dockercfg (mounted secrets). All are read and
	// merged, earlier ones winning for the same key; an unreadable or malformed one is an
	// error. Empty means: search as the kubelet does (see SearchPaths).
	Configs []string
	// KubeletRootDir is the first directory searched; empty means DefaultKubeletRootDir.
	KubeletRootDir string
	// WorkingDir, HomeDir and SystemRoot are the other directories searched: empty means the
	// process's working directory, $HOME and "/". Tests point them at temporary directories.
	WorkingDir, HomeDir, SystemRoot string
	// CacheDuration is the answer's cacheDuration. Zero means "do not cache" (the flag's
	// default is DefaultCacheDuration).
	CacheDuration time.Duration
	// HelperTimeout bounds each credential helper run; zero means DefaultHelperTimeout.
	HelperTimeout time.Duration
	// IdentityTokenUsername: see ResolveOptions.IdentityTokenUsername.
	IdentityTokenUsername string
	// Helper runs credential helpers; nil means an ExecHelper with HelperTimeout.
	Helper Helper
	// Logger receives diagnostics, never secrets; nil discards them.
	Logger *slog.Logger
}

// AddFlags registers the provider's flags on fs, with their defaults.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.Var((*cmdline.StringList)(&o.Configs), "config",
		"docker config file (config.json or .dockercfg) or directory of mounted secrets (.dockerconfigjson, .dockercfg); repeatable, earlier wins; default: search as the kubelet does")
	fs.StringVar(&o.KubeletRootDir, "kubelet-root-dir", DefaultKubeletRootDir,
		"the kubelet's --root-dir, searched first for config.json and .dockercfg when no --config is given")
	fs.DurationVar(&o.CacheDuration, "cache-duration", DefaultCacheDuration,
		"how long the kubelet may reuse an answer (0: do not cache)")
	fs.DurationVar(&o.HelperTimeout, "helper-timeout", DefaultHelperTimeout,
		"kill a docker-credential-<name> helper (credsStore, credHelpers) that has not answered after this long")
	fs.StringVar(&o.IdentityTokenUsername, "identity-token-username", DefaultIdentityTokenUsername,
		"user name sent with an identity token when its entry has none (ACR: 00000000-0000-0000-0000-000000000000)")
}

// Provider serves docker config credentials through the kubelet's exec-plugin protocol.
type Provider struct {
	opts   Options
	helper Helper
	log    *slog.Logger
}

var _ providers.Provider = (*Provider)(nil)

// New checks opts and returns a Provider. It does no I/O: files are read on each Provide.
func New(opts Options) (*Provider, error) {
	if opts.CacheDuration < 0 {
		return nil, fmt.Errorf("--cache-duration must not be negative, got %s", opts.CacheDuration)
	}
	if opts.HelperTimeout < 0 {
		return nil, fmt.Errorf("--helper-timeout must not be negative, got %s", opts.HelperTimeout)
	}
	if strings.Contains(opts.IdentityTokenUsername, ":") {
		return nil, errors.New("--identity-token-username must not contain a colon")
	}
	for _, c := range opts.Configs {
		if c == "" {
			return nil, errors.New("--config: empty path")
		}
	}
	if opts.KubeletRootDir == "" {
		opts.KubeletRootDir = DefaultKubeletRootDir
	}
	p := &Provider{opts: opts, helper: opts.Helper, log: providers.OrDiscard(opts.Logger)}
	if p.helper == nil {
		p.helper = &ExecHelper{Timeout: opts.HelperTimeout, Logger: opts.Logger}
	}
	return p, nil
}

// Provide implements providers.Provider.
func (p *Provider) Provide(ctx context.Context, req *providers.Request) (*providers.Response, error) {
	configs, err := p.Load(ctx)
	if err != nil {
		return nil, err
	}
	auth, err := Resolve(ctx, req.Image, configs, ResolveOptions{
		Helper:                p.helper,
		IdentityTokenUsername: p.opts.IdentityTokenUsername,
		Logger:                p.log,
	})
	if err != nil {
		return nil, err
	}
	return &providers.Response{
		CacheKeyType:  CacheKeyType(req.Image, configs),
		CacheDuration: providers.CacheFor(p.opts.CacheDuration),
		Auth:          auth,
	}, nil
}

// ServesMirror is the provider's check of a mirror for mirror.Wrap: the docker configs must
// hold an entry (static or through a credential helper) whose key matches image. A --mirror
// is checked once at start-up, reading the configs; a mirror found in containerd's hosts
// directory, at each request.
func (p *Provider) ServesMirror(ctx context.Context, image string) error {
	configs, err := p.Load(ctx)
	if err != nil {
		return err
	}
	var origins []string
	for _, cfg := range configs {
		origins = append(origins, cfg.Origin)
		for _, e := range cfg.Entries {
			if ok, _ := keyring.Match(e.Key, image); ok {
				return nil
			}
		}
	}
	if len(origins) == 0 {
		return fmt.Errorf("no docker config found, so no credential for %s", keyring.Registry(image))
	}
	return fmt.Errorf("no entry of %s matches %s", strings.Join(origins, ", "), image)
}

// Load reads the configured docker configs (the --config paths, or the first found by
// search), in order of precedence, and logs their warnings.
func (p *Provider) Load(ctx context.Context) ([]*Config, error) {
	var configs []*Config
	if len(p.opts.Configs) > 0 {
		for _, path := range p.opts.Configs {
			cs, err := loadPath(ctx, path)
			if err != nil {
				return nil, err
			}
			configs = append(configs, cs...)
		}
	} else if cfg := Search(ctx, p.SearchPaths(), p.log); cfg != nil {
		configs = append(configs, cfg)
	}
	for _, cfg := range configs {
		p.log.Log(ctx, providers.V(2), "docker config read", "file", cfg.Origin, "format", cfg.Format.String(), "entries", len(cfg.Entries))
		for _, w := range cfg.Warnings {
			attrs := []any{"file", cfg.Origin}
			if w.Key != "" {
				attrs = append(attrs, "key", w.Key)
			}
			p.log.Warn("docker config: "+w.Problem, attrs...)
		}
	}
	return configs, nil
}

// SearchPaths returns the files searched when no --config is given.
func (p *Provider) SearchPaths() []string {
	wd, home, root := p.opts.WorkingDir, p.opts.HomeDir, p.opts.SystemRoot
	if wd == "" {
		wd, _ = os.Getwd()
	}
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if root == "" {
		root = string(os.PathSeparator)
	}
	return SearchPaths(p.opts.KubeletRootDir, wd, home, root)
}

// Usage is the description printed by --help.
const Usage = `Serves the registry credentials of docker config files (config.json, .dockercfg, mounted
kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg secrets) to the kubelet, including
those held by docker credential helpers (credsStore, credHelpers). Only the entries that match
the requested image are returned; none matching is an empty answer, and the kubelet pulls
anonymously.`

// Plugin describes the dockercfg-credential-provider binary for providers.Main.
func Plugin() providers.Plugin { return plugin(Options{}) }

// plugin builds the Plugin on top of base (tests set the search directories there).
func plugin(base Options) providers.Plugin {
	opts := base
	var mopts mirror.Options
	return providers.Plugin{
		Name:  Name,
		Usage: Usage,
		Flags: func(fs *flag.FlagSet) {
			opts.AddFlags(fs)
			mopts.AddFlags(fs, "a registry the docker config holds a credential for")
		},
		// pullkeys releases that shipped two files per plugin kept answers in a cache directory.
		Ignored: []providers.IgnoredFlag{
			{Name: "cache-dir", Why: "dockercfg-credential-provider keeps no cache of its own (an earlier pullkeys kept answers there)"},
			{Name: "no-disk-cache", Bool: true, Why: "dockercfg-credential-provider keeps no cache of its own"},
		},
		New: func(ctx context.Context, log *slog.Logger) (providers.Provider, error) {
			o := opts
			o.Logger = log
			p, err := New(o)
			if err != nil {
				return nil, err
			}
			return mirror.Wrap(ctx, p, mopts, p.ServesMirror)
		},
	}
}
