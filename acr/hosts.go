package acr

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pullkeys/pullkeys/providers/keyring"
)

// Login server names: 5 to 50 letters and digits, as Azure allows for a registry's name.
const (
	minNameLen = 5
	maxNameLen = 50
)

// Registry is an ACR login server as ParseHost took it apart.
type Registry struct {
	// Host is the login server exactly as in the image (with ":443" if it was given): the key
	// of the auth map returned to the kubelet.
	Host string
	// LoginServer is Host in lower case without a port: <name>.<suffix>, the "service" of the
	// token exchange.
	LoginServer string
	// Name is the registry's name, lower case.
	Name string
	// Suffix is the DNS suffix after the name: azurecr.io, azurecr.cn, azurecr.us or one
	// given with --registry-suffix.
	Suffix string
	// Cloud is the cloud the suffix belongs to; false Known for a --registry-suffix one.
	Cloud Cloud
	Known bool
}

// DefaultSuffixes returns the registry DNS suffixes of the clouds ParseHost knows.
func DefaultSuffixes() []string {
	var out []string
	for _, c := range Clouds() {
		out = append(out, c.RegistrySuffix)
	}
	return out
}

// MatchImages returns the matchImages patterns that cover every login server ParseHost
// accepts under suffixes (DefaultSuffixes when none is given), without a port: "*.azurecr.io",
// "*.azurecr.cn", "*.azurecr.us" and one per further suffix.
func MatchImages(suffixes ...string) []string {
	all := DefaultSuffixes()
	for _, s := range suffixes {
		s = strings.ToLower(strings.TrimPrefix(s, "."))
		if !slices.Contains(all, s) {
			all = append(all, s)
		}
	}
	out := make([]string, len(all))
	for i, s := range all {
		out[i] = "*." + s
	}
	return out
}

// ValidateSuffix checks a --registry-suffix: two or more lower-case DNS labels (letters,
// digits, "-"), such as "azurecr.microsoft.scloud", with an optional leading dot.
func ValidateSuffix(s string) error {
	s = strings.TrimPrefix(s, ".")
	labels := strings.Split(s, ".")
	ok := len(labels) >= 2 && len(s) <= 200
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			ok = false
			break
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				ok = false
			}
		}
	}
	if !ok {
		return fmt.Errorf("%w: --registry-suffix %q: want lower-case DNS labels such as azurecr.microsoft.scloud", ErrInvalidOption, oneWord(s))
	}
	return nil
}

// ParseHost parses a registry host (as the kubelet keys registries: host with an optional
// port) as an ACR login server:
//
//	<name>.azurecr.io    AzurePublicCloud
//	<name>.azurecr.cn    AzureChinaCloud
//	<name>.azurecr.us    AzureUSGovernmentCloud
//	<name>.<suffix>      each of extra (--registry-suffix)
//
// case-insensitively, on the default HTTPS port only, where name is 5 to 50 ASCII letters and
// digits. Anything else is an error wrapping ErrNotACR: lookalikes such as
// myregistry.azurecr.io.evil.io, myregistry.azurecr.io.cn, my-registry.azurecr.io,
// a.b.azurecr.io or azurecr.io itself.
func ParseHost(host string, extra ...string) (Registry, error) {
	reg, why := parseHost(host, extra)
	if why != "" {
		if len(host) > 100 {
			host = host[:100] + "…"
		}
		return Registry{}, fmt.Errorf("%q is %w: %s", host, ErrNotACR, why)
	}
	return reg, nil
}

func parseHost(host string, extra []string) (Registry, string) {
	name, why := keyring.HTTPSHostName(host)
	if why != "" {
		return Registry{}, why
	}
	first, suffix, ok := strings.Cut(name, ".")
	if !ok {
		return Registry{}, "not <name>.azurecr.io"
	}
	reg := Registry{Host: host, LoginServer: name, Name: first, Suffix: suffix}
	if c, ok := cloudBySuffix(suffix); ok {
		reg.Cloud, reg.Known = c, true
	} else {
		found := false
		for _, s := range extra {
			if strings.ToLower(strings.TrimPrefix(s, ".")) == suffix {
				found = true
				break
			}
		}
		if !found {
			return Registry{}, "the domain after the registry name is not a registry domain (azurecr.io, azurecr.cn, azurecr.us; add one with --registry-suffix)"
		}
	}
	if len(first) < minNameLen || len(first) > maxNameLen {
		return Registry{}, fmt.Sprintf("a registry name has %d to %d characters", minNameLen, maxNameLen)
	}
	for i := 0; i < len(first); i++ {
		if c := first[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return Registry{}, "a registry name has letters and digits only"
		}
	}
	return reg, ""
}
