package mirror

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/pullkeys/pullkeys/internal/cmdline"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// Sentinels of the wrapper's errors.
var (
	// ErrNotServed: a --mirror names a mirror that is not the provider's registry.
	ErrNotServed = errors.New("mirror is not served by this provider")
	// ErrUnsafeFallback: containerd would send the mirror's credential to another host.
	ErrUnsafeFallback = errors.New("the mirror's credential would reach another host")
	// ErrNoCredential: the provider's answer for the mirror holds no credential for it.
	ErrNoCredential = errors.New("no credential for the mirror")
)

// Flag names, shared by every provider.
const (
	FlagMirror                = "mirror"
	FlagHostsDir              = "containerd-hosts-dir"
	FlagAllowUpstreamFallback = "mirror-allow-upstream-fallback"
)

// Options are the mirror flags of a provider.
type Options struct {
	// Mappings are the --mirror values, in order; the first whose upstream matches wins.
	Mappings []Mapping
	// HostsDir is containerd's hosts directory (--containerd-hosts-dir): mirrors of the
	// provider's registry are discovered there, and every answer for an upstream is checked
	// against what containerd does with it. "" turns both off.
	HostsDir string
	// AllowUpstreamFallback answers although containerd would send the mirror's credential
	// to the upstream registry when the mirror fails (--mirror-allow-upstream-fallback).
	AllowUpstreamFallback bool
}

// AddFlags registers --mirror, --containerd-hosts-dir and --mirror-allow-upstream-fallback;
// what names the provider's registry ("an ECR registry").
func (o *Options) AddFlags(fs *flag.FlagSet, what string) {
	fs.Func(FlagMirror, "for images on the registry UPSTREAM (docker.io, registry.k8s.io), answer with the credential of the same image under MIRROR/PATH, which must be "+what+"; given as `UPSTREAM=MIRROR[/PATH]` (repeatable)", func(s string) error {
		m, err := Parse(s)
		if err != nil {
			return err
		}
		o.Mappings = append(o.Mappings, m)
		return nil
	})
	fs.StringVar(&o.HostsDir, FlagHostsDir, "", "containerd's registry config_path (/etc/containerd/certs.d): discover mirrors of "+what+" in its hosts.toml files, and refuse to answer for an upstream whose hosts.toml would send the credential anywhere but the mirror (default: off)")
	fs.BoolVar(&o.AllowUpstreamFallback, FlagAllowUpstreamFallback, false, "answer for an upstream even when containerd falls back to the upstream itself, which then receives the mirror's credential")
}

// Serves reports, for an image on a mirror, whether the provider would answer for it: nil,
// or an error saying why not ("not an ECR host").
type Serves func(ctx context.Context, image string) error

// Wrap returns inner extended with the mirrors of o: inner itself when o configures none.
// Every --mirror's mirror must be served by the provider (serves), or Wrap fails.
func Wrap(ctx context.Context, inner providers.Provider, o Options, serves Serves) (providers.Provider, error) {
	if len(o.Mappings) == 0 && o.HostsDir == "" {
		return inner, nil
	}
	for _, m := range o.Mappings {
		if err := serves(ctx, m.probe()); err != nil {
			return nil, fmt.Errorf("--%s %s: %w: %v", FlagMirror, m, ErrNotServed, err)
		}
	}
	return &Provider{inner: inner, opts: o, serves: serves}, nil
}

// Provider answers for images on upstream registries with the credential of their mirror.
type Provider struct {
	inner  providers.Provider
	opts   Options
	serves Serves
}

var _ providers.Provider = (*Provider)(nil)

// Provide answers for an image on an upstream with the inner provider's credential for the
// same image on the mirror, keyed for the upstream host the kubelet asked about. Other
// images go to the inner provider unchanged. Answers never have cacheKeyType Global: the
// kubelet would then reuse an answer for the provider's own registries for an upstream's
// images (or the other way round) without asking.
func (p *Provider) Provide(ctx context.Context, req *providers.Request) (*providers.Response, error) {
	log := providers.Logger(ctx)
	image, err := keyring.NormalizeImage(req.Image)
	if err != nil {
		return nil, fmt.Errorf("mirror: %w", err)
	}
	m, hosts, ok, err := p.mapping(ctx, image)
	if err != nil {
		return nil, err
	}
	if !ok {
		resp, err := p.inner.Provide(ctx, req)
		if err != nil {
			return nil, err
		}
		return notGlobal(resp), nil
	}
	upstream := keyring.Registry(image)
	if hosts != nil {
		if err := p.judge(log, hosts, m); err != nil {
			return nil, err
		}
	}
	mirrored := m.Map(image)
	mreq := *req
	mreq.Image = mirrored
	log.Log(ctx, providers.V(1), "mirror: asking for the mirror's credential", "image", image, "mirror", mirrored, "source", m.Source)
	resp, err := p.inner.Provide(ctx, &mreq)
	if err != nil {
		return nil, err
	}
	cred, ok := credentialFor(resp, mirrored)
	if !ok {
		return nil, fmt.Errorf("mirror: %s: %w %s", image, ErrNoCredential, mirrored)
	}
	out := notGlobal(resp)
	out.Auth = map[string]providers.AuthConfig{upstream: cred}
	return out, nil
}

// mapping finds the mirror of image: a --mirror, else a mirror of the provider's registry
// in containerd's hosts directory. With a hosts directory it also returns what containerd
// does for the upstream.
func (p *Provider) mapping(ctx context.Context, image string) (Mapping, *Hosts, bool, error) {
	upstream := keyring.Registry(image)
	m, found := Find(p.opts.Mappings, image)
	if p.opts.HostsDir == "" {
		return m, nil, found, nil
	}
	if !found && p.serves(ctx, image) == nil {
		return Mapping{}, nil, false, nil // the provider's own registry
	}
	hosts, err := LoadHosts(p.opts.HostsDir, upstream)
	if err != nil {
		return Mapping{}, nil, false, fmt.Errorf("mirror: %w", err)
	}
	if found {
		return m, hosts, true, nil
	}
	for _, h := range hosts.Tried {
		if h.IsUpstream {
			continue
		}
		if p.serves(ctx, h.Image(image)) == nil {
			return Mapping{Upstream: upstream, Host: h.Host, Path: h.Path, Source: hosts.File}, hosts, true, nil
		}
	}
	return Mapping{}, nil, false, nil
}

// judge refuses to answer when containerd would hand the credential to a host other than the
// mirror: the upstream (unless AllowUpstreamFallback) or any other host.
func (p *Provider) judge(log *slog.Logger, hosts *Hosts, m Mapping) error {
	for _, h := range hosts.Leaks(m.Host) {
		if h.IsUpstream && p.opts.AllowUpstreamFallback {
			log.Warn("mirror: containerd falls back to the upstream, which then receives the mirror's credential (--"+FlagAllowUpstreamFallback+")",
				"upstream", hosts.Upstream, "host", h.Host, "file", hosts.File)
			continue
		}
		mirror := Host{URL: "https://" + m.Host + "/v2", Host: m.Host}
		if m.Path != "" {
			mirror.URL += "/" + m.Path
		}
		what := "another host"
		if h.IsUpstream {
			what = "the upstream"
		}
		return fmt.Errorf("mirror: refusing to answer for %s: %w: %s, so %s %s would receive the credential of %s; fix: %s (or pass --%s to accept it)",
			hosts.Upstream, ErrUnsafeFallback, hosts.Describe(), what, h.Host, m.Mirror(), Fix(hosts, mirror), FlagAllowUpstreamFallback)
	}
	return nil
}

// credentialFor returns the answer's credential the kubelet would use for image: the entry
// whose key matches it, the most specific key first.
func credentialFor(resp *providers.Response, image string) (providers.AuthConfig, bool) {
	keys := make([]string, 0, len(resp.Auth))
	for k := range resp.Auth {
		keys = append(keys, k)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(keys)))
	for _, k := range keys {
		nk, err := keyring.NormalizeKey(k)
		if err != nil {
			continue
		}
		if ok, _ := keyring.Match(nk, image); ok {
			return resp.Auth[k], true
		}
	}
	return providers.AuthConfig{}, false
}

func notGlobal(resp *providers.Response) *providers.Response {
	out := *resp
	if out.CacheKeyType == providers.CacheKeyGlobal {
		out.CacheKeyType = providers.CacheKeyRegistry
	}
	return &out
}

// FlagsOf reads the mirror flags out of a provider's args in a kubelet config, for checks
// that do not run the plugin; other flags are skipped.
func FlagsOf(args []string) (Options, error) {
	var o Options
	fs := cmdline.NewFlagSet("args")
	o.AddFlags(fs, "")
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		name, _, hasValue := strings.Cut(name, "=")
		switch {
		case !strings.HasPrefix(a, "-"):
		case name == FlagMirror || name == FlagHostsDir:
			rest = append(rest, a)
			if !hasValue && i+1 < len(args) {
				i++
				rest = append(rest, args[i])
			}
		case name == FlagAllowUpstreamFallback:
			rest = append(rest, a)
		}
	}
	if err := fs.Parse(rest); err != nil {
		return o, err
	}
	return o, nil
}
