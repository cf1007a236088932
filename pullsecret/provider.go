package pullsecret

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	configv1 "k8s.io/kubelet/config/v1"

	"github.com/pullkeys/pullkeys/dockercfg"
	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// ProviderOptions says how to run an image credential provider plugin for FromProvider. The
// fields are those of the plugin's entry in the kubelet's CredentialProviderConfig.
type ProviderOptions struct {
	// Binary is the plugin's executable: a path, or a name looked up in $PATH.
	Binary string
	// Args are the plugin's arguments (the entry's args).
	Args []string
	// Env are NAME=VALUE pairs appended to the inherited environment (the entry's env), so
	// that they override a variable of the same name. Values are never logged.
	Env []string
	// APIVersion is the request's apiVersion: credentialprovider.kubelet.k8s.io/v1 (the
	// default), v1beta1 or v1alpha1; "v1", "v1beta1" and "v1alpha1" are accepted too.
	APIVersion string
	// Timeout kills the plugin; zero means the kubelet's one minute.
	Timeout time.Duration
	// Environ returns the inherited environment; nil means os.Environ, as in the kubelet.
	Environ func() []string
	// Logger receives diagnostics (keys, durations; never credentials). Nil discards them.
	Logger *slog.Logger
}

// ParseAPIVersion returns the full credential provider apiVersion for s, which may be the
// full form or only the version ("v1", "v1beta1", "v1alpha1"). Empty means v1.
func ParseAPIVersion(s string) (string, error) {
	if s == "" {
		return providers.APIVersionV1, nil
	}
	for _, v := range providers.APIVersions() {
		if s == v || "credentialprovider.kubelet.k8s.io/"+s == v {
			return v, nil
		}
	}
	return "", fmt.Errorf("api version %q: %w: want one of %v (or v1, v1beta1, v1alpha1)", s, ErrInvalid, providers.APIVersions())
}

// FromProvider runs a credential provider plugin for each image exactly as the kubelet does
// (see kubelet.Exec: the request in the chosen apiVersion on stdin, the answer decoded strictly
// in that version) and returns the answer's credentials that the kubelet would use for the
// image (keyring.Lookup: every matching key, in the kubelet's order, and Docker Hub's fallback
// to index.docker.io), as docker config entries.
//
// A key with a glob in its host ("*.dkr.ecr.*.amazonaws.com") is written as the image's
// registry host (with its port) and the key's path: docker, containerd, build tools and other
// readers of a pull secret do not expand globs, and an exact key grants the credentials to no
// host but the one the provider matched. Other keys are written as the provider wrote them.
//
// An image for which the plugin fails, or answers no matching credential, is an error
// (wrapping ErrNoCredentials for the latter): a pull secret without them would fail quietly at
// pull time. When two matching keys (of one answer or of two images' answers) give the same
// docker config key, the first in the kubelet's order wins, with a warning if their credentials
// differ.
func FromProvider(ctx context.Context, images []string, opts ProviderOptions) ([]Auth, error) {
	log := providers.OrDiscard(opts.Logger)
	if len(images) == 0 {
		return nil, fmt.Errorf("from provider: %w: no image given", ErrInvalid)
	}
	apiVersion, err := ParseAPIVersion(opts.APIVersion)
	if err != nil {
		return nil, err
	}
	binDir, name, err := locate(opts.Binary)
	if err != nil {
		return nil, err
	}
	entry := kubelet.Provider{CredentialProvider: configv1.CredentialProvider{
		Name:       name,
		Args:       opts.Args,
		APIVersion: apiVersion,
	}}
	for _, kv := range opts.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("provider env %q: %w: want NAME=VALUE", envNameOnly(kv), ErrInvalid)
		}
		entry.Env = append(entry.Env, configv1.ExecEnvVar{Name: k, Value: v})
	}

	var out []Auth
	index := make(map[string]int) // secret key → index in out
	for _, image := range images {
		norm, err := keyring.NormalizeImage(image)
		if err != nil {
			return nil, fmt.Errorf("from provider %s: %w", name, err)
		}
		res := kubelet.Exec(ctx, binDir, entry, &providers.Request{Image: norm}, kubelet.ExecOptions{Timeout: opts.Timeout, Environ: opts.Environ})
		if res.Err != nil {
			return nil, execError(name, norm, res, entry.Env)
		}
		resp := res.Response
		cacheDuration := "unset (the kubelet would use defaultCacheDuration)"
		if resp.CacheDuration != nil {
			cacheDuration = resp.CacheDuration.Duration.String()
		}
		log.Log(ctx, providers.V(1), "provider answered", "provider", name, "image", norm,
			"cacheKeyType", resp.CacheKeyType, "cacheDuration", cacheDuration, "keys", displayKeys(resp), "elapsed", res.Elapsed)
		auths, err := matching(norm, resp)
		if err != nil {
			return nil, fmt.Errorf("from provider %s: %w", name, err)
		}
		for _, a := range auths {
			if a.Server != a.pattern {
				log.Log(ctx, providers.V(1), "wildcard key written as the image's registry", "key", dockercfg.DisplayKey(a.pattern), "as", a.Server)
			}
			if i, seen := index[a.Server]; seen {
				if out[i].Username != a.Username || out[i].Password != a.Password {
					log.WarnContext(ctx, "two answer keys give one registry key with different credentials; the first, in the kubelet's order, is kept",
						"key", dockercfg.DisplayKey(a.Server), "image", norm)
				}
				continue
			}
			index[a.Server] = len(out)
			out = append(out, a.Auth)
		}
	}
	return out, nil
}

// matched is an Auth with the answer's key it came from.
type matched struct {
	Auth
	pattern string
}

// matching returns the credentials of resp that the kubelet would hand to the runtime for
// image, in its order, keyed for a docker config.
func matching(image string, resp *providers.Response) ([]matched, error) {
	if len(resp.Auth) == 0 {
		return nil, fmt.Errorf("%w for %s: the answer's auth is empty", ErrNoCredentials, image)
	}
	var kr keyring.Keyring
	for _, raw := range sortedAuthKeys(resp) {
		a := resp.Auth[raw]
		// A key that does not parse is skipped, as by the kubelet.
		_ = kr.Add(raw, keyring.Credential{Username: a.Username, Password: a.Password, Source: raw})
	}
	creds := kr.Lookup(image)
	if len(creds) == 0 {
		return nil, fmt.Errorf("%w for %s: the answer's keys %q do not match it by the kubelet's rules (the kubelet would use none)",
			ErrNoCredentials, image, displayKeys(resp))
	}
	out := make([]matched, 0, len(creds))
	for _, c := range creds {
		out = append(out, matched{
			Auth:    Auth{Server: secretKey(c.Source, c.Key, image), Username: c.Username, Password: c.Password},
			pattern: c.Source,
		})
	}
	return out, nil
}

// secretKey returns the docker config key for an answer's key raw (normalised: norm) that
// matched image: raw itself, unless its host has a glob, which is replaced by the image's
// registry (host and port).
func secretKey(raw, norm, image string) string {
	host, path, _ := strings.Cut(norm, "/")
	if !strings.ContainsAny(host, "*?[") {
		return raw
	}
	if path != "" {
		return keyring.Registry(image) + "/" + path
	}
	return keyring.Registry(image)
}

// locate splits the plugin's path into the kubelet's bin dir and provider name.
func locate(binary string) (binDir, name string, err error) {
	if binary == "" {
		return "", "", fmt.Errorf("from provider: %w: no plugin binary given", ErrInvalid)
	}
	path := binary
	if !strings.ContainsRune(path, '/') && !strings.ContainsRune(path, filepath.Separator) {
		if path, err = exec.LookPath(binary); err != nil {
			return "", "", fmt.Errorf("from provider %s: %w: not found in $PATH", binary, kubelet.ErrStart)
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", fmt.Errorf("from provider %s: %w", binary, err)
	}
	return filepath.Dir(abs), filepath.Base(abs), nil
}

// execError describes a failed exec with what the kubelet would log: the error, the hint about
// stdout, and the plugin's stderr, with the values of the env given to the plugin (credentials,
// often) redacted.
func execError(name, image string, res *kubelet.ExecResult, env []configv1.ExecEnvVar) error {
	var extra string
	if res.Hint != "" {
		extra += " (" + res.Hint + ")"
	}
	if s := strings.TrimSpace(res.Stderr); s != "" {
		for _, e := range env {
			if len(e.Value) >= 4 {
				s = strings.ReplaceAll(s, e.Value, "[redacted]")
			}
		}
		const max = 2000
		if len(s) > max {
			s = strings.ToValidUTF8(s[:max], "") + "…"
		}
		extra += "; plugin stderr: " + providers.OneLine(s)
	}
	return fmt.Errorf("from provider %s for %s: %w%s", name, image, res.Err, extra)
}

func sortedAuthKeys(resp *providers.Response) []string {
	keys := make([]string, 0, len(resp.Auth))
	for k := range resp.Auth {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// displayKeys lists the answer's keys for a log line or an error, any user:password@ removed.
func displayKeys(resp *providers.Response) []string {
	keys := sortedAuthKeys(resp)
	for i, k := range keys {
		keys[i] = dockercfg.DisplayKey(k)
	}
	return keys
}

// envNameOnly shows an env entry's name only.
func envNameOnly(kv string) string {
	k, _, ok := strings.Cut(kv, "=")
	if !ok {
		if len(kv) > 40 {
			return kv[:40] + "…"
		}
		return kv
	}
	return k + "=…"
}
