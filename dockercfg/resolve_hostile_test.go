package dockercfg

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
)

// hostileConfig holds one entry of each kind for hosts the lookalikes below imitate.
const hostileConfig = `{"auths":{
	"registry.example.io":{"auth":"cmVnLXVzZXI6cmVnLXBhc3N3b3Jk"},
	"*.corp.example.io":{"username":"corp-user","password":"corp-password"},
	"quay.io/team":{"username":"team-user","password":"team-password"},
	"registry.example.io:5000":{"username":"port-user","password":"port-password"},
	"https://index.docker.io/v1/":{"username":"hub-user","password":"hub-password"}
}}`

// TestResolve_LookalikeHosts_NoCredentials: images on hosts made to pass for the config's keys
// get nothing from it. Images are as the kubelet sends them (normalised).
func TestResolve_LookalikeHosts_NoCredentials(t *testing.T) {
	cfg := mustParse(t, "config.json", hostileConfig)
	for _, image := range []string{
		"registry.example.io.evil.io/app",
		"evilregistry.example.io/app",
		"registry-example.io/app",
		"registryexample.io/app",
		"registry.example.io:443/app",
		"registry.example.io:5001/app",
		"registry.example.io:50000/app",
		"xn--registry-8za.example.io/app",
		"registry.example.io.localhost/app",
		"a.b.corp.example.io/app",
		"corp.example.io/app",
		"corp.example.io.evil.io/app",
		"build.corp.example.io:443/app",
		"quay.io.evil.io/team/app",
		"quay.io/other/app",
		"quay.io:443/team/app",
		"evil.io/quay.io/team/app",
		"index.docker.io.evil.io/library/nginx",
		"docker.io.evil.io/library/nginx",
		"docker.io:5000/library/nginx",
		"registry-1.docker.io/library/nginx",
		"evil.io/docker.io/library/nginx",
		"localhost/registry.example.io/app",
		"localhost/library/nginx",
		"localhost:5000/registry.example.io/app",
		"127.0.0.1/registry.example.io/app",
		"[::1]:5000/registry.example.io/app",
	} {
		t.Run(image, func(t *testing.T) {
			if norm, err := keyring.NormalizeImage(image); err != nil || norm != image {
				t.Fatalf("NormalizeImage(%q) = %q, %v: the table must hold images as the kubelet sends them", image, norm, err)
			}
			auth, err := Resolve(context.Background(), image, []*Config{cfg}, ResolveOptions{})
			if err != nil || len(auth) != 0 {
				t.Errorf("Resolve(%q) = %v, %v; want no credentials", image, keysOfAuth(auth), err)
			}
		})
	}
}

// TestResolve_LocalhostIsNotDockerHub: the kubelet's rule counts an image whose first path
// element has no "." or ":" as Docker Hub, "localhost/app" included; but the runtime pulls
// "localhost/app" from localhost, where any process on the node may listen. Docker Hub's
// credentials must not go there.
// TestResolve_LocalhostIsNotDockerHub: only images on docker.io get the Docker Hub entry, not
// the other images the kubelet's rule counts as Docker Hub ("localhost/…", and an upper-case
// first element, which the reference parser takes for a registry host).
func TestResolve_LocalhostIsNotDockerHub(t *testing.T) {
	cfg := mustParse(t, "config.json", hostileConfig)
	for _, tt := range []struct {
		image string
		want  []string
	}{
		{"docker.io/library/nginx", []string{keyring.DockerHubKey}},
		{"docker.io/user/app", []string{keyring.DockerHubKey}},
		{"localhost/library/nginx", nil},
		{"localhost/app", nil},
		{"A/0", nil},
		{"Registry/team/app", nil},
	} {
		auth, err := Resolve(context.Background(), tt.image, []*Config{cfg}, ResolveOptions{})
		if err != nil {
			t.Fatalf("Resolve(%q) error: %v", tt.image, err)
		}
		if got := keysOfAuth(auth); !equalStrings(got, tt.want) {
			t.Errorf("Resolve(%q) keys = %v, want %v", tt.image, got, tt.want)
		}
	}
}

func keysOfAuth(m map[string]providers.AuthConfig) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzResolveKeysMatchImage: whatever the document and the image, every key of the answer
// matches the image by the kubelet's rules, or is index.docker.io for an image the runtime
// pulls from Docker Hub: an answer never carries credentials for another host.
func FuzzResolveKeysMatchImage(f *testing.F) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	f.Add([]byte(hostileConfig), "registry.example.io/app")
	f.Add([]byte(hostileConfig), "docker.io/library/nginx")
	f.Add([]byte(hostileConfig), "localhost/library/nginx")
	f.Add([]byte(`{"registry.example.io":{"auth":"`+b64("u:p")+`"}}`), "registry.example.io/x")
	f.Add([]byte(`{"auths":{"*.*.io":{"username":"u","password":"p"},"https://u:p@r.io/v2/":{"auth":"`+b64("a:b")+`"}}}`), "r.io/x")
	f.Fuzz(func(t *testing.T, doc []byte, image string) {
		norm, err := keyring.NormalizeImage(image)
		if err != nil || norm != image {
			return // the kubelet sends normalised images only
		}
		cfg, err := Parse(doc, "fuzz")
		if err != nil {
			return
		}
		auth, err := Resolve(context.Background(), image, []*Config{cfg}, ResolveOptions{})
		if err != nil {
			t.Fatalf("Resolve(%q) without helpers error: %v", image, err)
		}
		for key := range auth {
			if ok, _ := keyring.Match(key, image); ok {
				continue
			}
			if key == keyring.DockerHubKey && keyring.Registry(image) == keyring.DockerHub {
				continue
			}
			t.Errorf("Resolve(%q) answered key %q, which does not match the image", image, key)
		}
	})
}
