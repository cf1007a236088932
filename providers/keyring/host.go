package keyring

import "strings"

// maxHostLen bounds the host HTTPSHostName looks at: a DNS name, a colon and a port.
const maxHostLen = 253 + 6

// HTTPSHostName returns host (a registry as the kubelet keys it: a name with an optional
// port) in lower case and without its port, for comparison with a cloud registry's names,
// which are served on the default HTTPS port only. why says what is wrong ("" when nothing
// is): an empty or over-long host, a port other than 443, a non-ASCII byte. Lower-casing is
// ASCII only: strings.ToLower would turn the Kelvin sign (U+212A) into "k" and let a host
// that is not the cloud's through.
func HTTPSHostName(host string) (name, why string) {
	if host == "" {
		return "", "empty host"
	}
	if len(host) > maxHostLen {
		return "", "host too long"
	}
	name = host
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		if host[i+1:] != "443" {
			return "", "served on the default HTTPS port (443) only"
		}
		name = host[:i]
	}
	b := []byte(name)
	for i, c := range b {
		switch {
		case c >= 0x80:
			return "", "non-ASCII character in host"
		case 'A' <= c && c <= 'Z':
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b), ""
}
