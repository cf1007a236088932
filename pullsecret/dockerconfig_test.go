package pullsecret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/dockercfg"
)

// fakeHelper is a credential helper with fixed answers by server URL: "notfound" answers
// ErrCredentialsNotFound, "fail" another error.
type fakeHelper map[string][2]string

func (h fakeHelper) Get(_ context.Context, name, serverURL string) (string, string, error) {
	switch a, ok := h[serverURL]; {
	case !ok || a[0] == "notfound":
		return "", "", fmt.Errorf("docker-credential-%s get: %w", name, dockercfg.ErrCredentialsNotFound)
	case a[0] == "fail":
		return "", "", fmt.Errorf("docker-credential-%s get: %w", name, dockercfg.ErrHelperFailed)
	default:
		return a[0], a[1], nil
	}
}

func parse(t *testing.T, origin, doc string) *dockercfg.Config {
	t.Helper()
	cfg, err := dockercfg.Parse([]byte(doc), origin)
	if err != nil {
		t.Fatalf("dockercfg.Parse(%s): %v", origin, err)
	}
	return cfg
}

func TestFromDockerConfig(t *testing.T) {
	const personal = `{
		"auths": {
			"registry.example.io": {"auth": "YWxpY2U6U2VjcjN0LVBXLTE="},
			"https://index.docker.io/v1/": {"username": "bob", "password": "hub-pass"},
			"acr.example.io": {"username": "00000000-0000-0000-0000-000000000000", "identitytoken": "acr-refresh"},
			"token.example.io": {"identitytoken": "bare-refresh"},
			"desktop.example.io": {},
			"empty.example.io": {"email": "x@example.io"}
		},
		"credsStore": "desktop",
		"credHelpers": {"123456789012.dkr.ecr.us-east-1.amazonaws.com": "ecr-login", "gone.example.io": "gone"}
	}`
	helper := fakeHelper{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com": {"AWS", "ecr-token"},
		"desktop.example.io":                           {dockercfg.TokenUsername, "desktop-refresh"},
		"empty.example.io":                             {"notfound"},
		"gone.example.io":                              {"notfound"},
	}
	tests := []struct {
		name     string
		configs  []string
		opts     DockerConfigOptions
		want     []Auth
		wantErr  error
		wantWarn []string
	}{
		{
			name:    "every entry with credentials, helpers asked, identity tokens as passwords",
			configs: []string{personal},
			opts:    DockerConfigOptions{Helper: helper},
			want: []Auth{
				{Server: "123456789012.dkr.ecr.us-east-1.amazonaws.com", Username: "AWS", Password: "ecr-token"},
				{Server: "acr.example.io", Username: "00000000-0000-0000-0000-000000000000", Password: "acr-refresh"},
				{Server: "desktop.example.io", Username: "<token>", Password: "desktop-refresh"},
				{Server: "https://index.docker.io/v1/", Username: "bob", Password: "hub-pass"},
				{Server: "registry.example.io", Username: "alice", Password: "Secr3t-PW-1"},
				{Server: "token.example.io", Username: "<token>", Password: "bare-refresh"},
			},
			wantWarn: []string{`credential helper has nothing for the registry; passed over" key=empty.example.io`, "key=gone.example.io"},
		},
		{
			name:    "helpers disabled",
			configs: []string{personal},
			opts:    DockerConfigOptions{IdentityTokenUsername: "token-user"},
			want: []Auth{
				{Server: "acr.example.io", Username: "00000000-0000-0000-0000-000000000000", Password: "acr-refresh"},
				{Server: "https://index.docker.io/v1/", Username: "bob", Password: "hub-pass"},
				{Server: "registry.example.io", Username: "alice", Password: "Secr3t-PW-1"},
				{Server: "token.example.io", Username: "token-user", Password: "bare-refresh"},
			},
			wantWarn: []string{`registry served by a credential helper passed over (helpers disabled)" key=123456789012.dkr.ecr.us-east-1.amazonaws.com`},
		},
		{
			name:    "only what the images need",
			configs: []string{personal},
			opts:    DockerConfigOptions{Helper: helper, Images: []string{"registry.example.io/app:1", "nginx"}},
			want: []Auth{
				{Server: "https://index.docker.io/v1/", Username: "bob", Password: "hub-pass"},
				{Server: "registry.example.io", Username: "alice", Password: "Secr3t-PW-1"},
			},
		},
		{
			name:    "an image nothing serves",
			configs: []string{personal},
			opts:    DockerConfigOptions{Helper: helper, Images: []string{"quay.io/org/app"}},
			wantErr: ErrNoCredentials,
		},
		{
			name:     "earlier config wins",
			configs:  []string{`{"auths":{"registry.example.io":{"username":"first","password":"p1"}}}`, `{"auths":{"https://registry.example.io":{"username":"second","password":"p2"}}}`},
			want:     []Auth{{Server: "registry.example.io", Username: "first", Password: "p1"}},
			wantWarn: []string{"registry already served by an earlier docker config"},
		},
		{
			name:    "a failing helper fails",
			configs: []string{`{"credHelpers":{"broken.example.io":"broken"}}`},
			opts:    DockerConfigOptions{Helper: fakeHelper{"broken.example.io": {"fail"}}},
			wantErr: dockercfg.ErrHelperFailed,
		},
		{
			name:    "nothing with credentials",
			configs: []string{`{"auths":{"registry.example.io":{}}}`},
			wantErr: ErrNoCredentials,
		},
		{
			name:     "the parser's warnings are passed on",
			configs:  []string{`{"auths":{"registry.example.io":{"auth":"!!"},"ok.example.io":{"auth":"dTpw"}}}`},
			want:     []Auth{{Server: "ok.example.io", Username: "u", Password: "p"}},
			wantWarn: []string{"docker config entry passed over", "registry.example.io: invalid auth field: not base64"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var configs []*dockercfg.Config
			for i, doc := range tc.configs {
				configs = append(configs, parse(t, fmt.Sprintf("config%d.json", i), doc))
			}
			var logs bytes.Buffer
			tc.opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			got, err := FromDockerConfig(context.Background(), configs, tc.opts)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("FromDockerConfig(%s) error = %v, want %v", tc.name, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FromDockerConfig(%s) (-want +got):\n%s", tc.name, diff)
			}
			for _, w := range tc.wantWarn {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("FromDockerConfig(%s) logged\n%s\nwant %q", tc.name, logs.String(), w)
				}
			}
			for _, secret := range []string{"Secr3t-PW-1", "hub-pass", "acr-refresh", "bare-refresh", "ecr-token", "desktop-refresh"} {
				if strings.Contains(logs.String(), secret) || (err != nil && strings.Contains(err.Error(), secret)) {
					t.Errorf("FromDockerConfig(%s) leaked %q in\n%s\n%v", tc.name, secret, logs.String(), err)
				}
			}
		})
	}
}

func TestCreateFromDockerConfig(t *testing.T) {
	const doc = `{"auths":{"registry.example.io":{"auth":"YWxpY2U6U2VjcjN0LVBXLTE="},"other.example.io":{"username":"o","password":"other-pass"}},"credsStore":"no-such-helper-anywhere"}`
	file := writeFile(t, "config.json", doc)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".dockerconfigjson"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		keys  []string
	}{
		{name: "file", args: []string{"--from-docker-config", file}, keys: []string{"registry.example.io", "other.example.io"}},
		{name: "mounted secret directory", args: []string{"--from-docker-config", dir}, keys: []string{"registry.example.io", "other.example.io"}},
		{name: "stdin", args: []string{"--from-docker-config", "-"}, stdin: doc, keys: []string{"registry.example.io", "other.example.io"}},
		{name: "filtered by image", args: []string{"--from-docker-config", file, "--image", "registry.example.io/app"}, keys: []string{"registry.example.io"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"create", "regcred"}, tc.args...)
			code, stdout, stderr := run(t, tc.stdin, args...)
			if code != ExitOK {
				t.Fatalf("Command(%q) = %d, stderr %q", args, code, stderr)
			}
			assertNoSecret(t, "create stderr", stderr)
			r := Check([]byte(stdout), CheckOptions{})
			var keys []string
			for _, reg := range r.Registries {
				keys = append(keys, reg.Key)
			}
			if !r.OK() || !cmp.Equal(keys, tc.keys) {
				t.Errorf("Command(%q) made a Secret with keys %q and findings %v, want keys %q and none", args, keys, r.Findings, tc.keys)
			}
		})
	}
	code, _, stderr := run(t, "", "create", "regcred", "--from-docker-config", filepath.Join(dir, "missing.json"))
	if code != ExitProblems || !strings.Contains(stderr, "missing.json") {
		t.Errorf("Command(create --from-docker-config missing) = %d, %q; want 1 and the file named", code, stderr)
	}
}
