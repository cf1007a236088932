package kubelet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	configv1 "k8s.io/kubelet/config/v1"

	"github.com/pullkeys/pullkeys/internal/plugintest"
	"github.com/pullkeys/pullkeys/providers"
)

// prov returns a provider entry for the fake plugin of mode.
func prov(mode, apiVersion string, matchImages []string, args ...string) Provider {
	return Provider{
		CredentialProvider: configv1.CredentialProvider{
			Name:                 plugintest.Prefix + mode,
			MatchImages:          matchImages,
			DefaultCacheDuration: &metav1.Duration{Duration: 10 * time.Minute},
			APIVersion:           apiVersion,
			Args:                 args,
		},
		File: "test.yaml",
	}
}

// fakeClock returns a clock that moves one millisecond each time it is read.
func fakeClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Millisecond)
		return t
	}
}

func TestExec(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "ok", "garbage", "log-then-json", "two-docs", "wrong-version", "unknown-field", "bad-key-type", "fail", "hang", "child")
	writeFile(t, bin, "not-executable", "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(bin, "not-executable"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		mode     string
		wantErr  []error
		wantExit int
		wantHint string
		// wantStderr is a substring of the reported stderr.
		wantStderr string
	}{
		{name: "answer accepted", mode: "ok", wantExit: 0},
		{name: "garbage on stdout", mode: "garbage", wantErr: []error{ErrResponse, providers.ErrMalformed}, wantHint: "does not start with a JSON object"},
		{name: "log line before the answer", mode: "log-then-json", wantErr: []error{ErrResponse, providers.ErrMalformed}, wantHint: "does not start with a JSON object"},
		{name: "two documents", mode: "two-docs", wantErr: []error{ErrResponse, providers.ErrMalformed}, wantHint: "more than one JSON document"},
		{name: "wrong apiVersion", mode: "wrong-version", wantErr: []error{ErrResponse, providers.ErrUnsupportedVersion}},
		{name: "unknown field rejected as by the kubelet", mode: "unknown-field", wantErr: []error{ErrResponse, providers.ErrInvalidResponse}},
		{name: "unknown cacheKeyType", mode: "bad-key-type", wantErr: []error{ErrResponse, providers.ErrInvalidResponse}},
		{name: "non-zero exit shows stderr", mode: "fail", wantErr: []error{ErrExit}, wantExit: 3, wantStderr: "fake: cannot reach the registry API (secret [redacted])"},
		{name: "hanging plugin killed at the timeout", mode: "hang", wantErr: []error{ErrTimeout}, wantExit: -1},
		{name: "child holding stdout past the timeout", mode: "child", wantErr: []error{ErrTimeout}},
		{name: "missing binary", mode: "missing", wantErr: []error{ErrStart}, wantExit: -1},
		{name: "binary not executable", mode: "not-executable", wantErr: []error{ErrStart}, wantExit: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := prov(tt.mode, providers.APIVersionV1, []string{"docker.io"})
			if tt.mode == "not-executable" {
				p.Name = "not-executable"
			}
			p.Env = []configv1.ExecEnvVar{{Name: "FAKE_SECRET", Value: "sa-token-value"}}
			req := &providers.Request{Image: "docker.io/library/nginx", ServiceAccountToken: "sa-token-value"}
			timeout := 30 * time.Second
			if tt.mode == "hang" || tt.mode == "child" {
				timeout = 200 * time.Millisecond
			}
			res := Exec(context.Background(), bin, p, req, ExecOptions{Timeout: timeout, Now: fakeClock()})
			if len(tt.wantErr) == 0 && res.Err != nil {
				t.Fatalf("Exec(%s) error = %v, want nil", p.Name, res.Err)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(res.Err, want) {
					t.Errorf("Exec(%s) error = %v, want %v", p.Name, res.Err, want)
				}
			}
			if tt.mode != "child" && res.ExitCode != tt.wantExit {
				t.Errorf("Exec(%s) exit code = %d, want %d", p.Name, res.ExitCode, tt.wantExit)
			}
			if res.Hint == "" && tt.wantHint != "" || !strings.Contains(res.Hint, tt.wantHint) {
				t.Errorf("Exec(%s) hint = %q, want it to contain %q", p.Name, res.Hint, tt.wantHint)
			}
			if !strings.Contains(res.Stderr, tt.wantStderr) {
				t.Errorf("Exec(%s) stderr = %q, want it to contain %q", p.Name, res.Stderr, tt.wantStderr)
			}
			if strings.Contains(res.Stderr, "sa-token-value") {
				t.Errorf("Exec(%s) stderr = %q, shows the service account token", p.Name, res.Stderr)
			}
			if res.Err != nil {
				for _, leak := range []string{"hello from the plugin", "level=INFO", `"password"`, "sa-token-value"} {
					if strings.Contains(res.Err.Error(), leak) {
						t.Errorf("Exec(%s) error = %q, quotes %q", p.Name, res.Err, leak)
					}
				}
				if res.Response != nil {
					t.Errorf("Exec(%s) = response and error %v, want no response", p.Name, res.Err)
				}
			}
			if got, want := res.Path, filepath.Join(bin, p.Name); got != want {
				t.Errorf("Exec(%s) path = %q, want %q", p.Name, got, want)
			}
		})
	}
}

func TestExecArgsAndEnv(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "env")
	p := prov("env", providers.APIVersionV1, []string{"docker.io"}, "--cache-key-type=Registry", "--auth=docker.io=u:p")
	p.Env = []configv1.ExecEnvVar{{Name: "FAKE_VAR", Value: "from-config"}}
	environ := func() []string {
		return []string{"FAKE_VAR=from-parent", "FAKE_PARENT=inherited", "PATH=" + os.Getenv("PATH")}
	}
	res := Exec(context.Background(), bin, p, &providers.Request{Image: "docker.io/library/nginx"}, ExecOptions{Environ: environ})
	if res.Err != nil {
		t.Fatalf("Exec(env) error = %v", res.Err)
	}
	want := `args=["--cache-key-type=Registry" "--auth=docker.io=u:p"] FAKE_VAR="from-config" FAKE_PARENT="inherited"` + "\n"
	if res.Stderr != want {
		t.Errorf("Exec(env) stderr = %q, want %q", res.Stderr, want)
	}
	if diff := cmp.Diff([]string{"FAKE_VAR"}, res.Env); diff != "" {
		t.Errorf("Exec(env) env names (-want +got):\n%s", diff)
	}
	if got := res.Response.CacheKeyType; got != providers.CacheKeyRegistry {
		t.Errorf("Exec(env) cacheKeyType = %q, want %q", got, providers.CacheKeyRegistry)
	}
}

func TestExecRequestInConfiguredVersion(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "dump")
	tests := []struct {
		name       string
		apiVersion string
		req        providers.Request
		want       string
	}{
		{
			name:       "v1",
			apiVersion: providers.APIVersionV1,
			req:        providers.Request{Image: "docker.io/library/nginx"},
			want:       `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"docker.io/library/nginx"}` + "\n",
		},
		{
			name:       "v1 with service account",
			apiVersion: providers.APIVersionV1,
			req:        providers.Request{Image: "reg.io/a", ServiceAccountToken: "tok", ServiceAccountAnnotations: map[string]string{"example.com/role": "r"}},
			want:       `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"reg.io/a","serviceAccountToken":"tok","serviceAccountAnnotations":{"example.com/role":"r"}}` + "\n",
		},
		{
			name:       "v1beta1",
			apiVersion: providers.APIVersionV1beta1,
			req:        providers.Request{Image: "reg.io/a"},
			want:       `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","image":"reg.io/a"}` + "\n",
		},
		{
			name:       "v1alpha1",
			apiVersion: providers.APIVersionV1alpha1,
			req:        providers.Request{Image: "reg.io/a"},
			want:       `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1alpha1","image":"reg.io/a"}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dump := filepath.Join(t.TempDir(), "request.json")
			p := prov("dump", tt.apiVersion, []string{"*.io"}, "--auth=reg.io=u:p")
			p.Env = []configv1.ExecEnvVar{{Name: "FAKE_DUMP", Value: dump}}
			res := Exec(context.Background(), bin, p, &tt.req, ExecOptions{})
			if res.Err != nil {
				t.Fatalf("Exec(%s) error = %v", tt.apiVersion, res.Err)
			}
			got, err := os.ReadFile(dump)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Exec(%s) request = %s, want %s", tt.apiVersion, got, tt.want)
			}
			if res.Response == nil || res.Response.Auth["reg.io"].Username != "u" {
				t.Errorf("Exec(%s) response = %v, want auth for reg.io", tt.apiVersion, res.Response)
			}
		})
	}
}

func TestEncodeRequestUnsupportedVersion(t *testing.T) {
	t.Parallel()
	_, err := EncodeRequest(&providers.Request{Image: "x.io/a"}, "credentialprovider.kubelet.k8s.io/v2")
	if !errors.Is(err, providers.ErrUnsupportedVersion) {
		t.Errorf("EncodeRequest(v2) error = %v, want %v", err, providers.ErrUnsupportedVersion)
	}
}

func TestExecCanceled(t *testing.T) {
	t.Parallel()
	bin := plugintest.BinDir(t, "hang")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Exec(ctx, bin, prov("hang", providers.APIVersionV1, []string{"*"}), &providers.Request{Image: "x"}, ExecOptions{})
	if !errors.Is(res.Err, context.Canceled) {
		t.Errorf("Exec(canceled ctx) error = %v, want %v", res.Err, context.Canceled)
	}
}
