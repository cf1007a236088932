package dockercfg

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/providers"
)

func request(apiVersion, image string) string {
	return `{"apiVersion":"` + apiVersion + `","kind":"CredentialProviderRequest","image":"` + image + `"}`
}

// execute runs the binary's code as the kubelet would, with the search directories of base.
func execute(t *testing.T, base Options, args []string, stdin string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = providers.Execute(context.Background(), plugin(base), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// isolated returns Options whose search directories are empty temporary directories, and
// points $HOME at another, so that no test reads the real /var/lib/kubelet, $HOME or /.
func isolated(t *testing.T) (Options, searchDirs) {
	t.Helper()
	d := newSearchDirs(t)
	t.Setenv("HOME", d.home)
	return Options{WorkingDir: d.wd, HomeDir: d.home, SystemRoot: d.root}, d
}

func TestExecuteEveryAPIVersion(t *testing.T) {
	base, d := isolated(t)
	demo := writeFile(t, t.TempDir(), "config.json", readFixture(t, "demo/config.json"), 0o600)
	pathCfg := writeFile(t, t.TempDir(), "paths.json", []byte(`{"auths":{"paths.example.io/team":{"username":"team-user","password":"team-pass"}}}`), 0o600)
	writeFile(t, d.kubelet, "config.json", []byte(`{"auths":{"searched.example.io":{"auth":"c2VhcmNoZWQ6c2VhcmNoZWQtcGFzcw"}}}`), 0o600)
	demoCreds := providers.AuthConfig{Username: "demo-user", Password: "demo-password-not-a-secret"}
	tests := []struct {
		name     string
		args     []string
		image    string
		wantType providers.CacheKeyType
		wantDur  time.Duration
		want     map[string]providers.AuthConfig
	}{
		{name: "demo image", args: []string{"--config", demo}, image: "registry.example.io/team/app",
			wantType: providers.CacheKeyRegistry, wantDur: DefaultCacheDuration,
			want: map[string]providers.AuthConfig{"registry.example.io": demoCreds}},
		{name: "tag and digest as a person types them", args: []string{"--config=" + demo}, image: "registry.example.io/team/app:1.2@sha256:" + strings.Repeat("a", 64),
			wantType: providers.CacheKeyRegistry, wantDur: DefaultCacheDuration,
			want: map[string]providers.AuthConfig{"registry.example.io": demoCreds}},
		{name: "glob entry", args: []string{"--config", demo, "--cache-duration=1h"}, image: "build.corp.example.io/app",
			wantType: providers.CacheKeyRegistry, wantDur: time.Hour,
			want: map[string]providers.AuthConfig{"*.corp.example.io": {Username: "demo-corp-user", Password: "demo-corp-password-not-a-secret"}}},
		{name: "no match: empty auth, exit 0", args: []string{"--config", demo}, image: "nginx",
			wantType: providers.CacheKeyRegistry, wantDur: DefaultCacheDuration},
		{name: "do not cache", args: []string{"--config", demo, "--cache-duration=0"}, image: "registry.example.io/app",
			wantType: providers.CacheKeyRegistry, wantDur: 0,
			want: map[string]providers.AuthConfig{"registry.example.io": demoCreds}},
		{name: "path key: cached per image", args: []string{"--config", pathCfg, "--config", demo}, image: "paths.example.io/team/app",
			wantType: providers.CacheKeyImage, wantDur: DefaultCacheDuration,
			want: map[string]providers.AuthConfig{"paths.example.io/team": {Username: "team-user", Password: "team-pass"}}},
		{name: "search from the kubelet root dir", args: []string{"--kubelet-root-dir", d.kubelet}, image: "searched.example.io/app",
			wantType: providers.CacheKeyRegistry, wantDur: DefaultCacheDuration,
			want: map[string]providers.AuthConfig{"searched.example.io": {Username: "searched", Password: "searched-pass"}}},
	}
	for _, apiVersion := range providers.APIVersions() {
		for _, tt := range tests {
			t.Run(apiVersion+"/"+tt.name, func(t *testing.T) {
				code, stdout, stderr := execute(t, base, tt.args, request(apiVersion, tt.image))
				if code != 0 {
					t.Fatalf("Execute(%q) = %d, stderr %q", tt.args, code, stderr)
				}
				if stderr != "" {
					t.Errorf("Execute(%q) stderr = %q, want silence at -v=0", tt.args, stderr)
				}
				resp, err := providers.DecodeResponse([]byte(stdout), apiVersion)
				if err != nil {
					t.Fatalf("DecodeResponse(%q): %v", stdout, err)
				}
				if resp.CacheKeyType != tt.wantType || resp.CacheDuration == nil || resp.CacheDuration.Duration != tt.wantDur {
					t.Errorf("Execute(%q) cacheKeyType %v cacheDuration %v, want %v %v", tt.args, resp.CacheKeyType, resp.CacheDuration, tt.wantType, tt.wantDur)
				}
				if diff := cmp.Diff(tt.want, resp.Auth, cmpEmptyMaps); diff != "" {
					t.Errorf("Execute(%q) auth (-want +got):\n%s", tt.args, diff)
				}
			})
		}
	}
}

var cmpEmptyMaps = cmp.FilterValues(func(a, b map[string]providers.AuthConfig) bool {
	return len(a) == 0 && len(b) == 0
}, cmp.Ignore())

func TestExecuteFailures(t *testing.T) {
	base, _ := isolated(t)
	dir := t.TempDir()
	malformed := writeFile(t, dir, "bad.json", []byte(`{"auths":{"a.io":{"password":"s3cr3t-malformed`), 0o600)
	demo := writeFile(t, dir, "config.json", readFixture(t, "demo/config.json"), 0o600)
	tests := []struct {
		name    string
		args    []string
		stdin   string
		wantMsg string
	}{
		{name: "malformed --config", args: []string{"--config", malformed}, stdin: request(providers.APIVersionV1, "a.io/x"),
			wantMsg: "dockercfg-credential-provider: parse " + malformed + ": malformed docker config: invalid JSON at line 1"},
		{name: "missing --config", args: []string{"--config", filepath.Join(dir, "nope")}, stdin: request(providers.APIVersionV1, "a.io/x"),
			wantMsg: "read " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{name: "malformed --config fails even when another one matches", args: []string{"--config", demo, "--config", malformed},
			stdin: request(providers.APIVersionV1, "registry.example.io/x"), wantMsg: "parse " + malformed},
		{name: "negative cache duration", args: []string{"--config", demo, "--cache-duration=-1s"}, stdin: request(providers.APIVersionV1, "a.io/x"),
			wantMsg: "--cache-duration must not be negative"},
		{name: "colon in the identity token user name", args: []string{"--identity-token-username=a:b"}, stdin: request(providers.APIVersionV1, "a.io/x"),
			wantMsg: "--identity-token-username must not contain a colon"},
		{name: "empty --config", args: []string{"--config="}, stdin: request(providers.APIVersionV1, "a.io/x"),
			wantMsg: "invalid value \"\" for flag -config: empty value"},
		{name: "wrong kind", args: []string{"--config", demo}, stdin: `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"Nope","image":"a.io/x"}`,
			wantMsg: "wrong kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := execute(t, base, tt.args, tt.stdin)
			if code == 0 || stdout != "" {
				t.Errorf("Execute(%q) = %d, stdout %q, want a failure and nothing on stdout", tt.args, code, stdout)
			}
			if !strings.Contains(stderr, tt.wantMsg) {
				t.Errorf("Execute(%q) stderr %q, want %q", tt.args, stderr, tt.wantMsg)
			}
			if strings.Contains(stderr, "s3cr3t") {
				t.Errorf("Execute(%q) stderr %q quotes a secret", tt.args, stderr)
			}
		})
	}
}

func TestExecuteHelp(t *testing.T) {
	code, stdout, _ := execute(t, Options{}, []string{"--help"}, "")
	if code != 0 {
		t.Fatalf("Execute(--help) = %d", code)
	}
	for _, flag := range []string{"-config", "-kubelet-root-dir", "-cache-duration", "-helper-timeout", "-identity-token-username", "credHelpers"} {
		if !strings.Contains(stdout, flag) {
			t.Errorf("Execute(--help) does not mention %q:\n%s", flag, stdout)
		}
	}
}

func TestProviderSearchPaths(t *testing.T) {
	base, d := isolated(t)
	base.KubeletRootDir = d.kubelet
	p, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	want := SearchPaths(d.kubelet, d.wd, d.home, d.root)
	if diff := cmp.Diff(want, p.SearchPaths()); diff != "" {
		t.Errorf("SearchPaths() (-want +got):\n%s", diff)
	}
	// Zero values: the kubelet's root dir, the process's working directory, $HOME and /.
	p, err = New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	want = SearchPaths(DefaultKubeletRootDir, wd, d.home, string(os.PathSeparator))
	if diff := cmp.Diff(want, p.SearchPaths()); diff != "" {
		t.Errorf("SearchPaths() of zero Options (-want +got):\n%s", diff)
	}
}
