package gcr

import (
	"context"
	"errors"
	"fmt"
	"github.com/pullkeys/pullkeys/internal/redact"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/dockercfg"
	"github.com/pullkeys/pullkeys/providers"
)

// MaxDockercfgBytes bounds the google-dockercfg-url document (GCE bounds a metadata value,
// google-dockercfg included, at 256 KiB).
const MaxDockercfgBytes = 256 << 10

// dockercfgLifetime is how long a docker config read from the metadata server is kept: with
// the default fresh fraction it is read again after five minutes, as often as the kubelet
// re-reads its own config.json.
const dockercfgLifetime = 10 * time.Minute

// dockercfgResult is a docker config document and how fresh it is.
type dockercfgResult struct {
	cfg    *dockercfg.Config
	result *cache.Result
}

// dockercfg returns the google-dockercfg or google-dockercfg-url document, through the shared
// cache.
func (p *Provider) dockercfg(ctx context.Context) (*dockercfgResult, error) {
	key := cache.NewKey("gcr", "v1", string(p.opts.AuthFlow), metadataHost())
	r, err := p.cache.GetOrFetchOwnError(ctx, key, p.fetchDockercfg)
	if err != nil {
		return nil, err
	}
	// The cache holds the document itself, not credentials derived from it, so that every
	// answer is parsed and matched by package dockercfg exactly as the dockercfg provider
	// does (identity tokens, key normalisation and precedence included).
	if len(r.Entry.Data) == 0 {
		return nil, fmt.Errorf("%w: cache entry %v holds no document", ErrDockercfg, key)
	}
	cfg, err := dockercfg.Parse(r.Entry.Data, p.origin())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDockercfg, err)
	}
	return &dockercfgResult{cfg: cfg, result: r}, nil
}

func (p *Provider) origin() string {
	if p.opts.AuthFlow == FlowDockercfgURL {
		return "the document at instance attribute " + attributeDockercfgURL
	}
	return "instance attribute " + attributeDockercfg
}

// fetchDockercfg reads the document, checks that it parses (a malformed one is an error, not
// cached) and logs what the parser skipped.
func (p *Provider) fetchDockercfg(ctx context.Context) (*cache.Entry, error) {
	var data []byte
	switch p.opts.AuthFlow {
	case FlowDockercfg:
		v, err := p.metadataGet(ctx, "instance/attributes/"+attributeDockercfg)
		if err != nil {
			return nil, p.attributeError(attributeDockercfg, err)
		}
		data = []byte(v)
	case FlowDockercfgURL:
		v, err := p.metadataGet(ctx, "instance/attributes/"+attributeDockercfgURL)
		if err != nil {
			return nil, p.attributeError(attributeDockercfgURL, err)
		}
		if data, err = p.download(ctx, strings.TrimSpace(v)); err != nil {
			return nil, err
		}
	}
	cfg, err := dockercfg.Parse(data, p.origin())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDockercfg, err)
	}
	for _, w := range cfg.Warnings {
		p.log.Warn("gcr: docker config: "+w.Problem, "origin", cfg.Origin, "key", w.Key)
	}
	for _, e := range cfg.Entries {
		if e.Helper != "" {
			p.log.Warn("gcr: docker config: entry passed over: credential helpers named by instance metadata are not run",
				"origin", cfg.Origin, "key", e.Key, "helper", e.Helper)
		}
	}
	now := p.opts.Now()
	return &cache.Entry{
		Data:      data,
		FetchedAt: now,
		ExpiresAt: now.Add(dockercfgLifetime),
	}, nil
}

func (p *Provider) attributeError(attr string, err error) error {
	if errors.Is(err, ErrNotDefined) {
		return fmt.Errorf("--auth-flow=%s reads the instance attribute %s, which is %w", p.opts.AuthFlow, attr, ErrNotDefined)
	}
	return fmt.Errorf("read instance attribute %s: %w", attr, err)
}

// download fetches the google-dockercfg-url document: http or https, no redirect, within
// DockercfgURLTimeout and MaxDockercfgBytes. Errors name the URL without its query, which may
// hold a signature.
func (p *Provider) download(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: instance attribute %s is not an http(s) URL", ErrDockercfg, attributeDockercfgURL)
	}
	shown := redact.URL(raw)
	a, err := p.send(ctx, p.opts.DockercfgURLTimeout, MaxDockercfgBytes, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, err
		}
		if isMetadataHost(u.Host) {
			req.Header.Set(metadataFlavor, flavorValue)
		}
		return req, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: download %s (from instance attribute %s): %v", ErrDockercfg, shown, attributeDockercfgURL, err)
	}
	if a.status != http.StatusOK {
		hint := ""
		if a.status >= 300 && a.status < 400 {
			hint = " (redirects are not followed)"
		}
		return nil, fmt.Errorf("%w: download %s (from instance attribute %s): HTTP %d%s", ErrDockercfg, shown, attributeDockercfgURL, a.status, hint)
	}
	return a.body, nil
}

// dockercfgResponse answers for image with the entries of the document that match it, chosen
// by dockercfg.Resolve (the kubelet's matching rules; credential helpers are not run) and
// cached by the kubelet as dockercfg.CacheKeyType says: per registry, or per image when a key
// for the registry has a path. None matching is an empty answer: the kubelet pulls without
// credentials, as it would with its own docker config.
func (p *Provider) dockercfgResponse(ctx context.Context, image string, d *dockercfgResult) (*providers.Response, error) {
	configs := []*dockercfg.Config{d.cfg}
	auth, err := dockercfg.Resolve(ctx, image, configs, dockercfg.ResolveOptions{Logger: p.logger(ctx)})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDockercfg, err)
	}
	if len(auth) == 0 {
		p.logger(ctx).Warn("gcr: no entry of the docker config matches the image: answering with no credentials",
			"origin", d.cfg.Origin, "image", image, "entries", len(d.cfg.Entries))
	}
	return &providers.Response{
		CacheKeyType:  dockercfg.CacheKeyType(image, configs),
		CacheDuration: providers.CacheFor(d.result.FreshFor.Truncate(time.Second)),
		Auth:          auth,
	}, nil
}
