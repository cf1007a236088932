package kubelet

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/kubernetes/pkg/util/parsers"

	"github.com/pullkeys/pullkeys/providers/keyring"
)

// The pure functions of matching, compared with the kubelet's own: keyring.Match with
// credentialprovider.URLsMatchStr, keyring.Keyring with credentialprovider.BasicDockerKeyring,
// keyring.NormalizeImage with the image manager's parsers.ParseImageName.

var matchCases = []struct {
	name           string
	pattern, image string
	match          bool
}{
	// The table of /work/shared/KUBELET.md.
	{"glob label", "*.kubernetes.io", "prefix.kubernetes.io", true},
	{"label count", "*.kubernetes.io", "kubernetes.io", false},
	{"two globs, fewer labels", "*.*.kubernetes.io", "prefix.kubernetes.io", false},
	{"star may be empty", "*kubernetes.io", "kubernetes.io", true},
	{"glob in the middle and a path", "prefix.*.io/foo", "prefix.kubernetes.io/foo/bar", true},
	{"image port, pattern none", "prefix.*.io/foo", "prefix.kubernetes.io:1111/foo/bar", false},
	{"same port and path", "*.kubernetes.io:1111/blah", "prefix.kubernetes.io:1111/blah", true},
	{"path is a string prefix", "example.io/team", "example.io/teamx/img", true},
	{"gcr.io is not *.gcr.io", "*.gcr.io", "gcr.io/p/i", false},
	{"pkg.dev has five labels", "*.pkg.dev", "docker.us-central1.rep.pkg.dev/p/r/i", false},
	{"ecr is not ecr-fips", "*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/x", false},
	// More quirks.
	{"scheme in a pattern never matches", "https://example.io", "example.io/app", false},
	{"pattern port, image none", "example.io:5000", "example.io/app", false},
	{"no wildcard ports", "example.io:*", "example.io:5000/app", false},
	{"question mark starts a query", "registr?.io", "registry.io/app", false},
	{"star does not cross a dot", "*.io", "a.b.io/app", false},
	{"partial label glob", "team-*.example.io", "team-a.example.io/app", true},
	{"host only matches every path", "example.io", "example.io/a/b/c", true},
	{"longer pattern path", "example.io/a/b", "example.io/a", false},
	{"IPv6 literal with port", "[::1]:5000", "[::1]:5000/app", true},
	{"malformed glob", "[.example.io", "a.example.io/app", false},
	{"unparsable pattern", "%zz", "example.io/app", false},
	{"upper-case host", "EXAMPLE.io", "example.io/app", false},
}

func TestMatchAgreesWithKubelet(t *testing.T) {
	for _, tc := range matchCases {
		t.Run(tc.name, func(t *testing.T) {
			want, kerr := credentialprovider.URLsMatchStr(tc.pattern, tc.image)
			if want != tc.match {
				t.Fatalf("credentialprovider.URLsMatchStr(%q, %q) = %v, want %v: the case is wrong", tc.pattern, tc.image, want, tc.match)
			}
			got, err := keyring.Match(tc.pattern, tc.image)
			if got != want || (err != nil) != (kerr != nil) {
				t.Errorf("keyring.Match(%q, %q) = %v, %v; the kubelet: %v, %v", tc.pattern, tc.image, got, err, want, kerr)
			}
		})
	}
}

func FuzzMatch(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.pattern, tc.image)
	}
	f.Fuzz(func(t *testing.T, pattern, image string) {
		want, kerr := credentialprovider.URLsMatchStr(pattern, image)
		got, err := keyring.Match(pattern, image)
		if got != want || (err != nil) != (kerr != nil) {
			t.Errorf("keyring.Match(%q, %q) = %v, %v; the kubelet's URLsMatchStr: %v, %v", pattern, image, got, err, want, kerr)
		}
		if _, err := keyring.Explain(pattern, image); (err != nil) != (kerr != nil) {
			t.Errorf("keyring.Explain(%q, %q) error %v; the kubelet's: %v", pattern, image, err, kerr)
		}
	})
}

var keyringCases = []struct {
	name  string
	keys  []string
	image string
}{
	{"host", []string{"example.io"}, "example.io/app"},
	{"most specific first", []string{"quay.io", "quay.io/team", "quay.io/team/app", "*.io"}, "quay.io/team/app"},
	{"scheme and /v1/ stripped", []string{"https://index.docker.io/v1/"}, "docker.io/library/nginx"},
	{"docker hub fallback only without a match", []string{"index.docker.io", "docker.io"}, "docker.io/library/nginx"},
	{"docker hub fallback for a user repository", []string{"index.docker.io"}, "docker.io/someone/app"},
	{"no docker hub fallback for another registry", []string{"index.docker.io"}, "example.io/app"},
	{"http scheme and /v2/ path", []string{"http://example.io/v2/", "http://example.io/v2/team"}, "example.io/team/app"},
	{"same key twice", []string{"example.io", "https://example.io", "example.io/"}, "example.io/app"},
	{"registry-1.docker.io is not docker hub", []string{"registry-1.docker.io"}, "docker.io/library/nginx"},
	{"port", []string{"example.io:5000", "example.io"}, "example.io:5000/app"},
	{"unparsable key skipped", []string{"%zz", "example.io"}, "example.io/app"},
	{"path with /v1 not followed by a slash", []string{"example.io/v1"}, "example.io/v1/app"},
	{"empty key", []string{""}, "example.io/app"},
	// The kubelet's isDefaultRegistryMatch: a first element without '.' or ':' is Docker Hub.
	{"localhost falls back to docker hub", []string{"index.docker.io"}, "localhost/app"},
}

// keyringLookups adds the keys, in order and one per Add (the kubelet's Add ranges over a
// map, so within one Add the order of two credentials under one key is random), to both
// keyrings, each key's credential named by its index, and returns both lookups.
func keyringLookups(keys []string, image string) (kubelet, ours []string) {
	var kr credentialprovider.BasicDockerKeyring
	var pk keyring.Keyring
	for i, k := range keys {
		name := fmt.Sprintf("key%d", i)
		kr.Add(nil, credentialprovider.DockerConfig{k: {Username: name, Password: "p"}})
		_ = pk.Add(k, keyring.Credential{Username: name, Password: "p"})
	}
	found, _ := kr.Lookup(image)
	kubelet, ours = []string{}, []string{}
	for _, c := range found {
		kubelet = append(kubelet, c.Username)
	}
	for _, c := range pk.Lookup(image) {
		ours = append(ours, c.Username)
	}
	return kubelet, ours
}

func TestKeyringAgreesWithKubelet(t *testing.T) {
	for _, tc := range keyringCases {
		t.Run(tc.name, func(t *testing.T) {
			kubelet, ours := keyringLookups(tc.keys, tc.image)
			if diff := cmp.Diff(kubelet, ours); diff != "" {
				t.Errorf("Keyring%q.Lookup(%q) mismatch (-kubelet +pullkeys):\n%s", tc.keys, tc.image, diff)
			}
		})
	}
}

func FuzzKeyring(f *testing.F) {
	for _, tc := range keyringCases {
		f.Add(strings.Join(tc.keys, "\n"), tc.image)
	}
	f.Fuzz(func(t *testing.T, keys, image string) {
		list := strings.Split(keys, "\n")
		if len(list) > 8 {
			list = list[:8]
		}
		kubelet, ours := keyringLookups(list, image)
		if diff := cmp.Diff(kubelet, ours); diff != "" {
			t.Errorf("Keyring%q.Lookup(%q) mismatch (-kubelet +pullkeys):\n%s", list, image, diff)
		}
	})
}

var imageCases = []string{
	"nginx", "nginx:1.27", "library/nginx", "docker.io/nginx", "index.docker.io/library/nginx",
	"registry-1.docker.io/library/nginx", "localhost/app", "localhost:5000/app:v1",
	"example.io/team/app@sha256:" + strings.Repeat("a", 64),
	"example.io/team/app:v1@sha256:" + strings.Repeat("b", 64),
	"[::1]:5000/app", "Example.io/app", "example.io/App", "example.io:5000", "", ":tag", "a//b",
}

func TestNormalizeImageAgreesWithKubelet(t *testing.T) {
	for _, ref := range imageCases {
		t.Run(ref, func(t *testing.T) { compareNormalize(t, ref) })
	}
}

func FuzzNormalizeImage(f *testing.F) {
	for _, ref := range imageCases {
		f.Add(ref)
	}
	f.Fuzz(compareNormalize)
}

func compareNormalize(t *testing.T, ref string) {
	want, _, _, kerr := parsers.ParseImageName(ref)
	got, err := keyring.NormalizeImage(ref)
	if got != want || (err != nil) != (kerr != nil) {
		t.Errorf("keyring.NormalizeImage(%q) = %q, %v; the kubelet's ParseImageName: %q, %v", ref, got, err, want, kerr)
	}
}
