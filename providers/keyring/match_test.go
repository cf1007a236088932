package keyring

import (
	"testing"
)

// The expectations below come from the kubelet's URLsMatch and its tests
// (k8s.io/kubernetes pkg/credentialprovider/keyring_test.go) and from running its algorithm by
// hand on the quirks; they are not derived from this package's code.
func TestMatch(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		image   string
		want    bool
	}{
		{"wildcard first label", "*.kubernetes.io", "prefix.kubernetes.io", true},
		{"wildcard middle label", "prefix.*.io", "prefix.kubernetes.io", true},
		{"wildcard last label", "prefix.kubernetes.*", "prefix.kubernetes.io", true},
		{"wildcard inside a label", "*-good.kubernetes.io", "prefix-good.kubernetes.io", true},
		{"wildcard inside a label mismatch", "*-good.kubernetes.io", "prefix-bad.kubernetes.io", false},
		{"wildcard may be empty", "*kubernetes.io", "kubernetes.io", true},
		{"wildcard with path", "*.kubernetes.io/blah", "prefix.kubernetes.io/blah", true},
		{"pattern path is a prefix of a longer path", "prefix.*.io/foo", "prefix.kubernetes.io/foo/bar", true},
		{"path prefix is a string prefix, not per segment", "example.io/team", "example.io/teamx/app", true},
		{"path longer than the image path", "example.io/team/app/extra", "example.io/team/app", false},
		{"path mismatch", "example.io/team", "example.io/other/app", false},
		{"wildcard with port and path", "*.kubernetes.io:1111/blah", "prefix.kubernetes.io:1111/blah", true},
		{"wildcard with port and longer path", "prefix.*.io:1111/foo", "prefix.kubernetes.io:1111/foo/bar", true},
		{"wildcard does not span an empty label", "*.kubernetes.io", "kubernetes.io", false},
		{"two wildcards need two labels", "*.*.kubernetes.io", "prefix.kubernetes.io", false},
		{"two wildcards against two labels", "*.*.kubernetes.io", "kubernetes.io", false},
		{"two wildcards against four labels", "*.*.kubernetes.io", "a.b.kubernetes.io", true},
		{"wildcard does not span a dot", "*.io", "a.b.io", false},
		{"different tld", "kubernetes.io", "kubernetes.com", false},
		{"prefix glob mismatch", "k*.io", "quay.io", false},
		{"ports differ", "*.kubernetes.io:1234/blah", "prefix.kubernetes.io:1111/blah", false},
		{"pattern without port never matches image with port", "prefix.*.io/foo", "prefix.kubernetes.io:1111/foo/bar", false},
		{"pattern with port never matches image without port", "registry.io:5000", "registry.io/app", false},
		{"same port", "registry.io:5000", "registry.io:5000/app", true},
		{"no wildcard ports", "registry.io:*", "registry.io:5000/app", false},
		{"exact host", "registry.example.io", "registry.example.io/team/app", true},
		{"exact host matches itself", "registry.example.io", "registry.example.io", true},
		{"gcr wildcard does not match gcr.io", "*.gcr.io", "gcr.io/p/i", false},
		{"gcr wildcard matches regional gcr", "*.gcr.io", "us.gcr.io/p/i", true},
		{"pkg.dev wildcard does not match rep.pkg.dev", "*.pkg.dev", "docker.us-central1.rep.pkg.dev/p/r/i", false},
		{"pkg.dev wildcard matches location pkg.dev", "*.pkg.dev", "us-central1-docker.pkg.dev/p/r/i", true},
		{"ecr pattern does not match ecr-fips", "*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/x", false},
		{"ecr pattern matches ecr", "*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com/x", true},
		{"ecr pattern does not match a lookalike suffix", "*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io/x", false},
		{"question mark starts a query so the host is cut", "registr?.io", "registry.io", false},
		{"question mark pattern matches only the cut host", "registr?.io", "registr", true},
		{"bracket in a pattern is not a character class", "[r]egistry.io", "registry.io", false},
		{"matchImages entry with a scheme never matches", "https://registry.io", "registry.io/app", false},
		{"uppercase is not folded", "Registry.io", "registry.io/app", false},
		{"docker hub short host", "docker.io", "docker.io/library/nginx", true},
		{"index.docker.io does not match docker.io by label count", "index.docker.io", "docker.io/library/nginx", false},
		{"registry-1.docker.io is its own host", "registry-1.docker.io", "docker.io/library/nginx", false},
		{"ip address and port", "127.0.0.1:5000", "127.0.0.1:5000/app", true},
		{"ip address without port", "127.0.0.1", "127.0.0.1:5000/app", false},
		{"ipv6 literal with port", "[::1]:5000", "[::1]:5000/app", true},
		{"localhost", "localhost:5000", "localhost:5000/app", true},
		{"empty pattern matches only a host of one empty label", "", "registry.io/app", false},
		{"lone star matches any single label host", "*", "localhost/app", true},
		{"lone star does not match a dotted host", "*", "registry.io/app", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := Match(tt.pattern, tt.image)
			if got != tt.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.image, got, tt.want)
			}
		})
	}
}

func TestMatchErrors(t *testing.T) {
	tests := []struct {
		name, pattern, image string
	}{
		{"percent escape in pattern", "%zz.example.io", "registry.io"},
		{"percent escape in image", "registry.io", "%zz.example.io"},
		{"unterminated bracket label", "[a-.example.io", "a.example.io"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Match(tt.pattern, tt.image)
			if got {
				t.Errorf("Match(%q, %q) = true, want false", tt.pattern, tt.image)
			}
			if err == nil {
				t.Errorf("Match(%q, %q) error = nil, want an error", tt.pattern, tt.image)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		name, pattern, image string
		want                 Mismatch
	}{
		{"match", "*.example.io", "a.example.io/x", ""},
		{"port", "registry.io:5000", "registry.io/x", MismatchPort},
		{"labels", "*.example.io", "example.io/x", MismatchLabels},
		{"path", "registry.io/team", "registry.io/other", MismatchPath},
		{"host", "a.example.io", "b.example.io/x", MismatchHost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Explain(tt.pattern, tt.image)
			if err != nil || got != tt.want {
				t.Errorf("Explain(%q, %q) = %q, %v, want %q", tt.pattern, tt.image, got, err, tt.want)
			}
		})
	}
}
