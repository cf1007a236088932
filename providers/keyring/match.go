package keyring

import (
	"net"
	"net/url"
	"path/filepath"
	"strings"
)

// ParseSchemeless parses s as a URL without a scheme, the way the kubelet parses patterns and
// images: "https://" is put in front and the resulting scheme cleared.
func ParseSchemeless(s string) (*url.URL, error) {
	u, err := url.Parse("https://" + s)
	if err != nil {
		return nil, err
	}
	u.Scheme = ""
	return u, nil
}

// splitHost splits the URL's host into its dot-separated labels and its port ("" if none).
func splitHost(u *url.URL) (labels []string, port string) {
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port = u.Host, ""
	}
	return strings.Split(host, "."), port
}

// Match reports whether image matches pattern under the kubelet's rules (see the package
// documentation). An error means pattern or image does not parse, or a host label of pattern is
// a malformed glob; the kubelet treats all of these as "no match".
func Match(pattern, image string) (bool, error) {
	p, err := ParseSchemeless(pattern)
	if err != nil {
		return false, err
	}
	i, err := ParseSchemeless(image)
	if err != nil {
		return false, err
	}
	return MatchURL(p, i)
}

// MatchURL is Match on parsed URLs.
func MatchURL(pattern, image *url.URL) (bool, error) {
	return matchURL(pattern, image, nil)
}

// Mismatch says why a pattern does not match an image.
type Mismatch string

// The reasons for Mismatch, in the order the kubelet checks them.
const (
	MismatchPort   Mismatch = "port"
	MismatchLabels Mismatch = "label count"
	MismatchPath   Mismatch = "path"
	MismatchHost   Mismatch = "host"
)

// Explain is Match that also says which rule failed ("" when the image matches).
func Explain(pattern, image string) (Mismatch, error) {
	p, err := ParseSchemeless(pattern)
	if err != nil {
		return "", err
	}
	i, err := ParseSchemeless(image)
	if err != nil {
		return "", err
	}
	var why Mismatch
	ok, err := matchURL(p, i, &why)
	if ok || err != nil {
		return "", err
	}
	return why, nil
}

func matchURL(pattern, image *url.URL, why *Mismatch) (bool, error) {
	fail := func(m Mismatch) (bool, error) {
		if why != nil {
			*why = m
		}
		return false, nil
	}
	pLabels, pPort := splitHost(pattern)
	iLabels, iPort := splitHost(image)
	if pPort != iPort {
		return fail(MismatchPort)
	}
	if len(pLabels) != len(iLabels) {
		return fail(MismatchLabels)
	}
	if !strings.HasPrefix(image.Path, pattern.Path) {
		return fail(MismatchPath)
	}
	for k, glob := range pLabels {
		ok, err := filepath.Match(glob, iLabels[k])
		if err != nil {
			return false, err
		}
		if !ok {
			return fail(MismatchHost)
		}
	}
	return true, nil
}
