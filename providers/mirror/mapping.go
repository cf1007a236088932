package mirror

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// ErrInvalidMapping is wrapped by the errors of Parse.
var ErrInvalidMapping = errors.New("invalid --mirror")

// Mapping sends the images of one upstream registry to a mirror: "docker.io/library/nginx"
// on the upstream "docker.io" is "<Host>/<Path>/library/nginx" on the mirror.
type Mapping struct {
	// Upstream is the registry the kubelet asks about: a host with an optional port, in the
	// kubelet's matching syntax (per-label globs, "*.example.com"). "index.docker.io" is
	// written "docker.io", as the kubelet normalises it.
	Upstream string `json:"upstream"`
	// Host is the mirror's registry host, with its port if it has one.
	Host string `json:"host"`
	// Path is the repository prefix on the mirror ("docker-hub" for an ECR pull-through cache
	// rule, "my-project/dockerhub-remote" for an Artifact Registry remote repository), "" for
	// none.
	Path string `json:"path,omitempty"`
	// Source says where the mapping comes from: "--mirror" or a hosts.toml file.
	Source string `json:"source"`
}

// String is the mapping in the flag's syntax.
func (m Mapping) String() string { return m.Upstream + "=" + m.Mirror() }

// Mirror is the mirror's host and path, "host[/path]".
func (m Mapping) Mirror() string {
	if m.Path == "" {
		return m.Host
	}
	return m.Host + "/" + m.Path
}

// Parse reads a --mirror value, "UPSTREAM=MIRROR[/PATH]". UPSTREAM is a registry host
// (with an optional port; wildcards allowed below a registrable domain, never over a public
// suffix: "*.example.com" is fine, "*.com" and "*.co.uk" are refused). MIRROR is a registry
// host and PATH a repository prefix, both literal. Neither takes a scheme.
func Parse(s string) (Mapping, error) {
	up, mir, ok := strings.Cut(s, "=")
	if !ok {
		return Mapping{}, fmt.Errorf("%w %q: want UPSTREAM=MIRROR[/PATH], e.g. docker.io=mirror.example.com/dockerhub", ErrInvalidMapping, s)
	}
	upstream, err := parseUpstream(up)
	if err != nil {
		return Mapping{}, fmt.Errorf("%w %q: upstream: %v", ErrInvalidMapping, s, err)
	}
	host, path, err := parseMirror(mir)
	if err != nil {
		return Mapping{}, fmt.Errorf("%w %q: mirror: %v", ErrInvalidMapping, s, err)
	}
	m := Mapping{Upstream: upstream, Host: host, Path: path, Source: "--mirror"}
	if ok, _ := keyring.Match(upstream, host+"/x"); ok {
		return Mapping{}, fmt.Errorf("%w %q: the mirror is on the upstream itself", ErrInvalidMapping, s)
	}
	return m, nil
}

func parseUpstream(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty")
	}
	if strings.Contains(s, "://") {
		return "", fmt.Errorf("%q has a scheme: give the registry host as the kubelet sees it (docker.io, registry.k8s.io)", s)
	}
	if strings.Contains(s, "/") {
		return "", fmt.Errorf("%q has a path: a mirror stands for a whole registry host", s)
	}
	if s != strings.ToLower(s) {
		return "", fmt.Errorf("%q: registry hosts are lower case in image names", s)
	}
	u, err := keyring.ParseSchemeless(s)
	if err != nil || u.Host != s || u.User != nil || strings.ContainsAny(s, " \t\r\n\\") {
		return "", fmt.Errorf("%q is not a registry host", s)
	}
	for _, l := range strings.Split(u.Hostname(), ".") {
		if l == "" {
			return "", fmt.Errorf("%q has an empty host label", s)
		}
	}
	if err := providers.CheckWildcardScope(s); err != nil {
		return "", err
	}
	if s == keyring.DockerHubKey {
		s = keyring.DockerHub // the kubelet sends index.docker.io/x as docker.io/x
	}
	return s, nil
}

func parseMirror(s string) (host, path string, err error) {
	if s == "" {
		return "", "", errors.New("empty")
	}
	if strings.Contains(s, "://") {
		return "", "", fmt.Errorf("%q has a scheme: give host[/path] as in an image name", s)
	}
	if strings.ContainsAny(s, "*?[]") {
		return "", "", fmt.Errorf("%q: a mirror is one registry, no wildcards", s)
	}
	host, path, _ = strings.Cut(strings.TrimSuffix(s, "/"), "/")
	// The mirror image must be an image name the kubelet and the providers parse: check
	// host and path with the same parser, on a probe repository below them.
	probe := host + "/" + path
	if path == "" {
		probe = host + "/x"
	}
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		return "", "", fmt.Errorf("%q: %q is not a registry host (it has no dot or port, so it would be read as a Docker Hub repository)", s, host)
	}
	norm, err := keyring.NormalizeImage(probe)
	if err != nil || norm != probe {
		return "", "", fmt.Errorf("%q is not a registry host with an optional repository prefix", s)
	}
	return host, path, nil
}

// Matches reports whether the normalised image is on the mapping's upstream, by the kubelet's
// matching rules: "docker.io" matches "docker.io/library/nginx" and never
// "docker.io.evil.example/x".
func (m Mapping) Matches(image string) bool {
	ok, _ := keyring.Match(m.Upstream, image)
	return ok
}

// Map returns the image on the mirror for a normalised image on the upstream:
// "docker.io/library/nginx" is "<host>/<path>/library/nginx". The path is a repository
// prefix, as a pull-through cache names what it caches (containerd's override_path mirrors).
func (m Mapping) Map(image string) string {
	_, repo, _ := strings.Cut(image, "/")
	return m.Mirror() + "/" + repo
}

// probe is an image on the mirror, for checks that need one.
func (m Mapping) probe() string { return m.Mirror() + "/library/probe" }

// Find returns the first mapping whose upstream the normalised image is on.
func Find(ms []Mapping, image string) (Mapping, bool) {
	for _, m := range ms {
		if m.Matches(image) {
			return m, true
		}
	}
	return Mapping{}, false
}
