//go:build linux

package security

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/providers"
)

// maxRSS bounds the peak resident memory of a binary fed hostile input (measured by
// testdata/rssrun). A healthy run takes about 15 MiB; reading a whole 100 MiB stdin, or
// building a deep tree, would not fit.
const maxRSS = 64 << 20

// repeatReader is an endless stream of one byte.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// hostileRequest is one stdin every binary must refuse.
type hostileRequest struct {
	name  string
	stdin func() io.Reader
	want  string // in the error line
}

func text(s string) func() io.Reader { return func() io.Reader { return strings.NewReader(s) } }

func image(img string) func() io.Reader {
	return text(request(providers.APIVersionV1, img, "", nil))
}

const v1Prefix = `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest",`

var hostileRequests = []hostileRequest{
	{name: "not JSON", stdin: text("hello, plugin"), want: "malformed JSON"},
	{name: "empty stdin", stdin: text(""), want: "malformed JSON"},
	{name: "a JSON array", stdin: text("[]"), want: "malformed JSON"},
	{name: "deeply nested JSON", stdin: text(strings.Repeat("[", 100_000)), want: "malformed JSON"},
	{name: "deeply nested JSON inside a request",
		stdin: text(v1Prefix + `"image":"gcr.io/p/app","x":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "}"),
		want:  "malformed JSON"},
	{name: "100 MiB on stdin, streamed", stdin: func() io.Reader {
		return io.MultiReader(strings.NewReader(v1Prefix+`"image":"gcr.io/p/`), io.LimitReader(repeatReader('a'), 100<<20), strings.NewReader(`"}`))
	}, want: "request too large"},
	{name: "NUL bytes around the JSON", stdin: text("\x00" + request(providers.APIVersionV1, "gcr.io/p/app", "", nil) + "\x00"), want: "malformed JSON"},
	{name: "NUL byte in the image", stdin: image("gcr.io/p/app\x00"), want: "invalid image reference"},
	{name: "invalid UTF-8 in the image", stdin: text(v1Prefix + "\"image\":\"gcr.io/p/\xff\xfe\"}"), want: "invalid image reference"},
	{name: "unicode lookalike host (Cyrillic i in gcr.io)", stdin: image("gcr.\u0456o/p/app"), want: "invalid image reference"},
	{name: "unicode lookalike host (fullwidth digits)", stdin: image("\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10\uff11\uff12.dkr.ecr.us-east-1.amazonaws.com/app"), want: "invalid image reference"},
	{name: "very long image", stdin: image("gcr.io/p/" + strings.Repeat("a", 300_000)), want: "invalid image reference"},
	{name: "image with userinfo", stdin: image("user:pass@gcr.io/p/app"), want: "invalid image reference"},
	{name: "image with a scheme", stdin: image("https://gcr.io/p/app"), want: "invalid image reference"},
	{name: "image with an empty port", stdin: image("gcr.io:/p/app"), want: "invalid image reference"},
	{name: "image with a port that is not a number", stdin: image("gcr.io:https/p/app"), want: "invalid image reference"},
	{name: "image with ..", stdin: image("gcr.io/p/../../app"), want: "invalid image reference"},
	{name: "image with leading white space", stdin: image(" gcr.io/p/app"), want: "invalid image reference"},
	{name: "image with a newline", stdin: image("gcr.io/p/app\nregistry.example.io/x"), want: "invalid image reference"},
	{name: "image of white space only", stdin: image(" \t\n"), want: "empty image"},
	{name: "image of the wrong type", stdin: text(v1Prefix + `"image":["gcr.io/p/app"]}`), want: "malformed JSON"},
	{name: "unknown apiVersion", stdin: text(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v9","kind":"CredentialProviderRequest","image":"gcr.io/p/app"}`), want: "unsupported apiVersion"},
}

// TestHostileRequests_EveryBinary_OneErrorLineNoPanicNoStdoutBoundedMemory feeds every binary
// requests no kubelet sends: each must exit non-zero with one line on stderr, write nothing on
// stdout, not panic, and stay within maxRSS (stdin is read up to 1 MiB and no further).
func TestHostileRequests_EveryBinary_OneErrorLineNoPanicNoStdoutBoundedMemory(t *testing.T) {
	f := startFakes(t)
	for _, p := range allPlugins(t, f) {
		t.Run(p.name, func(t *testing.T) {
			for _, tt := range hostileRequests {
				t.Run(tt.name, func(t *testing.T) {
					o := run(t, binary(t, p.name), proc{args: p.args, env: p.env.list(), stdin: tt.stdin(), rss: true})
					failure(t, fmt.Sprintf("%s < %s", p.name, tt.name), p.name, o, tt.want)
					t.Logf("peak RSS %.1f MiB", float64(o.maxRSS)/(1<<20))
					if o.maxRSS > maxRSS {
						t.Errorf("%s < %s: peak RSS %d MiB, want at most %d MiB", p.name, tt.name, o.maxRSS>>20, maxRSS>>20)
					}
					if len(o.stderr) > 1024 {
						t.Errorf("%s < %s: error line of %d bytes, want a short one", p.name, tt.name, len(o.stderr))
					}
				})
			}
		})
	}
	if n := len(f.ecr.Requests("")); n != 0 {
		t.Errorf("the ECR fake saw %d calls for hostile requests, want 0", n)
	}
	if n := f.md.TotalCalls(); n != 0 {
		t.Errorf("the metadata fake saw %d calls for hostile requests, want 0", n)
	}
}

// TestHostileRequests_ImageWithUserinfo_PasswordNotQuoted: an image typed with userinfo
// ("user:password@registry/app") is refused; the error line should not repeat the password.
// The kubelet never sends such an image (it fails to parse before any plugin runs), so only a
// person running a plugin by hand can hit this.
func TestHostileRequests_ImageWithUserinfo_PasswordNotQuoted(t *testing.T) {
	const password = "typed-password-in-an-image"
	for _, p := range allPlugins(t, nil) {
		for _, img := range []string{"user:" + password + "@gcr.io/p/app", "https://user:" + password + "@gcr.io/p/app",
			// A password may hold "/": the userinfo is not cut at the first one (issue 20, 4.5).
			"robot:" + password + "/more@gcr.io/p/app", "robot:x/" + password + "@gcr.io/p/app"} {
			o := p.run(t, request(providers.APIVersionV1, img, "", nil))
			failure(t, p.name+" < "+img, p.name, o, "invalid image reference")
			if strings.Contains(o.stderr, password) {
				t.Errorf("%s quotes the userinfo of a refused image: %q", p.name, o.stderr)
			}
		}
	}
}
