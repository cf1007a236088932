package kubelet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	configv1 "k8s.io/kubelet/config/v1"

	"github.com/pullkeys/pullkeys/internal/plugintest"
	"github.com/pullkeys/pullkeys/providers"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// runCheck checks images against an in-memory config of provs.
func runCheck(t *testing.T, bin string, opts CheckOptions, provs ...Provider) *Report {
	t.Helper()
	for i := range provs {
		provs[i].Index = i
	}
	opts.Config = &Config{Path: "test.yaml", Files: []string{"test.yaml"}, Providers: provs}
	opts.BinDir = bin
	if opts.Now == nil {
		opts.Now = fakeClock()
	}
	r, err := Check(context.Background(), opts)
	if err != nil {
		t.Fatalf("Check(%v) error = %v", opts.Images, err)
	}
	return r
}

// credentials summarises an image's credentials as "key user password provider".
func credentials(img ImageReport) []string {
	var out []string
	for _, c := range img.Credentials {
		out = append(out, strings.Join([]string{c.Key, c.Username, c.Password, c.Provider}, " "))
	}
	return out
}

func TestCheckMatching(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "ok", "fail")
	r := runCheck(t, bin, CheckOptions{Images: []string{"nginx:1.2", "example.io:5000/team/app@sha256:" + strings.Repeat("a", 64)}},
		prov("ok", providers.APIVersionV1, []string{"docker.io", "*.example.io:5000/team"}, "--auth=docker.io=hub-user:hub-password-123"),
		prov("fail", providers.APIVersionV1, []string{"*.gcr.io", "example.io/team"}),
	)
	if r.OK() != true {
		t.Errorf("Check().OK() = false, want true: %+v", r)
	}
	hub := r.Images[0]
	if got, want := hub.Normalized, "docker.io/library/nginx"; got != want {
		t.Errorf("Check(nginx:1.2) normalized = %q, want %q", got, want)
	}
	if diff := cmp.Diff([]string{"docker.io hub-user ********(16 chars) fakeplugin-ok"}, credentials(hub)); diff != "" {
		t.Errorf("Check(nginx:1.2) credentials (-want +got):\n%s", diff)
	}
	wantSkip := []PatternResult{
		{Pattern: "*.gcr.io", Reason: "label count", Detail: `pattern host "*.gcr.io" has 3 label(s), image host "docker.io" has 2: a '*' matches within one label, never across a '.'`},
		{Pattern: "example.io/team", Reason: "path", Detail: `image path "/library/nginx" does not start with pattern path "/team"; also host: host label 1: "docker" does not match "example"`},
	}
	if got := hub.Providers[1]; got.Matched || got.Exec != nil {
		t.Errorf("Check(nginx:1.2) provider fail = matched %v, exec %v; want neither", got.Matched, got.Exec)
	}
	if diff := cmp.Diff(wantSkip, hub.Providers[1].MatchImages); diff != "" {
		t.Errorf("Check(nginx:1.2) why fail does not match (-want +got):\n%s", diff)
	}

	// The second image: the first provider's pattern has a label more than the image, the
	// second has no port.
	other := r.Images[1]
	if got, want := other.Normalized, "example.io:5000/team/app"; got != want {
		t.Errorf("Check(example.io:5000/…) normalized = %q, want %q", got, want)
	}
	want := [][]PatternResult{
		{
			{Pattern: "docker.io", Reason: "port", Detail: `pattern port none, image port "5000": ports must be equal, a pattern without a port never matches an image with one; also host: host label 1: "example" does not match "docker"`},
			{Pattern: "*.example.io:5000/team", Reason: "label count", Detail: `pattern host "*.example.io" has 3 label(s), image host "example.io" has 2: a '*' matches within one label, never across a '.'`},
		},
		{
			{Pattern: "*.gcr.io", Reason: "port", Detail: `pattern port none, image port "5000": ports must be equal, a pattern without a port never matches an image with one; also label count: pattern host "*.gcr.io" has 3 label(s), image host "example.io" has 2: a '*' matches within one label, never across a '.'`},
			{Pattern: "example.io/team", Reason: "port", Detail: `pattern port none, image port "5000": ports must be equal, a pattern without a port never matches an image with one`},
		},
	}
	for i, p := range other.Providers {
		if diff := cmp.Diff(want[i], p.MatchImages); diff != "" {
			t.Errorf("Check(example.io:5000/…) provider %s patterns (-want +got):\n%s", p.Name, diff)
		}
	}
	if got, want := other.Status, StatusNoCredentials; got != want {
		t.Errorf("Check(example.io:5000/…) status = %q, want %q", got, want)
	}
}

func TestCheckFailures(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "ok", "fail", "unknown-field", "wrong-version")
	tests := []struct {
		name      string
		provider  Provider
		wantError string
	}{
		{name: "plugin fails", provider: prov("fail", providers.APIVersionV1, []string{"docker.io"}), wantError: "exec fakeplugin-fail: plugin failed: exit status 3"},
		{name: "unknown response field", provider: prov("unknown-field", providers.APIVersionV1, []string{"docker.io"}), wantError: `fakeplugin-unknown-field answer: answer rejected: decode response: invalid response: 1 strict decoding error(s), e.g. unknown field "expiresAt"`},
		{name: "wrong apiVersion", provider: prov("wrong-version", providers.APIVersionV1, []string{"docker.io"}), wantError: `fakeplugin-wrong-version answer: answer rejected: decode response: unsupported apiVersion "credentialprovider.kubelet.k8s.io/v1beta1", expected "credentialprovider.kubelet.k8s.io/v1"`},
		{name: "missing binary", provider: prov("missing", providers.APIVersionV1, []string{"docker.io"}), wantError: "exec fakeplugin-missing: cannot start plugin: no such file or directory"},
		{name: "no auth key matches the image", provider: prov("ok", providers.APIVersionV1, []string{"docker.io"}, "--auth=quay.io=u:p", "--auth=docker.io/other=u:p"),
			wantError: "the answer holds 2 credential(s) but no auth key matches docker.io/library/nginx: the kubelet uses none of them for this image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCheck(t, bin, CheckOptions{Images: []string{"nginx"}}, tt.provider)
			img := r.Images[0]
			if got := img.Providers[0].Error; got != tt.wantError {
				t.Errorf("Check(nginx) provider error = %q, want %q", got, tt.wantError)
			}
			if img.Status != StatusError || r.OK() {
				t.Errorf("Check(nginx) status = %q, OK() = %v; want %q, false", img.Status, r.OK(), StatusError)
			}
			if len(img.Credentials) != 0 {
				t.Errorf("Check(nginx) credentials = %v, want none", img.Credentials)
			}
		})
	}
}

func TestCheckDoesNotRunInvalidNames(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "ok")
	escape := prov("ok", providers.APIVersionV1, []string{"docker.io"})
	escape.Name = "../" + filepath.Base(bin) + "/" + plugintest.Prefix + "ok"
	r := runCheck(t, bin, CheckOptions{Images: []string{"nginx"}}, escape)
	p := r.Images[0].Providers[0]
	if p.Exec != nil || !strings.HasPrefix(p.Error, "not run: the name") {
		t.Errorf("Check(name %q) = exec %v, error %q; want no exec", escape.Name, p.Exec, p.Error)
	}
	if r.OK() {
		t.Errorf("Check(name %q).OK() = true, want false", escape.Name)
	}
}

func TestCheckInvalidImage(t *testing.T) {
	t.Parallel()
	r := runCheck(t, plugintest.BinDir(t), CheckOptions{Images: []string{"a//b"}}, prov("ok", providers.APIVersionV1, []string{"docker.io"}))
	if img := r.Images[0]; img.Status != StatusError || img.Error == "" {
		t.Errorf("Check(a//b) = status %q, error %q; want %q and an error", img.Status, img.Error, StatusError)
	}
}

func TestCheckKubeletOrder(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "ok", "env")
	// Keys in reverse lexical order over all providers: the team's key before the registry's.
	r := runCheck(t, bin, CheckOptions{Images: []string{"quay.io/team/app"}, ShowSecrets: true},
		prov("ok", providers.APIVersionV1, []string{"quay.io"}, "--auth=quay.io=registry-user:pw1", "--auth=https://quay.io/v2/=ignored-dup:pw0"),
		prov("env", providers.APIVersionV1, []string{"quay.io/team"}, "--auth=quay.io/team=team-user:pw2"),
	)
	want := []string{
		"quay.io/team team-user pw2 fakeplugin-env",
		"quay.io ignored-dup pw0 fakeplugin-ok",
		"quay.io registry-user pw1 fakeplugin-ok",
	}
	if diff := cmp.Diff(want, credentials(r.Images[0])); diff != "" {
		t.Errorf("Check(quay.io/team/app) credentials (-want +got):\n%s", diff)
	}
}

func TestCheckDockerHubFallback(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "ok")
	r := runCheck(t, bin, CheckOptions{Images: []string{"nginx"}},
		prov("ok", providers.APIVersionV1, []string{"docker.io"}, "--auth=https://index.docker.io/v1/=hub:pw"))
	img := r.Images[0]
	if diff := cmp.Diff([]string{"index.docker.io hub ********(2 chars) fakeplugin-ok"}, credentials(img)); diff != "" {
		t.Errorf("Check(nginx) credentials (-want +got):\n%s", diff)
	}
	if a := img.Providers[0].Answer.Auth[0]; !a.MatchesImage || a.NormalizedKey != "index.docker.io" {
		t.Errorf("Check(nginx) auth = %+v, want index.docker.io matching the image", a)
	}
}

func TestCheckMasking(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "ok")
	p := prov("ok", providers.APIVersionV1, []string{"docker.io"})
	p.Env = []configv1.ExecEnvVar{{Name: "FAKE_AUTH", Value: "docker.io=user:very-secret-password"}}
	for _, show := range []bool{false, true} {
		r := runCheck(t, bin, CheckOptions{Images: []string{"nginx"}, ShowSecrets: show}, p)
		var text bytes.Buffer
		if err := r.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		js, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		for name, out := range map[string]string{"text": text.String(), "json": string(js)} {
			if got := strings.Contains(out, "very-secret-password"); got != show {
				t.Errorf("Check(ShowSecrets: %v) %s output shows the password: %v, want %v\n%s", show, name, got, show, out)
			}
			if !show && !strings.Contains(out, "********(20 chars)") {
				t.Errorf("Check(ShowSecrets: false) %s output lacks the masked password\n%s", name, out)
			}
		}
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "(empty)"},
		{"p", "********(1 char)"},
		{"pässwörd", "********(8 chars)"},
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheckKubeletCache(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "ok")
	execs := func(r *Report) []string {
		var out []string
		for _, img := range r.Images {
			p := img.Providers[0]
			switch {
			case p.Exec != nil:
				out = append(out, "exec")
			case p.CachedFrom != nil:
				out = append(out, "cached:"+p.CachedFrom.Key)
			default:
				out = append(out, "none")
			}
		}
		return out
	}
	images := []string{"reg.io/a", "reg.io/b", "other.io/c"}
	tests := []struct {
		name      string
		args      []string
		noCache   bool
		want      []string
		wantError string // of the last image
	}{
		{name: "Image key", args: []string{"--cache-key-type=Image", "--auth=*.io=u:p"}, want: []string{"exec", "exec", "exec"}},
		{name: "Registry key", args: []string{"--cache-key-type=Registry", "--auth=*.io=u:p"}, want: []string{"exec", "cached:reg.io", "exec"}},
		{name: "Global key", args: []string{"--cache-key-type=Global", "--auth=*.io=u:p"}, want: []string{"exec", "cached:global", "cached:global"}},
		{
			name: "Global answer reused for a host it does not cover", args: []string{"--cache-key-type=Global", "--auth=reg.io=u:p"},
			want:      []string{"exec", "cached:global", "cached:global"},
			wantError: "the answer holds 1 credential(s) but no auth key matches other.io/c: the kubelet uses none of them for this image (the answer was cached by cacheKeyType Global for reg.io/a and is reused without an exec)",
		},
		{name: "cacheDuration 0s", args: []string{"--cache-key-type=Global", "--cache-duration=0s", "--auth=*.io=u:p"}, want: []string{"exec", "exec", "exec"}},
		{name: "expired", args: []string{"--cache-key-type=Global", "--cache-duration=1ns", "--auth=*.io=u:p"}, want: []string{"exec", "exec", "exec"}},
		{name: "no kubelet cache", args: []string{"--cache-key-type=Global", "--auth=*.io=u:p"}, noCache: true, want: []string{"exec", "exec", "exec"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCheck(t, bin, CheckOptions{Images: images, NoKubeletCache: tt.noCache}, prov("ok", providers.APIVersionV1, []string{"*.io"}, tt.args...))
			if diff := cmp.Diff(tt.want, execs(r)); diff != "" {
				t.Errorf("Check(%v) execs (-want +got):\n%s", images, diff)
			}
			if got := r.Images[2].Providers[0].Error; got != tt.wantError {
				t.Errorf("Check(%v) last error = %q, want %q", images, got, tt.wantError)
			}
		})
	}
}

func TestCacheKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		keyType providers.CacheKeyType
		image   string
		want    string
	}{
		{providers.CacheKeyImage, "reg.io:5000/a/b", "reg.io:5000/a/b"},
		{providers.CacheKeyRegistry, "reg.io:5000/a/b", "reg.io:5000"},
		{providers.CacheKeyGlobal, "reg.io:5000/a/b", "global"},
	}
	for _, tt := range tests {
		got, err := CacheKey(tt.keyType, tt.image)
		if err != nil || got != tt.want {
			t.Errorf("CacheKey(%q, %q) = %q, %v; want %q", tt.keyType, tt.image, got, err, tt.want)
		}
	}
	if _, err := CacheKey("Pod", "x"); !errors.Is(err, providers.ErrInvalidResponse) {
		t.Errorf("CacheKey(Pod) error = %v, want %v", err, providers.ErrInvalidResponse)
	}
}

func TestCacheDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		resp *providers.Response
		want time.Duration
	}{
		{name: "absent: defaultCacheDuration", resp: &providers.Response{}, want: time.Hour},
		{name: "set", resp: &providers.Response{CacheDuration: providers.CacheFor(time.Minute)}, want: time.Minute},
		{name: "zero: not cached", resp: &providers.Response{CacheDuration: providers.DoNotCache()}, want: 0},
	}
	for _, tt := range tests {
		if got := CacheDuration(tt.resp, time.Hour); got != tt.want {
			t.Errorf("CacheDuration(%s) = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestCheckServiceAccount(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "ok", "echo-token")
	withToken := func(p Provider, cacheType string, require bool, required, optional []string) Provider {
		p.TokenAttributes = &configv1.ServiceAccountTokenAttributes{
			ServiceAccountTokenAudience:          "registry.example",
			CacheType:                            configv1.ServiceAccountTokenCacheType(cacheType),
			RequireServiceAccount:                &require,
			RequiredServiceAccountAnnotationKeys: required,
			OptionalServiceAccountAnnotationKeys: optional,
		}
		return p
	}
	sa := &ServiceAccount{Token: "sa-token-0123456789", Annotations: map[string]string{"example.com/role": "puller", "example.com/other": "x"}}
	tests := []struct {
		name        string
		provider    Provider
		sa          *ServiceAccount
		wantSkipped string
		wantError   string
		wantCreds   int
	}{
		{
			name:     "no tokenAttributes: token not sent",
			provider: prov("ok", providers.APIVersionV1, []string{"docker.io"}), sa: sa, wantCreds: 1,
		},
		{
			name:        "required service account missing",
			provider:    withToken(prov("ok", providers.APIVersionV1, []string{"docker.io"}), CacheTypeServiceAccount, true, nil, nil),
			wantSkipped: "tokenAttributes.requireServiceAccount is true and the pod has no service account",
		},
		{
			name:      "service account optional and missing",
			provider:  withToken(prov("ok", providers.APIVersionV1, []string{"docker.io"}), CacheTypeServiceAccount, false, nil, nil),
			wantCreds: 1,
		},
		{
			name:        "required annotation missing",
			provider:    withToken(prov("ok", providers.APIVersionV1, []string{"docker.io"}), CacheTypeServiceAccount, true, []string{"example.com/role", "example.com/absent"}, nil),
			sa:          sa,
			wantSkipped: `the service account lacks the required annotation(s) ["example.com/absent"]`,
		},
		{
			name:      "token echoed as password with cacheType ServiceAccount",
			provider:  withToken(prov("echo-token", providers.APIVersionV1, []string{"docker.io"}), CacheTypeServiceAccount, true, nil, nil),
			sa:        sa,
			wantError: "answer rejected: a password is the service account token itself, which the kubelet refuses unless tokenAttributes.cacheType is Token",
		},
		{
			name:      "token echoed as password with cacheType Token",
			provider:  withToken(prov("echo-token", providers.APIVersionV1, []string{"docker.io"}), CacheTypeToken, true, nil, nil),
			sa:        sa,
			wantCreds: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCheck(t, bin, CheckOptions{Images: []string{"nginx"}, ServiceAccount: tt.sa}, tt.provider)
			img := r.Images[0]
			p := img.Providers[0]
			if !strings.HasPrefix(p.Skipped, tt.wantSkipped) || (tt.wantSkipped == "") != (p.Skipped == "") {
				t.Errorf("Check(nginx) skipped = %q, want prefix %q", p.Skipped, tt.wantSkipped)
			}
			if p.Error != tt.wantError {
				t.Errorf("Check(nginx) error = %q, want %q", p.Error, tt.wantError)
			}
			if len(img.Credentials) != tt.wantCreds {
				t.Errorf("Check(nginx) credentials = %v, want %d", img.Credentials, tt.wantCreds)
			}
			js, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(js, []byte("sa-token-0123456789")) {
				t.Errorf("Check(nginx) report shows the service account token: %s", js)
			}
		})
	}
}

func TestBuildRequestAnnotations(t *testing.T) {
	t.Parallel()
	require := true
	p := prov("ok", providers.APIVersionV1, []string{"*"})
	p.TokenAttributes = &configv1.ServiceAccountTokenAttributes{
		ServiceAccountTokenAudience:          "aud",
		CacheType:                            configv1.TokenServiceAccountTokenCacheType,
		RequireServiceAccount:                &require,
		RequiredServiceAccountAnnotationKeys: []string{"a"},
		OptionalServiceAccountAnnotationKeys: []string{"b", "c"},
	}
	req, skip := BuildRequest(p, "x.io/y", &ServiceAccount{Token: "t", Annotations: map[string]string{"a": "1", "b": "2", "unlisted": "3"}})
	if skip != "" {
		t.Fatalf("BuildRequest() skip = %q, want none", skip)
	}
	want := &providers.Request{Image: "x.io/y", ServiceAccountToken: "t", ServiceAccountAnnotations: map[string]string{"a": "1", "b": "2"}}
	if diff := cmp.Diff(want, req); diff != "" {
		t.Errorf("BuildRequest() (-want +got):\n%s", diff)
	}
}

func TestCheckLoadsConfigPath(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "ok")
	dir := t.TempDir()
	path := writeFile(t, dir, "c.yaml", header+"providers:\n"+strings.Replace(provider(plugintest.Prefix+"ok"), "*.example.io", "docker.io", 1)+provider("missing"))
	r, err := Check(context.Background(), CheckOptions{ConfigPath: path, BinDir: bin, Images: []string{"nginx"}, Now: fakeClock()})
	if err != nil {
		t.Fatalf("Check(%q) error = %v", path, err)
	}
	if got := len(r.Problems.Errors()); got != 1 || r.OK() {
		t.Errorf("Check(%q) = %d errors, OK() %v; want 1 (missing binary), false", path, got, r.OK())
	}
	if got := r.Images[0].Status; got != StatusOK {
		t.Errorf("Check(%q) status = %q, want %q: the plugins still run", path, got, StatusOK)
	}
	if _, err := Check(context.Background(), CheckOptions{ConfigPath: path, BinDir: bin}); !errors.Is(err, ErrNoImages) {
		t.Errorf("Check(no images) error = %v, want %v", err, ErrNoImages)
	}
}

// TestReportGolden pins the JSON and text output of a report that shows most of what a report
// can hold. Run with -update to rewrite the golden files.
func TestReportGolden(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "ok", "fail", "garbage")
	failing := prov("fail", providers.APIVersionV1beta1, []string{"*.gcr.io", "gcr.io"})
	failing.Env = []configv1.ExecEnvVar{{Name: "FAKE_SECRET", Value: "not-shown-here"}}
	garbage := prov("garbage", providers.APIVersionV1alpha1, []string{"quay.io"})
	ok := prov("ok", providers.APIVersionV1, []string{"docker.io", "*.example.io:5000"}, "--cache-key-type=Registry", "--cache-duration=1h", "--auth=quay.io=q:q")
	ok.Env = []configv1.ExecEnvVar{{Name: "FAKE_AUTH", Value: "docker.io=hub-user:hub-password-123"}}
	ok.DefaultCacheDuration = &metav1.Duration{Duration: 0}
	r := runCheck(t, bin, CheckOptions{Images: []string{"nginx:1.2", "docker.io/x/y", "gcr.io/p/i", "quay.io/q/r:v1"}}, ok, failing, garbage)
	r.Problems = Problems{warnf("test.yaml", "providers[0].matchImages[2]", "Invalid value", `"https://x.io": a warning`)}

	normalise := func(s string) string { return strings.ReplaceAll(s, bin, "BIN") }
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]string{"report.golden.json": normalise(string(js)) + "\n", "report.golden.txt": normalise(text.String())} {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read golden file (run go test -update): %v", err)
		}
		if diff := cmp.Diff(string(want), got); diff != "" {
			t.Errorf("report %s (-want +got):\n%s", name, diff)
		}
	}
}
