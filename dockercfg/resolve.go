package dockercfg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// DefaultIdentityTokenUsername is the user name sent with an identity token when the entry
// has none: docker's own marker for identity tokens.
const DefaultIdentityTokenUsername = TokenUsername

// ResolveOptions configures Resolve. The zero value serves static credentials only.
type ResolveOptions struct {
	// Helper runs credential helpers for credsStore and credHelpers entries. Nil disables
	// them: such entries are passed over (use this for documents from an untrusted origin).
	Helper Helper
	// IdentityTokenUsername is the user name sent with an identity token ("identitytoken" in
	// a config, or a helper's "<token>" answer) when the entry has no user name of its own;
	// the token is sent as the password. Empty means DefaultIdentityTokenUsername. The kubelet
	// passes only a user name and a password to the runtime, and containerd treats an empty
	// user name as anonymous, so the user name must not be empty; Azure's ACR expects
	// "00000000-0000-0000-0000-000000000000".
	IdentityTokenUsername string
	// Logger receives diagnostics (keys, helper names; never credentials). Nil discards them.
	Logger *slog.Logger
}

// candidate is one config's entry for a key.
type candidate struct {
	origin string
	entry  Entry
}

// Resolve returns the credentials that configs hold for image (normalised, as the kubelet
// sends it), keyed by normalised key: only the entries whose key matches image under the
// kubelet's keyring rules, in the kubelet's order, and, for a Docker Hub image that nothing
// else matches, the entry under "index.docker.io" (only for images on docker.io, see
// pullsFromDockerHub). Nothing matching is an empty map and no error.
//
// Configs are in order of precedence: for a key held by several, the first that yields
// credentials wins; a credential helper that has none for the key ("credentials not found")
// passes to the next. Helpers run only for keys that match image. A helper that fails is an
// error, so that the kubelet does not cache a partial answer.
func Resolve(ctx context.Context, image string, configs []*Config, opts ResolveOptions) (map[string]providers.AuthConfig, error) {
	log := providers.OrDiscard(opts.Logger)
	var kr keyring.Keyring
	byKey := make(map[string][]candidate)
	for _, cfg := range configs {
		if cfg == nil {
			continue
		}
		for _, e := range cfg.Entries {
			if e.Helper != "" && opts.Helper == nil {
				log.Log(ctx, providers.V(4), "credential helpers disabled; entry passed over", "origin", cfg.Origin, "key", e.Key)
				continue
			}
			key, err := keyring.NormalizeKey(e.Key)
			if err != nil {
				continue
			}
			if _, seen := byKey[key]; !seen {
				if err := kr.Add(key, keyring.Credential{Source: cfg.Origin}); err != nil {
					continue
				}
			}
			byKey[key] = append(byKey[key], candidate{origin: cfg.Origin, entry: e})
		}
	}

	var keys []string
	seen := make(map[string]bool)
	hub := pullsFromDockerHub(image)
	for _, c := range kr.Lookup(image) {
		if c.Key == keyring.DockerHubKey && !hub {
			// The keyring's Docker Hub fallback, for an image the runtime pulls elsewhere.
			if ok, _ := keyring.Match(c.Key, image); !ok {
				continue
			}
		}
		if !seen[c.Key] {
			seen[c.Key] = true
			keys = append(keys, c.Key)
		}
	}
	log.Log(ctx, providers.V(3), "docker config keys matching the image", "image", image, "keys", keys, "of", len(byKey))
	out, err := resolveKeys(ctx, keys, byKey, opts)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 && hub && !seen[keyring.DockerHubKey] && len(byKey[keyring.DockerHubKey]) > 0 {
		// Every key that matched came up empty: the kubelet would then fall back to the
		// Docker Hub entry, and so do we.
		log.Log(ctx, providers.V(3), "falling back to the Docker Hub entry", "image", image)
		return resolveKeys(ctx, []string{keyring.DockerHubKey}, byKey, opts)
	}
	return out, nil
}

// pullsFromDockerHub reports whether the runtime pulls image (normalised, as the kubelet sends
// it) from Docker Hub, so that the credentials stored under index.docker.io may serve it: its
// registry is docker.io. The kubelet's own rule (keyring.IsDockerHub: a first path element
// with no "." or ":") is broader: it counts "localhost/app", and "A/app" (an upper-case first
// element is a registry host to the reference parser), whose runtimes pull from that host, the
// node's loopback or whatever "A" resolves to. Docker Hub's password is not sent there.
func pullsFromDockerHub(image string) bool {
	reg := keyring.Registry(image)
	return reg == keyring.DockerHub || reg == keyring.DockerHubKey
}

// resolveKeys resolves keys concurrently (a key's candidates in order).
func resolveKeys(ctx context.Context, keys []string, byKey map[string][]candidate, opts ResolveOptions) (map[string]providers.AuthConfig, error) {
	out := make(map[string]providers.AuthConfig, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	found := make([]*providers.AuthConfig, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, key := range keys {
		g.Go(func() error {
			auth, err := resolveKey(gctx, key, byKey[key], opts)
			found[i] = auth
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, key := range keys {
		if found[i] != nil {
			out[key] = *found[i]
		}
	}
	return out, nil
}

// resolveKey returns the first credential the candidates of one key yield, or nil.
func resolveKey(ctx context.Context, key string, cands []candidate, opts ResolveOptions) (*providers.AuthConfig, error) {
	log := providers.OrDiscard(opts.Logger)
	tokenUser := opts.IdentityTokenUsername
	if tokenUser == "" {
		tokenUser = DefaultIdentityTokenUsername
	}
	for _, c := range cands {
		e := c.entry
		if e.Helper == "" {
			log.Log(ctx, providers.V(3), "credential from docker config", "key", key, "origin", c.origin,
				"identityToken", e.Password == "" && e.IdentityToken != "")
			return authFor(e.Username, e.Password, e.IdentityToken, tokenUser), nil
		}
		user, secret, err := opts.Helper.Get(ctx, e.Helper, e.ServerURL)
		if errors.Is(err, ErrCredentialsNotFound) {
			log.Log(ctx, providers.V(2), "credential helper has nothing for the registry", "key", key,
				"helper", HelperPrefix+e.Helper, "origin", c.origin)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("key %s in %s: %w", key, c.origin, err)
		}
		log.Log(ctx, providers.V(3), "credential from helper", "key", key, "helper", HelperPrefix+e.Helper,
			"origin", c.origin, "identityToken", user == TokenUsername)
		if user == TokenUsername {
			return authFor("", "", secret, tokenUser), nil
		}
		return authFor(user, secret, "", tokenUser), nil
	}
	return nil, nil
}

// authFor maps docker's credentials onto the kubelet's user name and password: a password
// wins over an identity token; an identity token is sent as the password, with the entry's
// user name or else tokenUser.
func authFor(user, password, identityToken, tokenUser string) *providers.AuthConfig {
	if password == "" && identityToken != "" {
		if user == "" || user == TokenUsername {
			user = tokenUser
		}
		return &providers.AuthConfig{Username: user, Password: identityToken}
	}
	return &providers.AuthConfig{Username: user, Password: password}
}

// CacheKeyType returns how the kubelet may cache an answer of Resolve for image. An answer
// holds only the keys that match image, so it is good for every image of the registry only
// when no key for that registry has a path: it is then CacheKeyRegistry, and otherwise
// CacheKeyImage (an answer for example.io/team/app keyed "example.io/team" must not be reused
// for example.io/other/app).
func CacheKeyType(image string, configs []*Config) providers.CacheKeyType {
	registry := keyring.Registry(image)
	for _, cfg := range configs {
		if cfg == nil {
			continue
		}
		for _, e := range cfg.Entries {
			host, path, _ := strings.Cut(e.Key, "/")
			if path == "" {
				continue
			}
			if ok, _ := keyring.Match(host, registry); ok {
				return providers.CacheKeyImage
			}
		}
	}
	return providers.CacheKeyRegistry
}
