package keyring

import (
	"strings"
	"testing"
)

func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"*.kubernetes.io", "prefix.kubernetes.io"},
		{"example.io/team", "example.io/teamx/app"},
		{"registry.io:5000", "registry.io:5000/app"},
		{"[a-", "a"},
		{"registr?.io", "registry.io"},
		{"%zz", "x"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, image string) {
		ok, err := Match(pattern, image)
		if err != nil && ok {
			t.Fatalf("Match(%q, %q) = true with error %v", pattern, image, err)
		}
		why, explainErr := Explain(pattern, image)
		if (explainErr == nil) != (err == nil) || (err == nil && ok != (why == "")) {
			t.Fatalf("Explain(%q, %q) = %q, %v disagrees with Match = %v, %v", pattern, image, why, explainErr, ok, err)
		}
		// A pattern without glob characters matches itself whenever it parses.
		if !strings.ContainsAny(pattern, "*?[\\") {
			if self, err := Match(pattern, pattern); err == nil && !self {
				t.Fatalf("Match(%q, %q) = false, want a pattern without wildcards to match itself", pattern, pattern)
			}
		}
	})
}

func FuzzNormalizeImage(f *testing.F) {
	for _, s := range []string{"nginx", "nginx:1.2", "reg:5000/a/b@sha256:" + sixtyFour, "index.docker.io/x/y", "", "a/../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		image, err := NormalizeImage(ref)
		if err != nil {
			return
		}
		// Normalising is idempotent, and what the kubelet would send matches its own registry.
		again, err := NormalizeImage(image)
		if err != nil || again != image {
			t.Fatalf("NormalizeImage(%q) = %q, %v, want %q (idempotent)", image, again, err, image)
		}
		if ok, err := Match(Registry(image), image); err == nil && !ok {
			t.Fatalf("Match(%q, %q) = false, want the registry to match its image", Registry(image), image)
		}
	})
}
