package keyring

import (
	"errors"
	"fmt"
	"strings"
)

// This file parses image references by the grammar of github.com/distribution/reference
// (v0.6.0, ParseNormalizedNamed), the parser the kubelet and the container runtimes use, with
// the same results and the same error texts. It is hand-written rather than imported because
// that package compiles nine regular expressions (and go-digest three more) when the process
// starts: about a millisecond and half a megabyte on every plugin invocation, whether or not a
// reference is parsed. The differential tests in reference_test.go hold the two together.
//
// The grammar, from that package:
//
//	reference  := name [ ":" tag ] [ "@" digest ]
//	name       := [ domain "/" ] remote-name
//	domain     := host [ ":" port-number ]
//	host       := domain-name | "[" [a-fA-F0-9:]+ "]"
//	domain-name:= label ( "." label )*          label: [a-zA-Z0-9] ( [a-zA-Z0-9-]* [a-zA-Z0-9] )?
//	remote-name:= component ( "/" component )*  component: [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )*
//	tag        := [\w][\w.-]{0,127}
//	digest     := algorithm ":" [0-9a-fA-F]{32,}
//	algorithm  := [A-Za-z][A-Za-z0-9]* ( [-_+.] [A-Za-z][A-Za-z0-9]* )*

// Errors of reference parsing, with the texts of github.com/distribution/reference and
// github.com/opencontainers/go-digest.
var (
	errReferenceInvalidFormat = errors.New("invalid reference format")
	errNameContainsUppercase  = errors.New("repository name must be lowercase")
	errNameEmpty              = errors.New("repository name must have at least one component")
	errNameTooLong            = fmt.Errorf("repository name must not be more than %d characters", maxPathLength)
	errDigestInvalidFormat    = errors.New("invalid checksum digest format")
	errDigestInvalidLength    = errors.New("invalid checksum digest length")
	errDigestUnsupported      = errors.New("unsupported digest algorithm")
)

// maxPathLength bounds the path of a repository name (the part after the domain).
const maxPathLength = 255

// Docker Hub's defaults, as the reference parser fills them in.
const (
	legacyDefaultDomain = "index.docker.io"
	officialRepoPrefix  = "library/"
	localhost           = "localhost"
)

// parseNormalizedName is reference.ParseNormalizedNamed(s).Name(): the fully qualified
// repository name of s, without tag or digest.
func parseNormalizedName(s string) (string, error) {
	if isIdentifier(s) {
		return "", fmt.Errorf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s)
	}
	domain, remainder := splitDockerDomain(s)
	remote := remainder
	if i := strings.IndexByte(remainder, ':'); i >= 0 {
		remote = remainder[:i]
	}
	if strings.ToLower(remote) != remote {
		return "", fmt.Errorf("invalid reference format: repository name (%s) must be lowercase", remote)
	}
	return parseName(domain + "/" + remainder)
}

// parseName is reference.Parse(s) for a reference with a name, returning that name.
func parseName(s string) (string, error) {
	name, path, digest, ok := splitReference(s)
	if !ok {
		if s == "" {
			return "", errNameEmpty
		}
		if _, _, _, ok := splitReference(strings.ToLower(s)); ok {
			return "", errNameContainsUppercase
		}
		return "", errReferenceInvalidFormat
	}
	if len(path) > maxPathLength {
		return "", errNameTooLong
	}
	if digest != "" {
		if err := validateDigest(digest); err != nil {
			return "", err
		}
	}
	if name == "" {
		return "", errNameEmpty
	}
	return name, nil
}

// splitDockerDomain splits a reference into its domain and the rest, filling in Docker Hub's
// domain and "library/" where the reference has none.
func splitDockerDomain(name string) (domain, remainder string) {
	maybeDomain, maybeRemainder, ok := strings.Cut(name, "/")
	if !ok {
		return DockerHub, officialRepoPrefix + name
	}
	switch {
	case maybeDomain == localhost:
		domain, remainder = maybeDomain, maybeRemainder
	case maybeDomain == legacyDefaultDomain:
		domain, remainder = DockerHub, maybeRemainder
	case strings.ContainsAny(maybeDomain, ".:"):
		domain, remainder = maybeDomain, maybeRemainder
	case strings.ToLower(maybeDomain) != maybeDomain:
		domain, remainder = maybeDomain, maybeRemainder
	default:
		domain, remainder = DockerHub, name
	}
	if domain == DockerHub && !strings.ContainsRune(remainder, '/') {
		remainder = officialRepoPrefix + remainder
	}
	return domain, remainder
}

// splitReference matches s against the reference grammar and returns its name, the path of
// the name (without the domain) and its digest ("" if none). The split is unambiguous: neither
// the name nor a tag holds an "@", a tag holds no "/" or ":", and a ":" in a name is in its
// domain, which a "/" always follows.
func splitReference(s string) (name, path, digest string, ok bool) {
	rest := s
	if i := strings.IndexByte(s, '@'); i >= 0 {
		rest, digest = s[:i], s[i+1:]
		if !isDigest(digest) {
			return "", "", "", false
		}
	}
	name = rest
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && i > strings.LastIndexByte(rest, '/') {
		if !isTag(rest[i+1:]) {
			return "", "", "", false
		}
		name = rest[:i]
	}
	// A first element that is a valid domain is the domain (the grammar prefers it), else the
	// whole name is the remote name.
	if d, p, found := strings.Cut(name, "/"); found && isDomain(d) && isRemoteName(p) {
		return name, p, digest, true
	}
	if isRemoteName(name) {
		return name, name, digest, true
	}
	return "", "", "", false
}

// isIdentifier reports whether s is 64 lower-case hex digits (an image ID, not a name).
func isIdentifier(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLowerHex(s[i]) {
			return false
		}
	}
	return true
}

// isDomain matches host [":" port].
func isDomain(d string) bool {
	host, port, hasPort := d, "", false
	if strings.HasPrefix(d, "[") {
		end := strings.IndexByte(d, ']')
		if end < 0 || !isIPv6Literal(d[1:end]) {
			return false
		}
		switch rest := d[end+1:]; {
		case rest == "":
		case rest[0] == ':':
			port, hasPort = rest[1:], true
		default:
			return false
		}
	} else {
		host, port, hasPort = strings.Cut(d, ":")
		if !isDomainName(host) {
			return false
		}
	}
	return !hasPort || isDigits(port)
}

func isIPv6Literal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isHex(c) && c != ':' {
			return false
		}
	}
	return true
}

// isDomainName matches label ("." label)*.
func isDomainName(s string) bool {
	for {
		label, rest, more := strings.Cut(s, ".")
		if !isDomainLabel(label) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

func isDomainLabel(l string) bool {
	if l == "" || !isAlnum(l[0]) || !isAlnum(l[len(l)-1]) {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// isRemoteName matches component ("/" component)*.
func isRemoteName(s string) bool {
	for {
		c, rest, more := strings.Cut(s, "/")
		if !isPathComponent(c) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// isPathComponent matches [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )*.
func isPathComponent(c string) bool {
	i, n := 0, len(c)
	if n == 0 || !isLowerAlnum(c[0]) {
		return false
	}
	for {
		for i < n && isLowerAlnum(c[i]) {
			i++
		}
		if i == n {
			return true
		}
		switch c[i] {
		case '.':
			i++
		case '_':
			i++
			if i < n && c[i] == '_' {
				i++
			}
		case '-':
			for i < n && c[i] == '-' {
				i++
			}
		default:
			return false
		}
		if i == n || !isLowerAlnum(c[i]) {
			return false
		}
	}
}

// isTag matches [\w][\w.-]{0,127}.
func isTag(t string) bool {
	if t == "" || len(t) > 128 || !isWord(t[0]) {
		return false
	}
	for i := 1; i < len(t); i++ {
		if c := t[i]; !isWord(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// isDigest matches algorithm ":" [0-9a-fA-F]{32,}, algorithm being
// [A-Za-z][A-Za-z0-9]* ( [-_+.] [A-Za-z][A-Za-z0-9]* )*.
func isDigest(d string) bool {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) < 32 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if !isHex(hex[i]) {
			return false
		}
	}
	for {
		if alg == "" || !isLetter(alg[0]) {
			return false
		}
		i := 1
		for i < len(alg) && isAlnum(alg[i]) {
			i++
		}
		if i == len(alg) {
			return true
		}
		if !strings.ContainsRune("-_+.", rune(alg[i])) {
			return false
		}
		alg = alg[i+1:]
	}
}

// digestSizes are the algorithms go-digest knows, with the length of their hex encodings.
// go-digest accepts an algorithm only when its hash is linked into the binary; every binary
// here links crypto/sha256 and crypto/sha512 (net/http does), so all three are accepted.
var digestSizes = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}

// validateDigest is go-digest's Digest.Validate for a digest that matched the reference
// grammar.
func validateDigest(d string) error {
	i := strings.IndexByte(d, ':')
	if i <= 0 || i+1 == len(d) {
		return errDigestInvalidFormat
	}
	alg, encoded := d[:i], d[i+1:]
	size, ok := digestSizes[alg]
	if !ok {
		if !isGenericDigest(alg, encoded) {
			return errDigestInvalidFormat
		}
		return errDigestUnsupported
	}
	if len(encoded) != size {
		return errDigestInvalidLength
	}
	for i := 0; i < len(encoded); i++ {
		if !isLowerHex(encoded[i]) {
			return errDigestInvalidFormat
		}
	}
	return nil
}

// isGenericDigest matches go-digest's [a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+.
func isGenericDigest(alg, encoded string) bool {
	if encoded == "" {
		return false
	}
	for i := 0; i < len(encoded); i++ {
		if c := encoded[i]; !isAlnum(c) && c != '=' && c != '_' && c != '-' {
			return false
		}
	}
	for {
		i := 0
		for i < len(alg) && isLowerAlnum(alg[i]) {
			i++
		}
		if i == 0 {
			return false
		}
		if i == len(alg) {
			return true
		}
		if !strings.ContainsRune(".+_-", rune(alg[i])) {
			return false
		}
		alg = alg[i+1:]
	}
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
func isLetter(c byte) bool     { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool      { return isLetter(c) || '0' <= c && c <= '9' }
func isWord(c byte) bool       { return isAlnum(c) || c == '_' }
func isHex(c byte) bool        { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
func isLowerHex(c byte) bool   { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
