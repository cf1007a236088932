package mirror

import (
	"testing"

	"github.com/pullkeys/pullkeys/providers"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"docker.io=111122223333.dkr.ecr.us-east-1.amazonaws.com/docker-hub",
		"registry.k8s.io=mirror.corp.example:5000/k8s/",
		"*.example.com=m.example.org",
		"*.co.uk=m.example.org",
		"=", "docker.io=", "index.docker.io=m.example.org/a/b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Parse(s)
		if err != nil {
			return
		}
		// A mapping round-trips through its flag form.
		again, err := Parse(m.String())
		if err != nil || again != m {
			t.Fatalf("Parse(%q) = %+v; Parse(%q) = %+v, %v", s, m, m.String(), again, err)
		}
		if providers.CheckWildcardScope(m.Upstream) != nil {
			t.Fatalf("Parse(%q) accepted %q, whose wildcard covers a public suffix", s, m.Upstream)
		}
	})
}

func FuzzParseHostsFile(f *testing.F) {
	f.Add([]byte(safeECR))
	f.Add([]byte("[host.\"https://m\"]\ncapabilities = [\"pull\"]\n[host.\"https://m\".header]\nx = \"1\"\n"))
	f.Add([]byte("server = \"m\"\nhost.\"https://a\".capabilities = [\"resolve\"]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tried, err := ParseHostsFile("docker.io", b)
		if err != nil {
			return
		}
		for i, h := range tried {
			if h.Host == "" || len(h.Capabilities) == 0 {
				t.Fatalf("host %d of %q: %+v", i, b, h)
			}
			if h.Fallback && i != len(tried)-1 {
				t.Fatalf("host %d of %d is a fallback, but not the last", i, len(tried))
			}
		}
	})
}
