package keyring

import (
	_ "crypto/sha256" // digests: go-digest accepts the algorithms whose hashes are linked
	_ "crypto/sha512"
	"fmt"
	"github.com/pullkeys/pullkeys/internal/redact"
	"net/url"
	"strings"

	"github.com/distribution/reference"
)

// Docker Hub's names as the kubelet knows them.
const (
	// DockerHub is the domain of Docker Hub images after normalisation.
	DockerHub = "docker.io"
	// DockerHubKey is where Docker Hub credentials are stored in docker config files
	// ("https://index.docker.io/v1/" after NormalizeKey).
	DockerHubKey = "index.docker.io"
)

// NormalizeImage returns the repository the kubelet would send to a plugin for ref: the
// fully qualified name without tag or digest ("nginx:1.2" → "docker.io/library/nginx"), as
// github.com/distribution/reference's ParseNormalizedNamed gives it to the kubelet.
func NormalizeImage(ref string) (string, error) {
	name, err := parseNormalizedName(ref)
	if err != nil {
		if shown, ok := redact.Reference(ref); ok {
			// The parser's messages quote parts of the name: explain the reference with its
			// userinfo taken out instead, which fails to parse alike.
			if _, err2 := parseNormalizedName(shown); err2 != nil {
				err = err2
			}
			return "", fmt.Errorf("invalid image reference %q: %w", truncate(shown, 300), err)
		}
		return "", fmt.Errorf("invalid image reference %q: %w", truncate(ref, 300), err)
	}
	return name, nil
}

// parseNormalizedName is reference.ParseNormalizedNamed(s).Name().
func parseNormalizedName(s string) (string, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return "", err
	}
	return named.Name(), nil
}

// Registry returns the registry part of a normalised image: the text before the first "/",
// host with port. The kubelet keys "Registry" cache entries by it.
func Registry(image string) string {
	host, _, _ := strings.Cut(image, "/")
	return host
}

// IsDockerHub reports whether image is pulled from Docker Hub, by the kubelet's rule: a first
// path element that is docker.io or index.docker.io, or that has no "." or ":" in it.
func IsDockerHub(image string) bool {
	first, _, found := strings.Cut(image, "/")
	if first == "" {
		return false
	}
	if !found || first == DockerHub || first == DockerHubKey {
		return true
	}
	return !strings.ContainsAny(first, ".:")
}

// NormalizeKey turns a credential key (an auth map key or a docker config "auths" key) into
// the pattern the kubelet matches: scheme removed, a "/v1/" or "/v2/" path prefix dropped,
// and a path of "/" meaning the host alone.
func NormalizeKey(key string) (string, error) {
	value := key
	if !strings.HasPrefix(value, "https://") && !strings.HasPrefix(value, "http://") {
		value = "https://" + value
	}
	u, err := url.Parse(value)
	if err != nil {
		return "", fmt.Errorf("invalid registry key: %w", err)
	}
	path := u.Path
	if strings.HasPrefix(path, "/v2/") || strings.HasPrefix(path, "/v1/") {
		path = path[3:]
	}
	if path != "" && path != "/" {
		return u.Host + path, nil
	}
	return u.Host, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
