package keyring

import (
	_ "crypto/sha256" // go-digest accepts the algorithms whose hashes are linked
	_ "crypto/sha512"
	"strings"
	"testing"

	"github.com/distribution/reference"
)

// distributionName is what NormalizeImage returned when it called the distribution reference
// parser: the name, or the error text.
func distributionName(ref string) (string, string) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err.Error()
	}
	return named.Name(), ""
}

func ourName(ref string) (string, string) {
	name, err := parseNormalizedName(ref)
	if err != nil {
		return "", err.Error()
	}
	return name, ""
}

// TestParseNormalizedNameMatchesDistribution pins parseNormalizedName to
// reference.ParseNormalizedNamed on the grammar's corners: same name, same error text.
func TestParseNormalizedNameMatchesDistribution(t *testing.T) {
	hex64 := strings.Repeat("a", 64)
	tests := []struct{ name, ref string }{
		{"official image", "nginx"},
		{"official image with tag", "nginx:1.25-alpine"},
		{"user image", "user/app"},
		{"docker.io short", "docker.io/nginx"},
		{"index.docker.io alias", "index.docker.io/user/app:v1"},
		{"index.docker.io official", "index.docker.io/nginx"},
		{"registry-1.docker.io", "registry-1.docker.io/library/nginx"},
		{"localhost", "localhost/app"},
		{"localhost with port", "localhost:5000/app:tag"},
		{"host with port", "reg:5000/a/b"},
		{"port only digits", "reg:50a0/a"},
		{"empty port", "reg:/a"},
		{"two ports", "reg:1:2/a"},
		{"uppercase domain", "Registry.IO/app"},
		{"uppercase single-label domain", "Reg/app"},
		{"uppercase path", "reg.io/App"},
		{"uppercase after colon in path", "reg.io/a:B"},
		{"uppercase official", "Nginx"},
		{"uppercase in tag", "reg.io/app:V1"},
		{"ipv6", "[::1]/app"},
		{"ipv6 with port", "[fe80::1]:5000/app:v1"},
		{"ipv6 empty", "[]/app"},
		{"ipv6 bad char", "[::g]/app"},
		{"ipv6 unclosed", "[::1/app"},
		{"ipv6 junk after", "[::1]x/app"},
		{"domain label hyphen edge", "-reg.io/app"},
		{"domain label hyphen end", "reg-.io/app"},
		{"domain empty label", "reg..io/app"},
		{"domain trailing dot", "reg.io./app"},
		{"separator dot", "reg.io/a.b"},
		{"separator double underscore", "reg.io/a__b"},
		{"separator triple underscore", "reg.io/a___b"},
		{"separator dashes", "reg.io/a---b"},
		{"separator mixed", "reg.io/a_.b"},
		{"separator at end", "reg.io/a-"},
		{"separator at start", "reg.io/-a"},
		{"empty component", "reg.io/a//b"},
		{"trailing slash", "reg.io/a/"},
		{"only domain", "reg.io"},
		{"only domain with slash", "reg.io/"},
		{"tag max length", "reg.io/a:" + strings.Repeat("t", 128)},
		{"tag too long", "reg.io/a:" + strings.Repeat("t", 129)},
		{"tag starts with dot", "reg.io/a:.t"},
		{"tag with dash", "reg.io/a:_t-1.2"},
		{"empty tag", "reg.io/a:"},
		{"tag with slash", "reg.io/a:b/c"},
		{"sha256 digest", "reg.io/a@sha256:" + sixtyFour},
		{"tag and digest", "reg.io/a:v1@sha256:" + sixtyFour},
		{"sha384 digest", "reg.io/a@sha384:" + strings.Repeat("b", 96)},
		{"sha512 digest", "reg.io/a@sha512:" + strings.Repeat("c", 128)},
		{"digest wrong length", "reg.io/a@sha256:" + strings.Repeat("a", 32)},
		{"digest uppercase hex", "reg.io/a@sha256:" + strings.ToUpper(sixtyFour)},
		{"digest unknown algorithm", "reg.io/a@md5:" + strings.Repeat("a", 32)},
		{"digest unknown uppercase algorithm", "reg.io/a@MD5:" + strings.Repeat("a", 32)},
		{"digest algorithm with separator", "reg.io/a@sha256+b64u:" + strings.Repeat("a", 40)},
		{"digest algorithm separator then digit", "reg.io/a@sha.1:" + strings.Repeat("a", 40)},
		{"digest too short", "reg.io/a@sha256:" + strings.Repeat("a", 31)},
		{"digest not hex", "reg.io/a@sha256:" + strings.Repeat("g", 64)},
		{"digest without algorithm", "reg.io/a@:" + sixtyFour},
		{"two at signs", "reg.io/a@sha256:" + sixtyFour + "@sha256:" + sixtyFour},
		{"digest only", "@sha256:" + sixtyFour},
		{"identifier", hex64},
		{"identifier uppercase", strings.ToUpper(hex64)},
		{"identifier with domain", "reg.io/" + hex64},
		{"path of 255", "reg.io/" + strings.Repeat("a", 255)},
		{"path of 256", "reg.io/" + strings.Repeat("a", 256)},
		{"long official", strings.Repeat("a", 250)},
		{"empty", ""},
		{"slash", "/"},
		{"colon", ":"},
		{"at", "@"},
		{"scheme", "https://reg.io/app"},
		{"userinfo", "user:pass@reg.io/app"},
		{"whitespace", "reg.io/ app"},
		{"dot dot", "reg.io/../app"},
		{"nul byte", "reg.io/app\x00"},
		{"non-ASCII", "reg.io/äpp"},
		{"non-ASCII domain", "rég.io/app"},
		{"kelvin sign in tag", "reg.io/a:\u212a"},
		{"invalid UTF-8", "reg.io/a\xff"},
		{"invalid UTF-8 in tag", "reg.io/a:\xff"},
		{"ecr", "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:latest"},
		{"gar", "us-central1-docker.pkg.dev/project/repo/image@sha256:" + sixtyFour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, wantErr := distributionName(tt.ref)
			got, gotErr := ourName(tt.ref)
			if got != want || gotErr != wantErr {
				t.Errorf("parseNormalizedName(%q) = %q, error %q; reference.ParseNormalizedNamed: %q, error %q", tt.ref, got, gotErr, want, wantErr)
			}
		})
	}
}

func FuzzParseNormalizedName(f *testing.F) {
	for _, s := range []string{
		"nginx", "nginx:1.2", "reg:5000/a/b@sha256:" + sixtyFour, "index.docker.io/x/y", "", "a/../b",
		"[::1]:5000/a:b", "A/b", "a__b/c---d.e", "reg.io/a@md5:" + strings.Repeat("0", 32), strings.Repeat("f", 64),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		want, wantErr := distributionName(ref)
		got, gotErr := ourName(ref)
		if got != want || gotErr != wantErr {
			t.Fatalf("parseNormalizedName(%q) = %q, error %q; reference.ParseNormalizedNamed: %q, error %q", ref, got, gotErr, want, wantErr)
		}
	})
}

var benchRefs = []string{"nginx:1.25", "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app@sha256:" + sixtyFour}

func BenchmarkNormalizeImage(b *testing.B) {
	for _, ref := range benchRefs {
		b.Run(ref[:5], func(b *testing.B) {
			for b.Loop() {
				if _, err := NormalizeImage(ref); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDistributionReference is what NormalizeImage cost per call with the regular
// expressions of github.com/distribution/reference (which also cost their compilation, once
// per process, before main).
func BenchmarkDistributionReference(b *testing.B) {
	for _, ref := range benchRefs {
		b.Run(ref[:5], func(b *testing.B) {
			for b.Loop() {
				if _, err := reference.ParseNormalizedNamed(ref); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
