package pullsecret

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/pullkeys/pullkeys/dockercfg"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// DockerConfigOptions configures FromDockerConfig.
type DockerConfigOptions struct {
	// Images, when not empty, keeps only the entries the kubelet would use for one of these
	// images (keyring.Lookup), so that a personal config.json with many registries does not
	// end up whole in a cluster Secret. An image that no entry serves is an error.
	Images []string
	// Helper runs the credential helpers of credsStore and credHelpers entries, which exist
	// only on the machine that wrote the config: a pull secret must hold the credentials
	// themselves. Nil passes such entries over, with a warning.
	Helper dockercfg.Helper
	// IdentityTokenUsername is the user name written with an identity token when the entry
	// has none; empty means dockercfg.DefaultIdentityTokenUsername. See
	// dockercfg.ResolveOptions.IdentityTokenUsername.
	IdentityTokenUsername string
	// Logger receives warnings (entries passed over and why) and diagnostics, never
	// credentials. Nil discards them.
	Logger *slog.Logger
}

// candidate is a docker config entry with the config it came from.
type candidate struct {
	origin string
	entry  dockercfg.Entry
}

// FromDockerConfig returns the credentials of parsed docker configs (dockercfg.Parse,
// dockercfg.LoadPath) as docker config entries for a pull secret: each entry keyed as written
// in its file ("https://index.docker.io/v1/" stays so), the first config winning for a
// registry held by several. Credential helper entries are resolved by opts.Helper; an identity
// token becomes the password, with the entry's user name or opts.IdentityTokenUsername, as the
// dockercfg provider hands it to the kubelet. Entries without any credential are passed over.
// No entry left is an error wrapping ErrNoCredentials.
func FromDockerConfig(ctx context.Context, configs []*dockercfg.Config, opts DockerConfigOptions) ([]Auth, error) {
	log := providers.OrDiscard(opts.Logger)
	tokenUser := opts.IdentityTokenUsername
	if tokenUser == "" {
		tokenUser = dockercfg.DefaultIdentityTokenUsername
	}
	var cands []candidate
	seen := make(map[string]string) // normalised key → origin
	for _, cfg := range configs {
		if cfg == nil {
			continue
		}
		for _, w := range cfg.Warnings {
			log.Warn("docker config entry passed over", "config", cfg.Origin, "problem", w.String())
		}
		for _, e := range cfg.Entries {
			if first, dup := seen[e.Key]; dup {
				log.Warn("registry already served by an earlier docker config; this entry is passed over",
					"key", dockercfg.DisplayKey(e.ServerURL), "config", cfg.Origin, "earlier", first)
				continue
			}
			seen[e.Key] = cfg.Origin
			cands = append(cands, candidate{origin: cfg.Origin, entry: e})
		}
	}
	if len(opts.Images) > 0 {
		var err error
		if cands, err = forImages(cands, opts.Images); err != nil {
			return nil, err
		}
	}

	var out []Auth
	for _, c := range cands {
		e := c.entry
		user, pass, token := e.Username, e.Password, e.IdentityToken
		if e.Helper != "" {
			if opts.Helper == nil {
				log.Warn("registry served by a credential helper passed over (helpers disabled)",
					"key", dockercfg.DisplayKey(e.ServerURL), "helper", dockercfg.HelperPrefix+e.Helper)
				continue
			}
			u, secret, err := opts.Helper.Get(ctx, e.Helper, e.ServerURL)
			if errors.Is(err, dockercfg.ErrCredentialsNotFound) {
				log.Warn("credential helper has nothing for the registry; passed over",
					"key", dockercfg.DisplayKey(e.ServerURL), "helper", dockercfg.HelperPrefix+e.Helper)
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("from docker config %s: %w", c.origin, err)
			}
			user, pass, token = u, secret, ""
			if u == dockercfg.TokenUsername {
				user, pass, token = "", "", secret
			}
		}
		if pass == "" && token != "" {
			if user == "" || user == dockercfg.TokenUsername {
				user = tokenUser
			}
			pass = token
			log.Log(ctx, providers.V(1), "identity token written as the password", "key", dockercfg.DisplayKey(e.ServerURL), "username", user)
		}
		if user == "" && pass == "" {
			log.Warn("registry entry without credentials passed over", "key", dockercfg.DisplayKey(e.ServerURL), "config", c.origin)
			continue
		}
		out = append(out, Auth{Server: e.ServerURL, Username: user, Password: pass})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("from docker config: %w: no entry with credentials left to pack", ErrNoCredentials)
	}
	return out, nil
}

// forImages keeps the candidates the kubelet would use for at least one of images.
func forImages(cands []candidate, images []string) ([]candidate, error) {
	var kr keyring.Keyring
	for _, c := range cands {
		_ = kr.Add(c.entry.Key, keyring.Credential{Source: c.entry.Key})
	}
	keep := make(map[string]bool)
	for _, image := range images {
		norm, err := keyring.NormalizeImage(image)
		if err != nil {
			return nil, fmt.Errorf("from docker config: %w", err)
		}
		found := kr.Lookup(norm)
		if len(found) == 0 {
			return nil, fmt.Errorf("from docker config: %w for %s: no entry matches it by the kubelet's rules (keys: %q)",
				ErrNoCredentials, norm, kr.Keys())
		}
		for _, c := range found {
			keep[c.Key] = true
		}
	}
	var out []candidate
	for _, c := range cands {
		if keep[c.entry.Key] {
			out = append(out, c)
		}
	}
	return out, nil
}
