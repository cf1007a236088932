package mirror

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
	"github.com/pullkeys/pullkeys/providers/mirror/mirrortest"
)

// fakeRegistry answers for images on its hosts with a credential keyed by host, as ECR does,
// and records the images it was asked about.
type fakeRegistry struct {
	hosts   []string
	keyType providers.CacheKeyType
	asked   []string
}

func (f *fakeRegistry) serves(_ context.Context, image string) error {
	for _, h := range f.hosts {
		if keyring.Registry(image) == h {
			return nil
		}
	}
	return fmt.Errorf("%s is not a fake registry", keyring.Registry(image))
}

func (f *fakeRegistry) Provide(ctx context.Context, req *providers.Request) (*providers.Response, error) {
	f.asked = append(f.asked, req.Image)
	host := keyring.Registry(req.Image)
	if err := f.serves(ctx, req.Image); err != nil {
		return nil, err
	}
	kt := f.keyType
	if kt == "" {
		kt = providers.CacheKeyRegistry
	}
	return &providers.Response{CacheKeyType: kt, Auth: map[string]providers.AuthConfig{host: {Username: "AWS", Password: "pw-" + host}}}, nil
}

func TestWrapRefusesMirrorNotServed(t *testing.T) {
	reg := &fakeRegistry{hosts: []string{ecrMirror}}
	tests := []struct {
		name string
		flag string
	}{
		{name: "another registry", flag: "docker.io=mirror.corp.example"},
		{name: "lookalike of the provider's registry", flag: "docker.io=" + ecrMirror + ".evil.example/docker-hub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.flag)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Wrap(context.Background(), reg, Options{Mappings: []Mapping{m}}, reg.serves)
			if !errors.Is(err, ErrNotServed) || !strings.Contains(err.Error(), "--mirror "+tt.flag) {
				t.Errorf("Wrap(--mirror %s) error = %v, want ErrNotServed naming the flag", tt.flag, err)
			}
		})
	}
}

func TestWrapWithoutMirrorsIsTheProvider(t *testing.T) {
	reg := &fakeRegistry{}
	p, err := Wrap(context.Background(), reg, Options{}, reg.serves)
	if err != nil || p != providers.Provider(reg) {
		t.Errorf("Wrap(no mirrors) = %T, %v, want the inner provider itself", p, err)
	}
}

func TestProvide(t *testing.T) {
	hub, _ := Parse("docker.io=" + ecrMirror + "/docker-hub")
	unsafe := "[host.\"" + ecrURL + "\"]\noverride_path = true\n"
	tests := []struct {
		name      string
		opts      Options
		files     map[string]string // hosts.toml per upstream; with files, HostsDir is set
		image     string
		innerType providers.CacheKeyType
		wantAuth  map[string]string // key → password
		wantType  providers.CacheKeyType
		wantAsked string
		wantErr   error
	}{
		{name: "upstream image answered keyed for the upstream", opts: Options{Mappings: []Mapping{hub}}, image: "docker.io/library/nginx",
			wantAuth: map[string]string{"docker.io": "pw-" + ecrMirror}, wantType: providers.CacheKeyRegistry, wantAsked: ecrMirror + "/docker-hub/library/nginx"},
		{name: "Global answer for the mirror becomes Registry", opts: Options{Mappings: []Mapping{hub}}, image: "docker.io/x/y", innerType: providers.CacheKeyGlobal,
			wantAuth: map[string]string{"docker.io": "pw-" + ecrMirror}, wantType: providers.CacheKeyRegistry, wantAsked: ecrMirror + "/docker-hub/x/y"},
		{name: "Global answer for the provider's own image becomes Registry", opts: Options{Mappings: []Mapping{hub}}, image: ecrMirror + "/app", innerType: providers.CacheKeyGlobal,
			wantAuth: map[string]string{ecrMirror: "pw-" + ecrMirror}, wantType: providers.CacheKeyRegistry, wantAsked: ecrMirror + "/app"},
		{name: "Image answer stays Image", opts: Options{Mappings: []Mapping{hub}}, image: "docker.io/x/y", innerType: providers.CacheKeyImage,
			wantAuth: map[string]string{"docker.io": "pw-" + ecrMirror}, wantType: providers.CacheKeyImage, wantAsked: ecrMirror + "/docker-hub/x/y"},
		{name: "lookalike upstream gets nothing", opts: Options{Mappings: []Mapping{hub}}, image: "docker.io.evil.example/library/nginx",
			wantAsked: "docker.io.evil.example/library/nginx", wantErr: errFake},
		{name: "safe hosts.toml", opts: Options{Mappings: []Mapping{hub}}, files: map[string]string{"docker.io": safeECR}, image: "nginx",
			wantAuth: map[string]string{"docker.io": "pw-" + ecrMirror}, wantType: providers.CacheKeyRegistry, wantAsked: ecrMirror + "/docker-hub/library/nginx"},
		{name: "upstream fallback refused", opts: Options{Mappings: []Mapping{hub}}, files: map[string]string{"docker.io": unsafe}, image: "nginx",
			wantErr: ErrUnsafeFallback},
		{name: "upstream fallback acknowledged", opts: Options{Mappings: []Mapping{hub}, AllowUpstreamFallback: true}, files: map[string]string{"docker.io": unsafe}, image: "nginx",
			wantAuth: map[string]string{"docker.io": "pw-" + ecrMirror}, wantType: providers.CacheKeyRegistry, wantAsked: ecrMirror + "/docker-hub/library/nginx"},
		{name: "no hosts.toml for the upstream: containerd pulls from it", opts: Options{Mappings: []Mapping{hub}}, files: map[string]string{"quay.io": safeECR}, image: "nginx",
			wantErr: ErrUnsafeFallback},
		{name: "another host before the mirror refused even when acknowledged", opts: Options{Mappings: []Mapping{hub}, AllowUpstreamFallback: true},
			files: map[string]string{"docker.io": "server = \"" + ecrURL + "\"\noverride_path = true\n[host.\"https://other.corp.example\"]\n"}, image: "nginx",
			wantErr: ErrUnsafeFallback},
		{name: "discovered from hosts.toml", files: map[string]string{"docker.io": safeECR}, image: "bitnami/redis",
			wantAuth: map[string]string{"docker.io": "pw-" + ecrMirror}, wantType: providers.CacheKeyRegistry, wantAsked: ecrMirror + "/docker-hub/bitnami/redis"},
		{name: "discovered but unsafe", files: map[string]string{"docker.io": unsafe}, image: "nginx", wantErr: ErrUnsafeFallback},
		{name: "hosts.toml with a mirror of another provider: not ours", files: map[string]string{"docker.io": "server = \"https://m.corp.example\"\n[host.\"https://m.corp.example\"]\n"},
			image: "nginx", wantAsked: "nginx", wantErr: errFake},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := &fakeRegistry{hosts: []string{ecrMirror}, keyType: tt.innerType}
			opts := tt.opts
			if tt.files != nil {
				opts.HostsDir = mirrortest.HostsDir(t, tt.files)
			}
			p, err := Wrap(context.Background(), reg, opts, reg.serves)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := p.Provide(context.Background(), &providers.Request{Image: tt.image})
			if tt.wantAsked != "" && (len(reg.asked) != 1 || reg.asked[0] != tt.wantAsked) {
				t.Errorf("inner provider asked for %q, want [%s]", reg.asked, tt.wantAsked)
			}
			if tt.wantErr != nil {
				if tt.wantErr == errFake {
					if err == nil || !strings.Contains(err.Error(), "not a fake registry") {
						t.Errorf("Provide(%q) error = %v, want the inner provider's refusal", tt.image, err)
					}
				} else if !errors.Is(err, tt.wantErr) {
					t.Errorf("Provide(%q) error = %v, want %v", tt.image, err, tt.wantErr)
				}
				if resp != nil {
					t.Errorf("Provide(%q) answered %v with an error", tt.image, resp.Auth)
				}
				if tt.wantAsked == "" && len(reg.asked) > 0 {
					t.Errorf("inner provider asked for %q, want no request", reg.asked)
				}
				return
			}
			if err != nil {
				t.Fatalf("Provide(%q): %v", tt.image, err)
			}
			got := map[string]string{}
			for k, a := range resp.Auth {
				got[k] = a.Password
			}
			if diff := cmp.Diff(tt.wantAuth, got); diff != "" {
				t.Errorf("Provide(%q).Auth (-want +got):\n%s", tt.image, diff)
			}
			if resp.CacheKeyType != tt.wantType {
				t.Errorf("Provide(%q).CacheKeyType = %q, want %q", tt.image, resp.CacheKeyType, tt.wantType)
			}
		})
	}
}

var errFake = errors.New("the inner provider's own refusal")

func TestUnsafeFallbackErrorNamesFileAndFix(t *testing.T) {
	hub, _ := Parse("docker.io=" + ecrMirror + "/docker-hub")
	root := mirrortest.HostsDir(t, map[string]string{"docker.io": mirrortest.NoServer(ecrURL)})
	reg := &fakeRegistry{hosts: []string{ecrMirror}}
	p, err := Wrap(context.Background(), reg, Options{Mappings: []Mapping{hub}, HostsDir: root}, reg.serves)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Provide(context.Background(), &providers.Request{Image: "nginx"})
	for _, want := range []string{mirrortest.HostsFile(root, "docker.io"), "registry-1.docker.io", `server = "` + ecrURL + `"`, "--" + FlagAllowUpstreamFallback} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Provide error = %v, want it to name %q", err, want)
		}
	}
}

func TestFlagsOf(t *testing.T) {
	o, err := FlagsOf([]string{"--role-arn", "x", "--mirror", "docker.io=" + ecrMirror + "/docker-hub", "--mirror=registry.k8s.io=" + ecrMirror + "/k8s",
		"--containerd-hosts-dir=/etc/containerd/certs.d", "--mirror-allow-upstream-fallback", "-v=3"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range o.Mappings {
		got = append(got, m.String())
	}
	want := []string{"docker.io=" + ecrMirror + "/docker-hub", "registry.k8s.io=" + ecrMirror + "/k8s"}
	if diff := cmp.Diff(want, got); diff != "" || o.HostsDir != "/etc/containerd/certs.d" || !o.AllowUpstreamFallback {
		t.Errorf("FlagsOf = %+v (-want +got mappings):\n%s", o, diff)
	}
	if _, err := FlagsOf([]string{"--mirror", "*.com=m.corp.example"}); err == nil || !strings.Contains(err.Error(), providers.ErrWildcardTooWide.Error()) {
		t.Errorf("FlagsOf(--mirror *.com=…) error = %v, want ErrWildcardTooWide", err)
	}
}
