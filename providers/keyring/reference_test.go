package keyring

import (
	"strings"
	"testing"
)

// TestNormalizeImageNames pins what NormalizeImage (github.com/distribution/reference's
// ParseNormalizedNamed, the parser of the kubelet and the runtimes) makes of the grammar's
// corners: the repository the kubelet sends to a plugin, or the parser's error. These were
// the differential cases of the hand-written parser it replaced; the parser answers them all
// as that clone did.
func TestNormalizeImageNames(t *testing.T) {
	const invalid = "invalid reference format"
	hex64 := strings.Repeat("a", 64)
	tests := []struct {
		name, ref string
		want      string // the repository; "" when wantErr
		wantErr   string // a substring of the error
	}{
		{name: "official image", ref: "nginx", want: "docker.io/library/nginx"},
		{name: "official image with tag", ref: "nginx:1.25-alpine", want: "docker.io/library/nginx"},
		{name: "user image", ref: "user/app", want: "docker.io/user/app"},
		{name: "docker.io short", ref: "docker.io/nginx", want: "docker.io/library/nginx"},
		{name: "index.docker.io alias", ref: "index.docker.io/user/app:v1", want: "docker.io/user/app"},
		{name: "index.docker.io official", ref: "index.docker.io/nginx", want: "docker.io/library/nginx"},
		{name: "registry-1.docker.io is another host", ref: "registry-1.docker.io/library/nginx", want: "registry-1.docker.io/library/nginx"},
		{name: "localhost", ref: "localhost/app", want: "localhost/app"},
		{name: "localhost with port", ref: "localhost:5000/app:tag", want: "localhost:5000/app"},
		{name: "host with port", ref: "reg:5000/a/b", want: "reg:5000/a/b"},
		{name: "port only digits", ref: "reg:50a0/a", wantErr: invalid},
		{name: "empty port", ref: "reg:/a", wantErr: invalid},
		{name: "two ports", ref: "reg:1:2/a", wantErr: invalid},
		{name: "uppercase domain kept", ref: "Registry.IO/app", want: "Registry.IO/app"},
		{name: "uppercase single-label domain", ref: "Reg/app", want: "Reg/app"},
		{name: "uppercase path", ref: "reg.io/App", wantErr: "repository name (App) must be lowercase"},
		{name: "uppercase after colon is a tag", ref: "reg.io/a:B", want: "reg.io/a"},
		{name: "uppercase official", ref: "Nginx", wantErr: "repository name (library/Nginx) must be lowercase"},
		{name: "uppercase in tag", ref: "reg.io/app:V1", want: "reg.io/app"},
		{name: "ipv6", ref: "[::1]/app", want: "[::1]/app"},
		{name: "ipv6 with port", ref: "[fe80::1]:5000/app:v1", want: "[fe80::1]:5000/app"},
		{name: "ipv6 empty", ref: "[]/app", wantErr: invalid},
		{name: "ipv6 bad char", ref: "[::g]/app", wantErr: invalid},
		{name: "ipv6 unclosed", ref: "[::1/app", wantErr: invalid},
		{name: "ipv6 junk after", ref: "[::1]x/app", wantErr: invalid},
		{name: "domain label hyphen edge", ref: "-reg.io/app", wantErr: invalid},
		{name: "nul byte", ref: "reg.io/app\x00", wantErr: invalid},
		{name: "non-ASCII", ref: "reg.io/äpp", wantErr: invalid},
		{name: "non-ASCII domain", ref: "rég.io/app", wantErr: invalid},
		{name: "kelvin sign in tag", ref: "reg.io/a:\u212a", wantErr: "repository name must be lowercase"},
		{name: "invalid UTF-8", ref: "reg.io/a\xff", wantErr: "must be lowercase"},
		{name: "invalid UTF-8 in tag", ref: "reg.io/a:\xff", wantErr: invalid},
		{name: "ecr", ref: "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:latest", want: "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app"},
		{name: "gar with digest", ref: "us-central1-docker.pkg.dev/project/repo/image@sha256:" + sixtyFour, want: "us-central1-docker.pkg.dev/project/repo/image"},
		{name: "64 hex digits alone", ref: hex64, wantErr: "cannot specify 64-byte hexadecimal strings"},
		{name: "digest of an unlinked algorithm", ref: "reg.io/a@md5:" + strings.Repeat("0", 32), wantErr: "unsupported digest algorithm"},
		{name: "dot-dot component", ref: "a/../b", wantErr: invalid},
		{name: "separators", ref: "a__b/c---d.e", want: "docker.io/a__b/c---d.e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeImage(tt.ref)
			switch {
			case tt.wantErr == "" && (err != nil || got != tt.want):
				t.Errorf("NormalizeImage(%q) = %q, %v; want %q", tt.ref, got, err, tt.want)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("NormalizeImage(%q) = %q, %v; want an error with %q", tt.ref, got, err, tt.wantErr)
			}
		})
	}
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
