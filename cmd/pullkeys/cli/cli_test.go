package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/internal/plugintest"
	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
)

// The test binary doubles as the plugins: linked as fakeplugin-ok it answers with the
// credential in $FAKE_AUTH ("KEY=USER:PASSWORD"); as fakeplugin-fail it complains on stderr
// and exits 3.
func TestMain(m *testing.M) { plugintest.Main(m, fakePlugin) }

// fakePlugin is the plugin in mode: ok or fail (see TestMain).
func fakePlugin(mode string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch mode {
	case "ok":
		return providers.Execute(context.Background(), providers.Plugin{
			Name: plugintest.Prefix + "ok",
			New: func(ctx context.Context, log *slog.Logger) (providers.Provider, error) {
				return providers.ProviderFunc(func(ctx context.Context, req *providers.Request) (*providers.Response, error) {
					auth := plugintest.AuthFlag{}
					_ = auth.Set(os.Getenv("FAKE_AUTH"))
					return &providers.Response{CacheKeyType: providers.CacheKeyRegistry, Auth: auth}, nil
				}), nil
			},
		}, args, stdin, stdout, stderr)
	case "fail":
		_, _ = io.Copy(io.Discard, stdin)
		fmt.Fprintln(stderr, "fakeplugin-fail: registry said 403")
		return 3
	}
	fmt.Fprintf(stderr, "unknown fake plugin mode %q\n", mode)
	return 2
}

// setup writes a config for the fake plugins and a bin dir holding them.
func setup(t *testing.T) (config, bin string) {
	t.Helper()
	bin = plugintest.BinDir(t, "ok", "fail")
	config = filepath.Join(t.TempDir(), "config.yaml")
	err := os.WriteFile(config, []byte(`apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
- name: fakeplugin-ok
  matchImages: ["docker.io", "*.example.io"]
  defaultCacheDuration: 5m
  apiVersion: credentialprovider.kubelet.k8s.io/v1
  env:
  - name: FAKE_AUTH
    value: docker.io=hub-user:hub-secret-password
- name: fakeplugin-fail
  matchImages: ["fail.example.io"]
  defaultCacheDuration: 5m
  apiVersion: credentialprovider.kubelet.k8s.io/v1beta1
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return config, bin
}

// run runs the command line and returns its exit status, stdout and stderr.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	code := RunWith(context.Background(), Options{Now: now}, args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	config, bin := setup(t)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
		notStderr  string // must not be in stderr, when set
	}{
		{name: "no command", args: nil, wantCode: ExitUsage, wantStderr: "Usage: pullkeys <command>"},
		{name: "unknown command", args: []string{"pull"}, wantCode: ExitUsage, wantStderr: `pullkeys: unknown command "pull" (see pullkeys help)`},
		{name: "help", args: []string{"help"}, wantCode: ExitOK, wantStdout: "Commands:"},
		{name: "help of a command", args: []string{"help", "check"}, wantCode: ExitOK, wantStdout: "Usage: pullkeys check --config FILE|DIR --bin-dir DIR"},
		{name: "--help of a command", args: []string{"validate", "--help"}, wantCode: ExitOK, wantStdout: "-config"},
		{name: "version", args: []string{"version"}, wantCode: ExitOK, wantStdout: "pullkeys dev"},
		{name: "unknown flag", args: []string{"check", "--nope"}, wantCode: ExitUsage, wantStderr: "pullkeys: check: flag provided but not defined: -nope (see pullkeys help check)"},
		{name: "check without config", args: []string{"check", "--bin-dir", bin, "nginx"}, wantCode: ExitUsage, wantStderr: "--config is required"},
		{name: "check without bin dir", args: []string{"check", "--config", config, "nginx"}, wantCode: ExitUsage, wantStderr: "--bin-dir is required"},
		{name: "check without image", args: []string{"check", "--config", config, "--bin-dir", bin}, wantCode: ExitUsage, wantStderr: "no image given"},
		{name: "bad output format", args: []string{"check", "--config", config, "--bin-dir", bin, "-o", "yaml", "nginx"}, wantCode: ExitUsage, wantStderr: `-o "yaml": want text or json`},
		{name: "annotation without token", args: []string{"check", "--config", config, "--bin-dir", bin, "--service-account-annotation", "a=b", "nginx"}, wantCode: ExitUsage, wantStderr: "needs a service account token"},
		{name: "malformed annotation", args: []string{"request", "--service-account-annotation", "novalue", "nginx"}, wantCode: ExitUsage, wantStderr: `want KEY=VALUE, got "novalue"`},
		{name: "validate without config", args: []string{"validate"}, wantCode: ExitUsage, wantStderr: "--config is required"},
		{name: "validate with an argument", args: []string{"validate", "--config", config, "extra"}, wantCode: ExitUsage, wantStderr: `unexpected argument "extra"`},
		{name: "request without image", args: []string{"request"}, wantCode: ExitUsage, wantStderr: "want exactly one image, got 0"},
		{name: "request bad version", args: []string{"request", "--api-version", "v2", "nginx"}, wantCode: ExitUsage, wantStderr: `--api-version "v2"`},
		{name: "request bad image", args: []string{"request", "a//b"}, wantCode: ExitUsage, wantStderr: "invalid reference format"},
		{name: "request image with a password holding a slash", args: []string{"request", "robot:S3cr/etPass@registry.example.io/app"},
			wantCode: ExitUsage, wantStderr: `"REDACTED@registry.example.io/app"`, notStderr: "etPass"},
		{name: "request image with a short userinfo", args: []string{"request", "a@registry.example.io/app"},
			wantCode: ExitUsage, wantStderr: `invalid image reference "REDACTED@registry.example.io/app"`, notStderr: "invREDACTED"},
		{name: "request token in v1beta1", args: []string{"request", "--api-version", "v1beta1", "--service-account-token", "t", "nginx"}, wantCode: ExitUsage, wantStderr: "v1 only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("Run(%q) = %d, want %d\nstdout: %s\nstderr: %s", tt.args, code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("Run(%q) stdout = %q, want it to contain %q", tt.args, stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("Run(%q) stderr = %q, want it to contain %q", tt.args, stderr, tt.wantStderr)
			}
			if tt.notStderr != "" && strings.Contains(stderr, tt.notStderr) {
				t.Errorf("Run(%q) stderr = %q, want no %q in it", tt.args, stderr, tt.notStderr)
			}
		})
	}
}

func TestRunValidate(t *testing.T) {
	t.Parallel()
	config, bin := setup(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n- name: a/b\n  matchImages: [\"%zz\"]\n  env: [{name: TOKEN, value: env-secret}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	code, stdout, _ := run(t, "", "validate", "--config", config, "--bin-dir", bin)
	if want := config + ": 1 file(s), 2 provider(s) [fakeplugin-ok, fakeplugin-fail]: valid\n"; code != ExitOK || stdout != want {
		t.Errorf("Run(validate good) = %d, %q; want %d, %q", code, stdout, ExitOK, want)
	}

	code, stdout, _ = run(t, "", "validate", "--config", bad)
	want := strings.ReplaceAll(`error: BAD: providers[0].name: Invalid value: "a/b": provider name cannot contain '/'
error: BAD: providers[0].apiVersion: Required value
error: BAD: providers[0].matchImages[0]: Invalid value: "%zz": match image is invalid: parse "https://%zz": invalid URL escape "%zz"
error: BAD: providers[0].defaultCacheDuration: Required value
BAD: 1 file(s), 1 provider(s) [a/b]: invalid (4 error(s)): the kubelet refuses to start
`, "BAD", bad)
	if code != ExitProblems {
		t.Errorf("Run(validate bad) = %d, want %d", code, ExitProblems)
	}
	if diff := cmp.Diff(want, stdout); diff != "" {
		t.Errorf("Run(validate bad) stdout (-want +got):\n%s", diff)
	}

	code, stdout, _ = run(t, "", "validate", "-o", "json", "--config", bad)
	var got struct {
		OK        bool
		Problems  kubelet.Problems
		Providers []struct {
			Env []struct{ Name, Value string }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("Run(validate -o json) output does not decode: %v\n%s", err, stdout)
	}
	if code != ExitProblems || got.OK || len(got.Problems) != 4 || got.Problems[2].Field != "providers[0].matchImages[0]" {
		t.Errorf("Run(validate -o json) = %d, %+v; want %d, 4 problems", code, got, ExitProblems)
	}
	wantEnv := []struct{ Name, Value string }{{Name: "TOKEN", Value: "********(10 chars)"}}
	if diff := cmp.Diff(wantEnv, got.Providers[0].Env); diff != "" {
		t.Errorf("Run(validate -o json) env (-want +got):\n%s", diff)
	}
	if strings.Contains(stdout, "env-secret") {
		t.Errorf("Run(validate -o json) shows an env value:\n%s", stdout)
	}
}

// TestRunValidateStrayFull: with --bin-dir, validate warns about a <name>-full left beside a
// provider's binary by a release that shipped two files per plugin, and about nothing else.
func TestRunValidateStrayFull(t *testing.T) {
	t.Parallel()
	const entry = "- name: %s\n  matchImages: [\"*.example.io\"]\n  defaultCacheDuration: 5m\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n"
	exe := func(t *testing.T, dir, name string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		provider string
		files    []string
		dirs     []string
		want     string // the stray file the warning names, "" for no warning
	}{
		{name: "one file per plugin", provider: "ecr-credential-provider", files: []string{"ecr-credential-provider"}},
		{name: "stray full", provider: "ecr-credential-provider", files: []string{"ecr-credential-provider", "ecr-credential-provider-full"}, want: "ecr-credential-provider-full"},
		{name: "stray full.exe", provider: "gcr-credential-provider", files: []string{"gcr-credential-provider", "gcr-credential-provider-full.exe"}, want: "gcr-credential-provider-full.exe"},
		{name: "another provider's full is not this one's", provider: "ecr-credential-provider", files: []string{"ecr-credential-provider", "gcr-credential-provider-full"}},
		{name: "a directory named -full", provider: "ecr-credential-provider", files: []string{"ecr-credential-provider"}, dirs: []string{"ecr-credential-provider-full"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bin := t.TempDir()
			for _, f := range tt.files {
				exe(t, bin, f)
			}
			for _, d := range tt.dirs {
				if err := os.Mkdir(filepath.Join(bin, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			config := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(config, []byte("apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n"+fmt.Sprintf(entry, tt.provider)), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := run(t, "", "validate", "--config", config, "--bin-dir", bin)
			if code != ExitOK {
				t.Errorf("Run(validate) = %d, want %d (a warning): %s%s", code, ExitOK, stdout, stderr)
			}
			warnings := strings.Count(stdout, "warning: ")
			switch {
			case tt.want == "" && warnings != 0:
				t.Errorf("Run(validate) warns, want no warning:\n%s", stdout)
			case tt.want != "" && (warnings != 1 || !strings.Contains(stdout, tt.want+" is left from an earlier pullkeys")):
				t.Errorf("Run(validate) stdout:\n%s\nwant one warning that %s is stray", stdout, tt.want)
			}
		})
	}
}

func TestRunRequest(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{
			name: "default v1, normalised",
			args: []string{"request", "nginx:1.2"},
			want: `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"docker.io/library/nginx"}`,
		},
		{
			name: "v1beta1, digest dropped",
			args: []string{"request", "--api-version=v1beta1", "reg.io:5000/a/b@sha256:" + strings.Repeat("0", 64)},
			want: `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","image":"reg.io:5000/a/b"}`,
		},
		{
			name: "full v1alpha1, flag after the image",
			args: []string{"request", "quay.io/a/b:v1", "--api-version", "credentialprovider.kubelet.k8s.io/v1alpha1"},
			want: `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1alpha1","image":"quay.io/a/b"}`,
		},
		{
			name: "service account",
			args: []string{"request", "--service-account-token", "tok", "--service-account-annotation", "example.com/role=puller", "x.io/a"},
			want: `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"x.io/a","serviceAccountToken":"tok","serviceAccountAnnotations":{"example.com/role":"puller"}}`,
		},
		{
			name: "token from a file",
			args: []string{"request", "--service-account-token-file", tokenFile, "x.io/a"},
			want: `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"x.io/a","serviceAccountToken":"file-token"}`,
		},
		{
			name:  "token from stdin",
			stdin: "stdin-token\n",
			args:  []string{"request", "--service-account-token-file=-", "x.io/a"},
			want:  `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"x.io/a","serviceAccountToken":"stdin-token"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, tt.stdin, tt.args...)
			if code != ExitOK || stdout != tt.want+"\n" {
				t.Errorf("Run(%q) = %d, %q (stderr %q); want %d, %q", tt.args, code, stdout, stderr, ExitOK, tt.want+"\n")
			}
			if _, _, _, err := providers.DecodeRequest([]byte(stdout)); err != nil {
				t.Errorf("Run(%q) printed a request a plugin cannot decode: %v", tt.args, err)
			}
		})
	}
}

func TestRunCheck(t *testing.T) {
	t.Parallel()
	config, bin := setup(t)

	t.Run("text, masked", func(t *testing.T) {
		t.Parallel()
		code, stdout, stderr := run(t, "", "check", "nginx:1.2", "--config", config, "--bin-dir", bin)
		if code != ExitOK {
			t.Errorf("Run(check nginx) = %d, want %d\nstdout: %s\nstderr: %s", code, ExitOK, stdout, stderr)
		}
		for _, want := range []string{
			"image nginx:1.2, sent to plugins as docker.io/library/nginx",
			`1. docker.io: username "hub-user", password ********(19 chars) (from fakeplugin-ok)`,
			`kubelet cache: key "docker.io" for 5m0s (from defaultCacheDuration)`,
			"provider fakeplugin-fail: not used, no matchImages entry matches",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("Run(check nginx) stdout lacks %q:\n%s", want, stdout)
			}
		}
		for _, leak := range []string{"hub-secret-password", "docker.io=hub-user"} {
			if strings.Contains(stdout+stderr, leak) {
				t.Errorf("Run(check nginx) output shows %q:\n%s%s", leak, stdout, stderr)
			}
		}
	})
	t.Run("show secrets", func(t *testing.T) {
		t.Parallel()
		_, stdout, _ := run(t, "", "check", "--config", config, "--bin-dir", bin, "--show-secrets", "nginx")
		if !strings.Contains(stdout, `password hub-secret-password (from fakeplugin-ok)`) {
			t.Errorf("Run(check --show-secrets) stdout lacks the password:\n%s", stdout)
		}
	})
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		code, stdout, _ := run(t, "", "check", "--config", config, "--bin-dir", bin, "-o", "json", "nginx", "docker.io/x/y")
		var r kubelet.Report
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("Run(check -o json) output does not decode: %v\n%s", err, stdout)
		}
		if code != ExitOK || len(r.Images) != 2 || r.Images[1].Providers[0].CachedFrom == nil {
			t.Errorf("Run(check -o json) = %d, %+v; want %d, 2 images, the second from the kubelet's cache", code, r, ExitOK)
		}
		if got := r.Images[0].Credentials[0].Password; got != "********(19 chars)" {
			t.Errorf("Run(check -o json) password = %q, want masked", got)
		}
	})
	t.Run("failing plugin", func(t *testing.T) {
		t.Parallel()
		code, stdout, _ := run(t, "", "check", "--config", config, "--bin-dir", bin, "fail.example.io/app")
		if code != ExitProblems {
			t.Errorf("Run(check fail.example.io/app) = %d, want %d", code, ExitProblems)
		}
		for _, want := range []string{"| fakeplugin-fail: registry said 403", "error: exec fakeplugin-fail: plugin failed: exit status 3", "result: error"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("Run(check fail.example.io/app) stdout lacks %q:\n%s", want, stdout)
			}
		}
	})
	t.Run("missing bin dir", func(t *testing.T) {
		t.Parallel()
		code, stdout, _ := run(t, "", "check", "--config", config, "--bin-dir", filepath.Join(bin, "nope"), "nginx")
		if code != ExitProblems || !strings.Contains(stdout, "plugin binary directory does not exist") {
			t.Errorf("Run(check missing bin dir) = %d, want %d and the start-up error:\n%s", code, ExitProblems, stdout)
		}
	})
}
