package gcr

import (
	"fmt"
	"strings"

	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// DefaultRegistries returns the host patterns of Google's registries, in the kubelet's
// matching syntax: Container Registry (gcr.io and its regional hosts us.gcr.io, eu.gcr.io,
// asia.gcr.io, marketplace.gcr.io …), Artifact Registry (<location>-docker.pkg.dev and its
// regional endpoints docker.<region>.rep.pkg.dev) and container.cloud.google.com. The same
// list belongs in the provider's matchImages.
func DefaultRegistries() []string {
	return []string{
		"gcr.io",
		"*.gcr.io",
		"*.pkg.dev",
		"docker.*.rep.pkg.dev",
		"container.cloud.google.com",
	}
}

// Kind says which Google registry a host belongs to.
type Kind int

// The kinds of registry hosts ParseHost knows.
const (
	// NotGoogle is a host that none of DefaultRegistries matches.
	NotGoogle Kind = iota
	// ContainerRegistry is gcr.io or <region>.gcr.io.
	ContainerRegistry
	// ArtifactRegistry is <location>-docker.pkg.dev (any <x>.pkg.dev).
	ArtifactRegistry
	// ArtifactRegistryRegional is a regional endpoint, docker.<region>.rep.pkg.dev.
	ArtifactRegistryRegional
	// ContainerCloud is container.cloud.google.com.
	ContainerCloud
)

func (k Kind) String() string {
	switch k {
	case NotGoogle:
		return "not a Google registry"
	case ContainerRegistry:
		return "Container Registry"
	case ArtifactRegistry:
		return "Artifact Registry"
	case ArtifactRegistryRegional:
		return "Artifact Registry regional endpoint"
	case ContainerCloud:
		return "container.cloud.google.com"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Host is a registry host as ParseHost classified it.
type Host struct {
	// Name is the registry part of the image: the host, with its port if it has one.
	Name string
	// Kind is the Google registry the host belongs to, NotGoogle if none.
	Kind Kind
	// Location is the region or multi-region the host serves, when its name says so: "us" for
	// us.gcr.io and us-docker.pkg.dev, "europe-west1" for docker.europe-west1.rep.pkg.dev;
	// "" for gcr.io and container.cloud.google.com.
	Location string
}

// ParseHost normalises image as the kubelet does and classifies its registry host by the rules
// of DefaultRegistries, exactly as the kubelet would match those patterns: a host with a port,
// another number of labels, another case or a trailing dot is NotGoogle ("gcr.io.evil.io",
// "evilgcr.io", "us-docker.pkg.dev.evil", "gcr.io:443" are all NotGoogle). It fails only when
// image is not a valid image reference.
func ParseHost(image string) (Host, error) {
	norm, err := keyring.NormalizeImage(image)
	if err != nil {
		return Host{}, err
	}
	h := Host{Name: keyring.Registry(norm)}
	if strings.Contains(h.Name, ":") {
		return h, nil // a port: no default pattern has one
	}
	labels := strings.Split(h.Name, ".")
	switch n := len(labels); {
	case n == 2 && h.Name == "gcr.io":
		h.Kind = ContainerRegistry
	case n == 3 && labels[1] == "gcr" && labels[2] == "io":
		h.Kind, h.Location = ContainerRegistry, labels[0]
	case n == 3 && labels[1] == "pkg" && labels[2] == "dev":
		h.Kind = ArtifactRegistry
		if loc, ok := strings.CutSuffix(labels[0], "-docker"); ok {
			h.Location = loc
		}
	case n == 5 && labels[0] == "docker" && labels[2] == "rep" && labels[3] == "pkg" && labels[4] == "dev":
		h.Kind, h.Location = ArtifactRegistryRegional, labels[1]
	case h.Name == "container.cloud.google.com":
		h.Kind = ContainerCloud
	}
	return h, nil
}

// validateRegistry checks an extra --registry pattern. It must be a pattern the kubelet can
// match (no scheme: a matchImages entry starting with https:// never matches), and its last two
// host labels must be literal: "*.io" or "*.*" would hand Google tokens to any host; nor may a
// wildcard cover a public suffix ("*.co.uk", "*.github.io": providers.CheckWildcardScope).
func validateRegistry(pattern string) error {
	if pattern == "" {
		return fmt.Errorf("empty pattern")
	}
	if strings.Contains(pattern, "://") {
		return fmt.Errorf("%q has a scheme: give the host as in matchImages (gcr.io/my-project, not https://gcr.io/my-project)", pattern)
	}
	u, err := keyring.ParseSchemeless(pattern)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(pattern, " \t\r\n") {
		return fmt.Errorf("%q is not a registry host pattern", pattern)
	}
	host := u.Hostname()
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return fmt.Errorf("%q: a pattern needs at least two host labels", pattern)
	}
	for _, l := range labels[len(labels)-2:] {
		if l == "" || strings.ContainsAny(l, "*?[]\\") {
			return fmt.Errorf("%q: the last two host labels must be literal, or the pattern would match other domains", pattern)
		}
	}
	for _, l := range labels {
		if l == "" {
			return fmt.Errorf("%q has an empty host label", pattern)
		}
	}
	return providers.CheckWildcardScope(pattern)
}
