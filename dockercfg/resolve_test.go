package dockercfg

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/providers"
)

// fakeHelper answers credential helper requests from a table and records them.
type fakeHelper struct {
	answers map[string]fakeAnswer // "name server" → answer; missing: not found

	mu    sync.Mutex
	calls []string
}

type fakeAnswer struct {
	user, secret string
	err          error
}

func (f *fakeHelper) Get(_ context.Context, name, server string) (string, string, error) {
	call := name + " " + server
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	a, ok := f.answers[call]
	if !ok {
		return "", "", fmt.Errorf("fake %s: %w", call, ErrCredentialsNotFound)
	}
	return a.user, a.secret, a.err
}

func (f *fakeHelper) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := append([]string(nil), f.calls...)
	sort.Strings(calls)
	return calls
}

func mustParse(t *testing.T, origin, doc string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(doc), origin)
	if err != nil {
		t.Fatalf("Parse(%s) error: %v", origin, err)
	}
	return cfg
}

type auths = map[string]providers.AuthConfig

func up(user, password string) providers.AuthConfig {
	return providers.AuthConfig{Username: user, Password: password}
}

func TestResolve(t *testing.T) {
	static := `{"auths": {
		"registry.example.io": {"username": "reg-user", "password": "reg-pass"},
		"*.corp.example.io": {"username": "corp-user", "password": "corp-pass"},
		"quay.example.io": {"username": "quay-user", "password": "quay-pass"},
		"quay.example.io/team": {"username": "team-user", "password": "team-pass"},
		"ports.example.io:5000": {"username": "port-user", "password": "port-pass"},
		"https://index.docker.io/v1/": {"username": "hub-user", "password": "hub-pass"}
	}}`
	tests := []struct {
		name      string
		image     string
		configs   []string // documents, in order of precedence
		helper    *fakeHelper
		noHelpers bool
		tokenUser string
		want      auths
		wantCalls []string
		wantErr   error
	}{
		{name: "exact host", image: "registry.example.io/team/app", configs: []string{static},
			want: auths{"registry.example.io": up("reg-user", "reg-pass")}},
		{name: "no match is empty, not an error", image: "other.example.io/app", configs: []string{static},
			want: auths{}},
		{name: "glob label", image: "build.corp.example.io/app", configs: []string{static},
			want: auths{"*.corp.example.io": up("corp-user", "corp-pass")}},
		{name: "glob needs the same label count", image: "corp.example.io/app", configs: []string{static},
			want: auths{}},
		{name: "glob does not span labels", image: "a.b.corp.example.io/app", configs: []string{static},
			want: auths{}},
		{name: "host and path keys both match, both returned", image: "quay.example.io/team/app", configs: []string{static},
			want: auths{"quay.example.io/team": up("team-user", "team-pass"), "quay.example.io": up("quay-user", "quay-pass")}},
		{name: "path is a string prefix", image: "quay.example.io/teamx/app", configs: []string{static},
			want: auths{"quay.example.io/team": up("team-user", "team-pass"), "quay.example.io": up("quay-user", "quay-pass")}},
		{name: "path key does not match another path", image: "quay.example.io/other/app", configs: []string{static},
			want: auths{"quay.example.io": up("quay-user", "quay-pass")}},
		{name: "port must be equal", image: "ports.example.io:5000/app", configs: []string{static},
			want: auths{"ports.example.io:5000": up("port-user", "port-pass")}},
		{name: "no port in the image, no match for a key with one", image: "ports.example.io/app", configs: []string{static},
			want: auths{}},
		{name: "Docker Hub falls back to index.docker.io", image: "docker.io/library/nginx", configs: []string{static},
			want: auths{"index.docker.io": up("hub-user", "hub-pass")}},
		{name: "Docker Hub: a docker.io key matches first, no fallback", image: "docker.io/library/nginx",
			configs: []string{static, `{"auths": {"docker.io": {"username": "dio-user", "password": "dio-pass"}}}`},
			want:    auths{"docker.io": up("dio-user", "dio-pass")}},
		{name: "registry-1.docker.io is not Docker Hub's alias", image: "registry-1.docker.io/library/nginx", configs: []string{static},
			want: auths{}},
		{name: "earlier config wins for the same key", image: "registry.example.io/app",
			configs: []string{`{"registry.example.io": {"auth": "Zmlyc3Q6Zmlyc3QtcGFzcw=="}}`, static},
			want:    auths{"registry.example.io": up("first", "first-pass")}},
		{name: "same key written differently is the same key", image: "registry.example.io/app",
			configs: []string{`{"auths": {"https://registry.example.io/v1/": {"username": "first", "password": "p"}}}`, static},
			want:    auths{"registry.example.io": up("first", "p")}},
		{name: "keys from different configs merge", image: "quay.example.io/team/app",
			configs: []string{`{"auths": {"quay.example.io/team/app": {"username": "app-user", "password": "app-pass"}}}`, static},
			want: auths{
				"quay.example.io/team/app": up("app-user", "app-pass"),
				"quay.example.io/team":     up("team-user", "team-pass"),
				"quay.example.io":          up("quay-user", "quay-pass"),
			}},

		// Identity tokens.
		{name: "identity token with the entry's user name", image: "acr.example.io/app",
			configs: []string{`{"auths": {"acr.example.io": {"auth": "MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOg==", "identitytoken": "refresh"}}}`},
			want:    auths{"acr.example.io": up("00000000-0000-0000-0000-000000000000", "refresh")}},
		{name: "identity token without a user name gets <token>", image: "token.example.io/app",
			configs: []string{`{"auths": {"token.example.io": {"identitytoken": "refresh"}}}`},
			want:    auths{"token.example.io": up("<token>", "refresh")}},
		{name: "identity token user name from options", image: "token.example.io/app", tokenUser: "00000000-0000-0000-0000-000000000000",
			configs: []string{`{"auths": {"token.example.io": {"identitytoken": "refresh"}}}`},
			want:    auths{"token.example.io": up("00000000-0000-0000-0000-000000000000", "refresh")}},
		{name: "a password wins over an identity token", image: "token.example.io/app",
			configs: []string{`{"auths": {"token.example.io": {"username": "u", "password": "p", "identitytoken": "refresh"}}}`},
			want:    auths{"token.example.io": up("u", "p")}},

		// Credential helpers.
		{name: "credHelpers: helper asked with the key as written", image: "helped.example.io/app",
			configs:   []string{`{"credHelpers": {"helped.example.io": "fake"}}`},
			helper:    &fakeHelper{answers: map[string]fakeAnswer{"fake helped.example.io": {user: "h-user", secret: "h-secret"}}},
			want:      auths{"helped.example.io": up("h-user", "h-secret")},
			wantCalls: []string{"fake helped.example.io"}},
		{name: "credsStore: asked for Docker Hub by docker's key", image: "docker.io/team/app",
			configs:   []string{`{"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "desktop"}`},
			helper:    &fakeHelper{answers: map[string]fakeAnswer{"desktop https://index.docker.io/v1/": {user: "hub", secret: "hub-secret"}}},
			want:      auths{"index.docker.io": up("hub", "hub-secret")},
			wantCalls: []string{"desktop https://index.docker.io/v1/"}},
		{name: "helpers run only for matching keys", image: "b.example.io/app",
			configs: []string{`{"auths": {"a.example.io": {}, "b.example.io": {}, "c.example.io": {}}, "credsStore": "store",
				"credHelpers": {"d.example.io": "other"}}`},
			helper:    &fakeHelper{answers: map[string]fakeAnswer{"store b.example.io": {user: "b", secret: "b-secret"}}},
			want:      auths{"b.example.io": up("b", "b-secret")},
			wantCalls: []string{"store b.example.io"}},
		{name: "no matching key, no helper run", image: "z.example.io/app",
			configs:   []string{`{"auths": {"a.example.io": {}}, "credsStore": "store"}`},
			helper:    &fakeHelper{},
			want:      auths{},
			wantCalls: nil},
		{name: "helper not found means no credentials", image: "helped.example.io/app",
			configs:   []string{`{"credHelpers": {"helped.example.io": "fake"}}`},
			helper:    &fakeHelper{},
			want:      auths{},
			wantCalls: []string{"fake helped.example.io"}},
		{name: "helper not found passes to the next config with the key", image: "helped.example.io/app",
			configs:   []string{`{"credHelpers": {"helped.example.io": "fake"}}`, `{"helped.example.io": {"username": "later", "password": "later-pass"}}`},
			helper:    &fakeHelper{},
			want:      auths{"helped.example.io": up("later", "later-pass")},
			wantCalls: []string{"fake helped.example.io"}},
		{name: "static entry in an earlier config: no helper run", image: "helped.example.io/app",
			configs:   []string{`{"helped.example.io": {"username": "first", "password": "first-pass"}}`, `{"credHelpers": {"helped.example.io": "fake"}}`},
			helper:    &fakeHelper{},
			want:      auths{"helped.example.io": up("first", "first-pass")},
			wantCalls: nil},
		{name: "helper's <token> answer is an identity token", image: "helped.example.io/app", tokenUser: "tu",
			configs:   []string{`{"credHelpers": {"helped.example.io": "fake"}}`},
			helper:    &fakeHelper{answers: map[string]fakeAnswer{"fake helped.example.io": {user: "<token>", secret: "refresh"}}},
			want:      auths{"helped.example.io": up("tu", "refresh")},
			wantCalls: []string{"fake helped.example.io"}},
		{name: "Docker Hub falls back when the matching helper has nothing", image: "docker.io/library/nginx",
			configs: []string{`{"credHelpers": {"docker.io": "fake"}}`, `{"auths": {"https://index.docker.io/v1/": {"username": "hub", "password": "hub-pass"}}}`},
			helper:  &fakeHelper{},
			want:    auths{"index.docker.io": up("hub", "hub-pass")}, wantCalls: []string{"fake docker.io"}},
		{name: "helpers disabled: helper entries passed over", image: "helped.example.io/app", noHelpers: true,
			configs: []string{`{"credHelpers": {"helped.example.io": "fake"}}`, `{"helped.example.io": {"username": "later", "password": "later-pass"}}`},
			want:    auths{"helped.example.io": up("later", "later-pass")}},
		{name: "helper failure is an error", image: "helped.example.io/app",
			configs: []string{`{"credHelpers": {"helped.example.io": "fake"}}`, `{"helped.example.io": {"username": "later", "password": "later-pass"}}`},
			helper: &fakeHelper{answers: map[string]fakeAnswer{"fake helped.example.io": {
				err: fmt.Errorf("docker-credential-fake get for helped.example.io: %w: exit status 1", ErrHelperFailed)}}},
			wantErr:   ErrHelperFailed,
			wantCalls: []string{"fake helped.example.io"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var configs []*Config
			for i, doc := range tt.configs {
				configs = append(configs, mustParse(t, fmt.Sprintf("config%d", i), doc))
			}
			opts := ResolveOptions{IdentityTokenUsername: tt.tokenUser}
			helper := tt.helper
			if helper == nil {
				helper = &fakeHelper{}
			}
			if !tt.noHelpers {
				opts.Helper = helper
			}
			got, err := Resolve(context.Background(), tt.image, configs, opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Resolve(%q) = %v, %v, want error %v", tt.image, got, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "key helped.example.io in config0") {
					t.Errorf("Resolve(%q) error %q does not name the key and its origin", tt.image, err)
				}
			} else if err != nil {
				t.Fatalf("Resolve(%q) error: %v", tt.image, err)
			} else if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Resolve(%q) (-want +got):\n%s", tt.image, diff)
			}
			if diff := cmp.Diff(tt.wantCalls, helper.Calls()); diff != "" {
				t.Errorf("Resolve(%q) helper calls (-want +got):\n%s", tt.image, diff)
			}
		})
	}
}

func TestResolveNilConfigs(t *testing.T) {
	got, err := Resolve(context.Background(), "docker.io/library/nginx", []*Config{nil}, ResolveOptions{})
	if err != nil || len(got) != 0 {
		t.Errorf("Resolve(nil config) = %v, %v, want empty", got, err)
	}
}

func TestCacheKeyType(t *testing.T) {
	tests := []struct {
		name  string
		image string
		doc   string
		want  providers.CacheKeyType
	}{
		{name: "host keys only", image: "a.example.io/x", doc: `{"a.example.io": {"auth": "dTpw"}, "*.example.io": {"auth": "dTpw"}}`, want: providers.CacheKeyRegistry},
		{name: "path key on the registry", image: "a.example.io/x", doc: `{"a.example.io/team": {"auth": "dTpw"}}`, want: providers.CacheKeyImage},
		{name: "path key on a glob matching the registry", image: "a.example.io/x", doc: `{"*.example.io/team": {"auth": "dTpw"}}`, want: providers.CacheKeyImage},
		{name: "path key on another registry", image: "a.example.io/x", doc: `{"b.example.io/team": {"auth": "dTpw"}}`, want: providers.CacheKeyRegistry},
		{name: "path key on another port", image: "a.example.io:5000/x", doc: `{"a.example.io/team": {"auth": "dTpw"}}`, want: providers.CacheKeyRegistry},
		{name: "Docker Hub path key", image: "docker.io/library/nginx", doc: `{"docker.io/library": {"auth": "dTpw"}}`, want: providers.CacheKeyImage},
		{name: "index.docker.io path keys never serve docker.io images", image: "docker.io/library/nginx", doc: `{"index.docker.io/library": {"auth": "dTpw"}}`, want: providers.CacheKeyRegistry},
		{name: "no entries", image: "a.example.io/x", doc: `{}`, want: providers.CacheKeyRegistry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, "doc", tt.doc)
			if got := CacheKeyType(tt.image, []*Config{cfg, nil}); got != tt.want {
				t.Errorf("CacheKeyType(%q, %s) = %v, want %v", tt.image, tt.doc, got, tt.want)
			}
		})
	}
}

func TestResolveWithHelperFunc(t *testing.T) {
	cfg := mustParse(t, "doc", `{"credHelpers": {"helped.example.io": "fake"}}`)
	var asked []string
	helper := HelperFunc(func(_ context.Context, name, server string) (string, string, error) {
		asked = append(asked, name+" "+server)
		return "u", "s", nil
	})
	got, err := Resolve(context.Background(), "helped.example.io/app", []*Config{cfg}, ResolveOptions{Helper: helper})
	if err != nil || !cmp.Equal(got, auths{"helped.example.io": up("u", "s")}) || !cmp.Equal(asked, []string{"fake helped.example.io"}) {
		t.Errorf("Resolve() = %v, %v after asking %q", got, err, asked)
	}
}
