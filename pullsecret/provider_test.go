package pullsecret

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/internal/plugintest"
	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
)

func TestFromProvider(t *testing.T) {
	bin := plugintest.Binary(t, "answer")
	tests := []struct {
		name    string
		auth    []string // the plugin's --auth KEY=USER:PASSWORD
		images  []string
		want    []Auth
		wantErr error
		wantMsg string
	}{
		{
			name:   "exact key, as written",
			auth:   []string{"123456789012.dkr.ecr.us-east-1.amazonaws.com=AWS:ecr-token-1"},
			images: []string{"123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.0"},
			want:   []Auth{{Server: "123456789012.dkr.ecr.us-east-1.amazonaws.com", Username: "AWS", Password: "ecr-token-1"}},
		},
		{
			name:   "wildcard host becomes the image's registry",
			auth:   []string{"*.dkr.ecr.*.amazonaws.com=AWS:ecr-token-1"},
			images: []string{"123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app@sha256:" + strings.Repeat("a", 64)},
			want:   []Auth{{Server: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", Username: "AWS", Password: "ecr-token-1"}},
		},
		{
			name:   "wildcard host keeps the key's path and the image's port",
			auth:   []string{"https://*.example.io:5000/v2/team=u:p-1"},
			images: []string{"registry.example.io:5000/team/app"},
			want:   []Auth{{Server: "registry.example.io:5000/team", Username: "u", Password: "p-1"}},
		},
		{
			name:   "only the keys that match are packed, in the kubelet's order",
			auth:   []string{"registry.example.io=host:p-host", "registry.example.io/team=team:p-team", "other.example.io=other:p-other", "*.example.io=glob:p-glob"},
			images: []string{"registry.example.io/team/app"},
			want: []Auth{
				{Server: "registry.example.io/team", Username: "team", Password: "p-team"},
				{Server: "registry.example.io", Username: "host", Password: "p-host"},
			},
		},
		{
			name:   "wildcard and exact key for one registry: the exact one first, the wildcard's dropped",
			auth:   []string{"registry.example.io=exact:p-exact", "*.example.io=glob:p-glob"},
			images: []string{"registry.example.io/app"},
			want:   []Auth{{Server: "registry.example.io", Username: "exact", Password: "p-exact"}},
		},
		{
			name:   "Docker Hub image falls back to index.docker.io",
			auth:   []string{"https://index.docker.io/v1/=hubuser:hub-token"},
			images: []string{"nginx:1.27"},
			want:   []Auth{{Server: "https://index.docker.io/v1/", Username: "hubuser", Password: "hub-token"}},
		},
		{
			name:   "two images, two registries",
			auth:   []string{"*.dkr.ecr.*.amazonaws.com=AWS:ecr-token-1"},
			images: []string{"111111111111.dkr.ecr.us-east-1.amazonaws.com/a", "222222222222.dkr.ecr.eu-west-1.amazonaws.com/b", "111111111111.dkr.ecr.us-east-1.amazonaws.com/c"},
			want: []Auth{
				{Server: "111111111111.dkr.ecr.us-east-1.amazonaws.com", Username: "AWS", Password: "ecr-token-1"},
				{Server: "222222222222.dkr.ecr.eu-west-1.amazonaws.com", Username: "AWS", Password: "ecr-token-1"},
			},
		},
		{
			name:    "no key matches the image",
			auth:    []string{"*.gcr.io=oauth2accesstoken:tok"},
			images:  []string{"gcr.io/project/app"},
			wantErr: ErrNoCredentials,
		},
		{
			name:    "empty answer",
			images:  []string{"registry.example.io/app"},
			wantErr: ErrNoCredentials,
		},
		{
			name:    "invalid image",
			auth:    []string{"registry.example.io=u:p"},
			images:  []string{"Registry.example.io/App"},
			wantMsg: "invalid image reference",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			for _, a := range tc.auth {
				args = append(args, "--auth="+a)
			}
			got, err := FromProvider(context.Background(), tc.images, ProviderOptions{Binary: bin, Args: args})
			if tc.wantMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("FromProvider(%q) error = %v, want one containing %q", tc.images, err, tc.wantMsg)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("FromProvider(%q) with %q: error %v, want %v", tc.images, tc.auth, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FromProvider(%q) with %q (-want +got):\n%s", tc.images, tc.auth, diff)
			}
			if err != nil {
				for _, a := range tc.auth {
					if _, pass, _ := strings.Cut(a[strings.Index(a, "=")+1:], ":"); strings.Contains(err.Error(), pass) {
						t.Errorf("FromProvider error %q holds the password %q", err, pass)
					}
				}
			}
		})
	}
}

func TestFromProviderFailures(t *testing.T) {
	const secret = "env-secret-AKIA1234"
	missing := filepath.Join(t.TempDir(), "no-such-plugin")
	notExec := writeFile(t, "not-executable", "#!/bin/sh\n")
	tests := []struct {
		name    string
		binary  string
		env     []string
		wantErr error
		want    string
	}{
		{name: "plugin fails: its stderr, env values redacted", binary: plugintest.Binary(t, "fail"), env: []string{"FAKE_SECRET=" + secret},
			wantErr: kubelet.ErrExit, want: "plugin stderr: fail: cannot reach the registry API with token [redacted]"},
		{name: "text on stdout", binary: plugintest.Binary(t, "garbage"), wantErr: kubelet.ErrResponse, want: "stdout does not start with a JSON object"},
		{name: "answer in another apiVersion", binary: plugintest.Binary(t, "wrong-version"), wantErr: providers.ErrUnsupportedVersion, want: `"credentialprovider.kubelet.k8s.io/v1beta1", expected "credentialprovider.kubelet.k8s.io/v1"`},
		{name: "binary missing", binary: missing, wantErr: kubelet.ErrStart},
		{name: "binary not executable", binary: notExec, wantErr: kubelet.ErrStart},
		{name: "not in PATH", binary: "no-such-plugin-in-path", wantErr: kubelet.ErrStart, want: "not found in $PATH"},
		{name: "bad env entry", binary: plugintest.Binary(t, "answer"), env: []string{"NOEQUALS"}, wantErr: ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromProvider(context.Background(), []string{"registry.example.io/app"}, ProviderOptions{Binary: tc.binary, Env: tc.env})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("FromProvider(%s) error = %v, want %v", tc.binary, err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("FromProvider(%s) error = %q, want it to contain %q", tc.binary, err, tc.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "wrong-version-pass") {
				t.Errorf("FromProvider(%s) error = %q holds a secret", tc.binary, err)
			}
		})
	}
}

func TestFromProviderRequest(t *testing.T) {
	bin := plugintest.Binary(t, "answer")
	tests := []struct {
		name, apiVersion, image string
		want                    string // in the request
	}{
		{name: "v1 by default, image normalised as by the kubelet", image: "nginx:1.27",
			want: `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"docker.io/library/nginx"}`},
		{name: "v1beta1 in short form", apiVersion: "v1beta1", image: "registry.example.io:5000/a/b@sha256:" + strings.Repeat("0", 64),
			want: `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","image":"registry.example.io:5000/a/b"}`},
		{name: "v1alpha1 in full", apiVersion: "credentialprovider.kubelet.k8s.io/v1alpha1", image: "registry.example.io/app",
			want: `"apiVersion":"credentialprovider.kubelet.k8s.io/v1alpha1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dump := filepath.Join(t.TempDir(), "request")
			opts := ProviderOptions{
				Binary:     bin,
				Args:       []string{"--auth=docker.io=u:p", "--auth=registry.example.io=u:p", "--auth=registry.example.io:5000=u:p"},
				Env:        []string{"FAKE_DUMP=" + dump, "FAKE_VAR=from-env"},
				APIVersion: tc.apiVersion,
				Environ:    func() []string { return []string{"FAKE_VAR=from-parent", "GORACE=" + os.Getenv("GORACE")} },
			}
			if _, err := FromProvider(context.Background(), []string{tc.image}, opts); err != nil {
				t.Fatalf("FromProvider(%s): %v", tc.image, err)
			}
			got, err := os.ReadFile(dump)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{tc.want, `args=["--auth=docker.io=u:p" "--auth=registry.example.io=u:p" "--auth=registry.example.io:5000=u:p"]`, "FAKE_VAR=from-env"} {
				if !strings.Contains(string(got), want) {
					t.Errorf("FromProvider(%s) sent\n%s\nwant it to contain %s", tc.image, got, want)
				}
			}
		})
	}
}

func TestParseAPIVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", providers.APIVersionV1},
		{"v1", providers.APIVersionV1},
		{"v1beta1", providers.APIVersionV1beta1},
		{"credentialprovider.kubelet.k8s.io/v1alpha1", providers.APIVersionV1alpha1},
		{"v2", ""},
		{"kubelet.config.k8s.io/v1", ""},
	}
	for _, tc := range tests {
		got, err := ParseAPIVersion(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("ParseAPIVersion(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestCreateFromRealProvider runs the project's dockercfg-credential-provider as the plugin,
// the way a CronJob runs ecr-credential-provider, and checks the Secret it makes.
func TestCreateFromRealProvider(t *testing.T) {
	cfg := writeFile(t, "config.json", `{"auths":{"registry.example.io":{"auth":"`+testAuth+`"},"other.example.io":{"auth":"b3RoZXI6b3RoZXItcGFzcw=="}}}`)
	bin := plugintest.Binary(t, "dockercfg")
	code, stdout, stderr := run(t, "", "create", "regcred", "-n", "apps", "--from-provider", bin, "registry.example.io/app:1.0",
		"--provider-arg=--config="+cfg)
	if code != ExitOK {
		t.Fatalf("Command(create --from-provider dockercfg) = %d, stderr %q", code, stderr)
	}
	assertNoSecret(t, "create stderr", stderr)
	r := Check([]byte(stdout), CheckOptions{ShowSecrets: true, Images: []string{"registry.example.io/app"}})
	if !r.OK() {
		t.Fatalf("Check(created) = %v", r.Findings)
	}
	want := []string{"registry.example.io alice " + testPassword}
	var got []string
	for _, reg := range r.Registries {
		got = append(got, reg.Key+" "+reg.Username+" "+reg.Password)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Secret from the dockercfg provider (-want +got):\n%s", diff)
	}
}
