package providers

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testProvider answers every image with one credential for the image's registry, or fails
// with err.
type testProvider struct {
	err      error
	duration *time.Duration
	got      *Request
}

func (p *testProvider) Provide(ctx context.Context, req *Request) (*Response, error) {
	p.got = req
	if p.err != nil {
		return nil, p.err
	}
	host, _, _ := strings.Cut(req.Image, "/")
	resp := &Response{
		CacheKeyType: CacheKeyRegistry,
		Auth:         map[string]AuthConfig{host: {Username: "user", Password: "s3cr3t-password"}},
	}
	if p.duration != nil {
		resp.CacheDuration = CacheFor(*p.duration)
	}
	return resp, nil
}

func testPlugin(p Provider) Plugin {
	return Plugin{
		Name: "test-credential-provider",
		New:  func(context.Context, *slog.Logger) (Provider, error) { return p, nil },
	}
}

func request(apiVersion, image string, extra string) string {
	return fmt.Sprintf(`{"apiVersion":%q,"kind":"CredentialProviderRequest","image":%q%s}`, apiVersion, image, extra)
}

func execute(t *testing.T, p Provider, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Execute(context.Background(), testPlugin(p), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestExecuteFailures(t *testing.T) {
	tests := []struct {
		name     string
		stdin    string
		provider *testProvider
		want     string // in the one stderr line
	}{
		{"malformed JSON", `{"apiVersion":`, &testProvider{}, "malformed JSON"},
		{"not JSON at all", "hello", &testProvider{}, "malformed JSON"},
		{"empty stdin", "", &testProvider{}, "malformed JSON"},
		{"wrong kind", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","image":"r.io/a"}`, &testProvider{}, `wrong kind "CredentialProviderResponse"`},
		{"missing kind", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"r.io/a"}`, &testProvider{}, `wrong kind ""`},
		{"unknown apiVersion", request("credentialprovider.kubelet.k8s.io/v2", "r.io/a", ""), &testProvider{}, `unsupported apiVersion "credentialprovider.kubelet.k8s.io/v2"`},
		{"other group", request("kubelet.config.k8s.io/v1", "r.io/a", ""), &testProvider{}, "unsupported apiVersion"},
		{"empty image", request(APIVersionV1, "", ""), &testProvider{}, "empty image"},
		{"blank image", request(APIVersionV1, "  ", ""), &testProvider{}, "empty image"},
		{"invalid image", request(APIVersionV1, "https://r.io/a", ""), &testProvider{}, "invalid image reference"},
		{"image of the wrong type", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":7}`, &testProvider{}, "malformed JSON"},
		{"oversized input", request(APIVersionV1, "r.io/a", `,"pad":"`+strings.Repeat("x", MaxRequestBytes)+`"`), &testProvider{}, "request too large"},
		{"provider error", request(APIVersionV1, "r.io/a", ""), &testProvider{err: errors.New("registry said no\nsecond line")}, "registry said no; second line"},
		{"invalid cacheKeyType from provider", request(APIVersionV1, "r.io/a", ""), nil, "cacheKeyType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Provider = tt.provider
			if tt.provider == nil {
				p = ProviderFunc(func(context.Context, *Request) (*Response, error) { return &Response{}, nil })
			}
			code, stdout, stderr := execute(t, p, tt.stdin)
			if code == 0 {
				t.Errorf("exit status = 0, want non-zero")
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "test-credential-provider: ") || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr = %q, want one line containing %q", stderr, tt.want)
			}
		})
	}
}

func TestExecuteGolden(t *testing.T) {
	hour := time.Hour
	zero := time.Duration(0)
	tests := []struct {
		name       string
		apiVersion string
		image      string
		extra      string
		duration   *time.Duration
	}{
		{"v1", APIVersionV1, "registry.example.io/team/app", "", &hour},
		{"v1beta1", APIVersionV1beta1, "registry.example.io/team/app", "", &hour},
		{"v1alpha1", APIVersionV1alpha1, "registry.example.io/team/app", "", &hour},
		{"v1-no-duration", APIVersionV1, "registry.example.io:5000/app", "", nil},
		{"v1-do-not-cache", APIVersionV1, "registry.example.io/app", "", &zero},
		{"v1-unknown-field", APIVersionV1, "registry.example.io/app", `,"futureField":{"x":1}`, &hour},
		{"v1-tagged-image", APIVersionV1, "nginx:1.27", "", &hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := execute(t, &testProvider{duration: tt.duration}, request(tt.apiVersion, tt.image, tt.extra))
			if code != 0 {
				t.Fatalf("exit status = %d, stderr %q", code, stderr)
			}
			if stderr != "" {
				t.Errorf("stderr = %q, want a quiet plugin at -v=0", stderr)
			}
			golden := filepath.Join("testdata", "response-"+tt.name+".json")
			if *update {
				if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create): %v", err)
			}
			if diff := cmp.Diff(string(want), stdout); diff != "" {
				t.Errorf("response mismatch (-want +got):\n%s", diff)
			}
			// The kubelet's own checks: same apiVersion, strict decoding, known cacheKeyType.
			resp, err := DecodeResponse([]byte(stdout), tt.apiVersion)
			if err != nil {
				t.Fatalf("DecodeResponse(stdout, %q) = %v", tt.apiVersion, err)
			}
			if (resp.CacheDuration == nil) != (tt.duration == nil) || (tt.duration != nil && resp.CacheDuration.Duration != *tt.duration) {
				t.Errorf("cacheDuration = %v, want %v", resp.CacheDuration, tt.duration)
			}
			for _, other := range APIVersions() {
				if other == tt.apiVersion {
					continue
				}
				if _, err := DecodeResponse([]byte(stdout), other); !errors.Is(err, ErrUnsupportedVersion) {
					t.Errorf("DecodeResponse(stdout, %q) = %v, want ErrUnsupportedVersion: a kubelet on another version rejects it", other, err)
				}
			}
		})
	}
}

func TestServiceAccountFieldsReachProviderOnlyInV1(t *testing.T) {
	extra := `,"serviceAccountToken":"sa-token-value","serviceAccountAnnotations":{"a.example.io/role":"r"}`
	tests := []struct {
		apiVersion string
		wantToken  string
		wantAnn    map[string]string
	}{
		{APIVersionV1, "sa-token-value", map[string]string{"a.example.io/role": "r"}},
		{APIVersionV1beta1, "", nil},
		{APIVersionV1alpha1, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.apiVersion, func(t *testing.T) {
			p := &testProvider{}
			code, _, stderr := execute(t, p, request(tt.apiVersion, "r.io/a", extra), "-v=10")
			if code != 0 {
				t.Fatalf("exit status = %d, stderr %q", code, stderr)
			}
			if p.got.ServiceAccountToken != tt.wantToken || !cmp.Equal(p.got.ServiceAccountAnnotations, tt.wantAnn, cmp.Comparer(func(a, b map[string]string) bool { return fmt.Sprint(a) == fmt.Sprint(b) })) {
				t.Errorf("provider got token %q annotations %v, want %q %v", p.got.ServiceAccountToken, p.got.ServiceAccountAnnotations, tt.wantToken, tt.wantAnn)
			}
			if strings.Contains(stderr, "sa-token-value") || strings.Contains(stderr, "s3cr3t-password") {
				t.Errorf("stderr at -v=10 leaks a secret: %q", stderr)
			}
		})
	}
}

func TestUnknownFieldLoggedAtHighVerbosity(t *testing.T) {
	req := request(APIVersionV1, "r.io/a", `,"futureField":"value-not-logged"`)
	_, _, quiet := execute(t, &testProvider{}, req)
	if quiet != "" {
		t.Errorf("stderr at -v=0 = %q, want nothing", quiet)
	}
	_, _, loud := execute(t, &testProvider{}, req, "-v=4")
	if !strings.Contains(loud, "futureField") || strings.Contains(loud, "value-not-logged") {
		t.Errorf("stderr at -v=4 = %q, want the field name and not its value", loud)
	}
}

func TestExecuteFlags(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"help", []string{"--help"}, 0, "Usage: test-credential-provider", ""},
		{"version", []string{"--version"}, 0, "test-credential-provider dev", ""},
		{"unknown flag", []string{"--nope"}, 1, "", "flag provided but not defined: -nope"},
		{"positional argument", []string{"extra"}, 1, "", `unexpected argument "extra"`},
		{"bad timeout", []string{"--timeout=0s"}, 1, "", "--timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := execute(t, &testProvider{}, request(APIVersionV1, "r.io/a", ""), tt.args...)
			if code != tt.wantCode || !strings.Contains(stdout, tt.wantStdout) || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("Execute(%v) = %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, stdout, stderr, tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
			if tt.wantCode != 0 && stdout != "" {
				t.Errorf("stdout = %q on failure, want nothing", stdout)
			}
		})
	}
}

func TestExecuteTimeout(t *testing.T) {
	slow := ProviderFunc(func(ctx context.Context, _ *Request) (*Response, error) {
		<-ctx.Done()
		return &Response{CacheKeyType: CacheKeyRegistry}, nil // a late answer must not be written
	})
	code, stdout, stderr := execute(t, slow, request(APIVersionV1, "r.io/a", ""), "--timeout=10ms")
	if code == 0 || stdout != "" || !strings.Contains(stderr, "no answer within the deadline") {
		t.Errorf("Execute(--timeout=10ms) = %d, stdout %q, stderr %q; want a deadline error and no answer", code, stdout, stderr)
	}
}

func TestExecuteNewFails(t *testing.T) {
	p := Plugin{Name: "x", New: func(context.Context, *slog.Logger) (Provider, error) { return nil, errors.New("bad flags") }}
	var out, errOut bytes.Buffer
	if code := Execute(context.Background(), p, nil, strings.NewReader(""), &out, &errOut); code == 0 || out.Len() != 0 || errOut.String() != "x: bad flags\n" {
		t.Errorf("Execute = %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

func TestRunWithoutDeadlineGetsDefault(t *testing.T) {
	var deadline time.Time
	p := ProviderFunc(func(ctx context.Context, _ *Request) (*Response, error) {
		deadline, _ = ctx.Deadline()
		return &Response{CacheKeyType: CacheKeyImage}, nil
	})
	var out bytes.Buffer
	if err := Run(context.Background(), strings.NewReader(request(APIVersionV1, "r.io/a", "")), &out, p); err != nil {
		t.Fatal(err)
	}
	if left := time.Until(deadline); left <= 0 || left > DefaultTimeout {
		t.Errorf("provider deadline in %v, want within DefaultTimeout (%v)", left, DefaultTimeout)
	}
}

func ExampleRun() {
	p := ProviderFunc(func(ctx context.Context, req *Request) (*Response, error) {
		return &Response{
			CacheKeyType:  CacheKeyRegistry,
			CacheDuration: CacheFor(10 * time.Minute),
			Auth:          map[string]AuthConfig{"registry.example.io": {Username: "demo", Password: "demo-password"}},
		}, nil
	})
	in := strings.NewReader(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"registry.example.io/app"}`)
	if err := Run(context.Background(), in, os.Stdout, p); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1","cacheKeyType":"Registry","cacheDuration":"10m0s","auth":{"registry.example.io":{"username":"demo","password":"demo-password"}}}
}

func TestErrorsNeverQuoteTheRequest(t *testing.T) {
	tests := []struct{ name, stdin string }{
		{"bad escape in token", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"r.io/a","serviceAccountToken":"SECRET\qTOKEN"}`},
		{"number where a string goes", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"r.io/a","serviceAccountToken":98765}`},
		{"truncated token", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","serviceAccountToken":"SECRETTOKEN`},
		{"object where a map of strings goes", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"r.io/a","serviceAccountAnnotations":{"k":{"SECRET":1}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := execute(t, &testProvider{}, tt.stdin, "-v=10")
			if code == 0 || stdout != "" {
				t.Fatalf("Execute = %d, stdout %q; want a failure", code, stdout)
			}
			for _, secret := range []string{"SECRET", "98765", "'q'", "TOKEN"} {
				if strings.Contains(stderr, secret) {
					t.Errorf("stderr %q quotes the request (%q)", stderr, secret)
				}
			}
		})
	}
}

func TestNegativeCacheDuration(t *testing.T) {
	resp := &Response{CacheKeyType: CacheKeyImage}
	resp.CacheDuration = CacheFor(time.Hour)
	resp.CacheDuration.Duration = -time.Minute
	if _, err := EncodeResponse(resp, APIVersionV1); !errors.Is(err, ErrInvalidResponse) {
		t.Errorf("EncodeResponse(negative cacheDuration) = %v, want ErrInvalidResponse", err)
	}
	// The kubelet decodes such an answer and uses it (the entry is born expired): so do we.
	data := []byte(`{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1","cacheKeyType":"Image","cacheDuration":"-1m0s"}`)
	if _, err := DecodeResponse(data, APIVersionV1); err != nil {
		t.Errorf("DecodeResponse(negative cacheDuration) = %v, want it accepted as the kubelet does", err)
	}
}

// TestExecutePeerCommandLines: a plugin that takes positional arguments (a peer's subcommand)
// and ignores a peer's flags answers with flags and arguments in any order, warns once per
// ignored flag, and refuses what its Args refuses.
func TestExecutePeerCommandLines(t *testing.T) {
	var gotArgs []string
	plugin := testPlugin(&testProvider{})
	plugin.Args = func(args []string, _ *slog.Logger) error {
		gotArgs = args
		if args[0] != "get-credentials" {
			return fmt.Errorf("unknown command %q", args[0])
		}
		return nil
	}
	plugin.Ignored = []IgnoredFlag{{Name: "peer-flag", Why: "it means nothing here"}, {Name: "peer-bool", Bool: true, Why: "neither does this"}}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantArgs   []string
		wantStderr []string // each a line of stderr, in order
	}{
		{name: "subcommand then a flag", args: []string{"get-credentials", "--v=0"}, wantArgs: []string{"get-credentials"}},
		{name: "flag then subcommand", args: []string{"--timeout=5s", "get-credentials"}, wantArgs: []string{"get-credentials"}},
		{name: "ignored flags warn", args: []string{"get-credentials", "--peer-flag=x", "--peer-bool"}, wantArgs: []string{"get-credentials"},
			wantStderr: []string{`level=WARN msg="flag --peer-flag ignored: it means nothing here" flag=peer-flag`, `level=WARN msg="flag --peer-bool ignored: neither does this" flag=peer-bool`}},
		{name: "after --, a flag is an argument", args: []string{"get-credentials", "--", "--v=3"}, wantArgs: []string{"get-credentials", "--v=3"}},
		{name: "refused argument", args: []string{"list"}, wantCode: 1, wantArgs: []string{"list"},
			wantStderr: []string{`test-credential-provider: unknown command "list"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotArgs = nil
			var out, errOut bytes.Buffer
			code := Execute(context.Background(), plugin, tt.args, strings.NewReader(request(APIVersionV1, "r.io/a", "")), &out, &errOut)
			if code != tt.wantCode {
				t.Fatalf("Execute(%q) = %d, want %d; stderr %q", tt.args, code, tt.wantCode, errOut.String())
			}
			if diff := cmp.Diff(tt.wantArgs, gotArgs); diff != "" {
				t.Errorf("Execute(%q) positional arguments (-want +got):\n%s", tt.args, diff)
			}
			var lines []string
			if s := strings.TrimSpace(errOut.String()); s != "" {
				lines = strings.Split(s, "\n")
			}
			if diff := cmp.Diff(tt.wantStderr, lines); diff != "" {
				t.Errorf("Execute(%q) stderr (-want +got):\n%s", tt.args, diff)
			}
			if (code == 0) != (out.Len() > 0) {
				t.Errorf("Execute(%q) = %d with stdout %q", tt.args, code, out.String())
			}
		})
	}
}
