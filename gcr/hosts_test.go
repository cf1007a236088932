package gcr

import (
	"errors"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/providers/keyring"
)

// hostCases are images and how ParseHost classifies them; wantErr marks images that are not
// valid references at all.
var hostCases = []struct {
	name     string
	image    string
	wantKind Kind
	wantLoc  string
	wantErr  bool
}{
	{name: "gcr.io", image: "gcr.io/my-project/app", wantKind: ContainerRegistry},
	{name: "us.gcr.io", image: "us.gcr.io/my-project/app", wantKind: ContainerRegistry, wantLoc: "us"},
	{name: "eu.gcr.io", image: "eu.gcr.io/my-project/app", wantKind: ContainerRegistry, wantLoc: "eu"},
	{name: "asia.gcr.io", image: "asia.gcr.io/my-project/app", wantKind: ContainerRegistry, wantLoc: "asia"},
	{name: "marketplace.gcr.io", image: "marketplace.gcr.io/google/ubuntu2004", wantKind: ContainerRegistry, wantLoc: "marketplace"},
	{name: "gcr.io with tag and digest", image: "gcr.io/p/app:1.2@sha256:" + sixtyFour, wantKind: ContainerRegistry},
	{name: "us-docker.pkg.dev", image: "us-docker.pkg.dev/p/repo/app", wantKind: ArtifactRegistry, wantLoc: "us"},
	{name: "europe-west1-docker.pkg.dev", image: "europe-west1-docker.pkg.dev/p/repo/app", wantKind: ArtifactRegistry, wantLoc: "europe-west1"},
	{name: "us-central1-docker.pkg.dev", image: "us-central1-docker.pkg.dev/p/repo/team/app", wantKind: ArtifactRegistry, wantLoc: "us-central1"},
	{name: "other pkg.dev format host", image: "us-python.pkg.dev/p/repo/app", wantKind: ArtifactRegistry},
	{name: "regional endpoint us-central1", image: "docker.us-central1.rep.pkg.dev/p/repo/app", wantKind: ArtifactRegistryRegional, wantLoc: "us-central1"},
	{name: "regional endpoint europe-west4", image: "docker.europe-west4.rep.pkg.dev/p/repo/app", wantKind: ArtifactRegistryRegional, wantLoc: "europe-west4"},
	{name: "container.cloud.google.com", image: "container.cloud.google.com/distroless/static", wantKind: ContainerCloud},

	{name: "lookalike suffix gcr.io.evil.io", image: "gcr.io.evil.io/p/app"},
	{name: "lookalike prefix evilgcr.io", image: "evilgcr.io/p/app"},
	{name: "lookalike gcr.io.evil", image: "gcr.io.evil/p/app"},
	{name: "lookalike us.gcr.io.evil.com", image: "us.gcr.io.evil.com/p/app"},
	{name: "lookalike pkg.dev.evil.io", image: "pkg.dev.evil.io/p/app"},
	{name: "lookalike us-docker.pkg.dev.evil", image: "us-docker.pkg.dev.evil/p/app"},
	{name: "lookalike evil-pkg.dev", image: "evil-pkg.dev/p/app"},
	{name: "bare pkg.dev", image: "pkg.dev/p/app"},
	{name: "regional endpoint with a suffix", image: "docker.us.rep.pkg.dev.evil.io/p/app"},
	{name: "regional endpoint short of a label", image: "docker.rep.pkg.dev/p/app"},
	{name: "two labels under gcr.io", image: "a.b.gcr.io/p/app"},
	{name: "lookalike container.cloud.google.com.evil.io", image: "container.cloud.google.com.evil.io/x"},
	{name: "lookalike evilcontainer.cloud.google.com", image: "evilcontainer.cloud.google.com/x"},
	{name: "cloud.google.com", image: "cloud.google.com/x"},
	{name: "punycode lookalike", image: "xn--gcr-io-9za.io/p/app"},
	{name: "punycode label under gcr.io is still gcr.io", image: "xn--80ak6aa92e.gcr.io/p/app", wantKind: ContainerRegistry, wantLoc: "xn--80ak6aa92e"},
	{name: "embedded port 443", image: "gcr.io:443/p/app"},
	{name: "embedded port on Artifact Registry", image: "us-docker.pkg.dev:443/p/repo/app"},
	{name: "upper case host (the kubelet matches case-sensitively)", image: "GCR.io/p/app"},
	{name: "gcr.io in the path", image: "evil.com/gcr.io/p/app"},
	{name: "gcr.io in the path of a local registry", image: "localhost:5000/gcr.io/app"},
	{name: "Docker Hub", image: "nginx"},
	{name: "IP address", image: "127.0.0.1:5000/app"},
	{name: "IPv6 address", image: "[::1]:5000/app"},
	{name: "trailing dot is not a valid reference", image: "gcr.io./p/app", wantErr: true},
	{name: "empty label is not a valid reference", image: "us..gcr.io/p/app", wantErr: true},
}

const sixtyFour = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseHost(t *testing.T) {
	for _, tt := range hostCases {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHost(tt.image)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseHost(%q) = %+v, %v, want error %v", tt.image, h, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if h.Kind != tt.wantKind || h.Location != tt.wantLoc {
				t.Errorf("ParseHost(%q) = %+v (%v), want kind %v, location %q", tt.image, h, h.Kind, tt.wantKind, tt.wantLoc)
			}
			norm, _ := keyring.NormalizeImage(tt.image)
			if h.Name != keyring.Registry(norm) {
				t.Errorf("ParseHost(%q).Name = %q, want %q", tt.image, h.Name, keyring.Registry(norm))
			}
			// The classification agrees with the kubelet matching DefaultRegistries.
			if got := matchesAny(DefaultRegistries(), norm); got != (h.Kind != NotGoogle) {
				t.Errorf("ParseHost(%q).Kind = %v, but the kubelet would match DefaultRegistries: %v", tt.image, h.Kind, got)
			}
		})
	}
}

func matchesAny(patterns []string, image string) bool {
	for _, p := range patterns {
		if ok, _ := keyring.Match(p, image); ok {
			return true
		}
	}
	return false
}

// TestProvideHosts runs every host of hostCases through Provide: Google hosts get a token whose
// auth keys the kubelet would apply to the image, every other host gets an error and nothing.
func TestProvideHosts(t *testing.T) {
	startMetadata(t)
	p, _ := testProvider(t, newClock(), Options{})
	for _, tt := range hostCases {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := p.Provide(ctxT(t), request(tt.image))
			if tt.wantErr || tt.wantKind == NotGoogle {
				if err == nil {
					t.Fatalf("Provide(%q) = %+v, want an error", tt.image, resp)
				}
				if !tt.wantErr && !errors.Is(err, ErrNotGoogleRegistry) {
					t.Errorf("Provide(%q) error = %v, want ErrNotGoogleRegistry", tt.image, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Provide(%q) = %v", tt.image, err)
			}
			norm, _ := keyring.NormalizeImage(tt.image)
			matched := false
			for key := range resp.Auth {
				if ok, _ := keyring.Match(key, norm); ok {
					matched = true
				}
			}
			if !matched {
				t.Errorf("Provide(%q): no auth key of %v matches the image", tt.image, keysOf(resp.Auth))
			}
		})
	}
}

func TestProvidePortHint(t *testing.T) {
	startMetadata(t)
	p, _ := testProvider(t, newClock(), Options{})
	_, err := p.Provide(ctxT(t), request("gcr.io:443/p/app"))
	if !errors.Is(err, ErrNotGoogleRegistry) {
		t.Fatalf("Provide(gcr.io:443/p/app) = %v, want ErrNotGoogleRegistry", err)
	}
	if want := "a registry with a port never matches"; !strings.Contains(err.Error(), want) {
		t.Errorf("Provide(gcr.io:443/p/app) = %q, want it to say %q", err, want)
	}
}

func TestExtraRegistries(t *testing.T) {
	startMetadata(t)
	p, _ := testProvider(t, newClock(), Options{Registries: []string{"mirror.example.com", "*.corp.example.com/gcr", "gcr.io"}})
	tests := []struct {
		name  string
		image string
		want  bool
	}{
		{name: "extra host", image: "mirror.example.com/p/app", want: true},
		{name: "extra wildcard with path", image: "eu.corp.example.com/gcr/app", want: true},
		{name: "extra wildcard, other path", image: "eu.corp.example.com/other/app"},
		{name: "default still served", image: "us-docker.pkg.dev/p/r/app", want: true},
		{name: "other host", image: "example.com/app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Provide(ctxT(t), request(tt.image))
			if (err == nil) != tt.want {
				t.Errorf("Provide(%q) = %v, want success %v", tt.image, err, tt.want)
			}
		})
	}
	if got, want := len(p.Patterns()), len(DefaultRegistries())+2; got != want {
		t.Errorf("Patterns() = %v, want %d patterns (a duplicate is dropped)", p.Patterns(), want)
	}
}

func TestValidateRegistry(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		wantErr bool
	}{
		{name: "host", pattern: "mirror.example.com"},
		{name: "host with port", pattern: "mirror.example.com:5000"},
		{name: "host with path", pattern: "mirror.example.com/gcr"},
		{name: "wildcard label", pattern: "*.example.com"},
		{name: "empty", pattern: "", wantErr: true},
		{name: "scheme", pattern: "https://mirror.example.com", wantErr: true},
		{name: "wildcard domain", pattern: "*.com", wantErr: true},
		{name: "wildcard everything", pattern: "*.*", wantErr: true},
		{name: "wildcard in the registrable domain", pattern: "mirror.*.com", wantErr: true},
		{name: "single label", pattern: "localhost", wantErr: true},
		{name: "user info", pattern: "user:pw@mirror.example.com", wantErr: true},
		{name: "query", pattern: "mirror.example.com?x=1", wantErr: true},
		{name: "empty label", pattern: "mirror..example.com", wantErr: true},
		{name: "space", pattern: "mirror.example.com ", wantErr: true},
		{name: "bad escape", pattern: "mirror.example.com/%zz", wantErr: true},
		// A wildcard over a public suffix matches domains anyone can register (issue 20, 4.8).
		{name: "wildcard over co.uk", pattern: "*.co.uk", wantErr: true},
		{name: "wildcard over github.io (private section)", pattern: "*.github.io", wantErr: true},
		{name: "partial wildcard over co.uk", pattern: "mirror-*.co.uk", wantErr: true},
		{name: "wildcard over appspot.com, with a path", pattern: "*.appspot.com/images", wantErr: true},
		{name: "wildcard over a public suffix, deeper", pattern: "eu.*.co.uk", wantErr: true},
		{name: "wildcard under a registrable domain of co.uk", pattern: "*.example.co.uk"},
		{name: "wildcard under a project of github.io", pattern: "*.someone.github.io"},
		{name: "wildcard under a private domain", pattern: "*.registry.corp.internal"},
		{name: "literal host under co.uk", pattern: "registry.example.co.uk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := validateRegistry(tt.pattern); (err != nil) != tt.wantErr {
				t.Errorf("validateRegistry(%q) = %v, want error %v", tt.pattern, err, tt.wantErr)
			}
		})
	}
}

func FuzzParseHost(f *testing.F) {
	for _, tt := range hostCases {
		f.Add(tt.image)
	}
	f.Fuzz(func(t *testing.T, image string) {
		h, err := ParseHost(image)
		norm, nerr := keyring.NormalizeImage(image)
		if (err != nil) != (nerr != nil) {
			t.Fatalf("ParseHost(%q) error = %v, but NormalizeImage error = %v", image, err, nerr)
		}
		if err != nil {
			return
		}
		if h.Name != keyring.Registry(norm) {
			t.Fatalf("ParseHost(%q).Name = %q, want %q", image, h.Name, keyring.Registry(norm))
		}
		// ParseHost says Google exactly when the kubelet would match a default pattern.
		if got := matchesAny(DefaultRegistries(), norm); got != (h.Kind != NotGoogle) {
			t.Fatalf("ParseHost(%q).Kind = %v, but matching DefaultRegistries gives %v", image, h.Kind, got)
		}
		if h.Kind == NotGoogle && h.Location != "" {
			t.Fatalf("ParseHost(%q) = %+v: a location without a Google host", image, h)
		}
	})
}

// FuzzValidateRegistry: a --registry pattern that is accepted only ever matches hosts under
// its own literal domain (its last two labels).
func FuzzValidateRegistry(f *testing.F) {
	for _, s := range [][2]string{
		{"mirror.example.com", "mirror.example.com/app"},
		{"*.example.com", "eu.example.com/app"},
		{"*.*", "evil.io/app"},
		{"*.com", "evil.com/app"},
		{"mirror.example.com:5000/gcr", "mirror.example.com:5000/gcr/app"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, image string) {
		if validateRegistry(pattern) != nil {
			return
		}
		ok, err := keyring.Match(pattern, image)
		if err != nil || !ok {
			return
		}
		p, _ := keyring.ParseSchemeless(pattern)
		i, _ := keyring.ParseSchemeless(image)
		if got, want := lastTwo(i.Hostname()), lastTwo(p.Hostname()); got != want {
			t.Fatalf("validateRegistry(%q) accepted a pattern that matches %q, outside %s", pattern, image, want)
		}
	})
}

func lastTwo(host string) string {
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return host
	}
	return strings.Join(labels[len(labels)-2:], ".")
}
