package providers

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// ErrWildcardTooWide: a host pattern's wildcard covers a public suffix, so it matches domains
// that anyone can register.
var ErrWildcardTooWide = errors.New("wildcard covers a public suffix")

// CheckWildcardScope refuses a registry host pattern in matchImages syntax ("*.example.com",
// "mirror-*.example.co.uk/team") whose wildcard stands where anyone can register a domain:
// when the literal labels right of the rightmost label holding a glob character (*, ?, [) are
// a public suffix of the Public Suffix List (ICANN and private sections: co.uk, github.io,
// appspot.com …), the pattern matches attacker.co.uk as well as the intended mirror, and a
// provider would hand it the node's credentials. A pattern without a wildcard, or whose
// wildcard sits under a registrable domain (*.example.co.uk), passes. Every flag that names
// hosts to serve (gcr --registry, the mirror flags) checks its values with it.
func CheckWildcardScope(pattern string) error {
	host := pattern
	if _, rest, ok := strings.Cut(host, "://"); ok {
		host = rest
	}
	host, _, _ = strings.Cut(host, "/")
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i] // a port; a glob's "[...]" is kept
	}
	if host == "" {
		return fmt.Errorf("%q is not a registry host pattern", pattern)
	}
	labels := strings.Split(strings.ToLower(host), ".")
	last := -1 // the rightmost label holding a glob character
	for i, l := range labels {
		if strings.ContainsAny(l, "*?[") {
			last = i
		}
	}
	if last < 0 {
		return nil
	}
	suffix := strings.Join(labels[last+1:], ".")
	if suffix == "" {
		return fmt.Errorf("%q: %w: the top-level domain itself", pattern, ErrWildcardTooWide)
	}
	if ps, _ := publicsuffix.PublicSuffix(suffix); ps == suffix {
		return fmt.Errorf("%q: %w (%s): it matches domains anyone can register; name the registry's own domain, as in *.example.%s",
			pattern, ErrWildcardTooWide, suffix, suffix)
	}
	return nil
}
