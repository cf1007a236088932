package mirror

import (
	"errors"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/providers/keyring"
)

const ecrMirror = "111122223333.dkr.ecr.us-east-1.amazonaws.com"

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Mapping
		err  string
	}{
		{name: "ECR pull-through cache", in: "docker.io=" + ecrMirror + "/docker-hub", want: Mapping{Upstream: "docker.io", Host: ecrMirror, Path: "docker-hub"}},
		{name: "Artifact Registry remote repository", in: "docker.io=us-docker.pkg.dev/my-project/dockerhub-remote", want: Mapping{Upstream: "docker.io", Host: "us-docker.pkg.dev", Path: "my-project/dockerhub-remote"}},
		{name: "mirror without path", in: "registry.k8s.io=mirror.corp.example", want: Mapping{Upstream: "registry.k8s.io", Host: "mirror.corp.example"}},
		{name: "mirror with port and trailing slash", in: "quay.io=mirror.corp.example:5000/quay/", want: Mapping{Upstream: "quay.io", Host: "mirror.corp.example:5000", Path: "quay"}},
		{name: "index.docker.io is docker.io", in: "index.docker.io=mirror.corp.example", want: Mapping{Upstream: "docker.io", Host: "mirror.corp.example"}},
		{name: "upstream with port", in: "r.example.com:5000=mirror.corp.example", want: Mapping{Upstream: "r.example.com:5000", Host: "mirror.corp.example"}},
		{name: "wildcard under a registrable domain", in: "*.example.com=mirror.corp.example", want: Mapping{Upstream: "*.example.com", Host: "mirror.corp.example"}},
		{name: "no equals sign", in: "docker.io", err: "want UPSTREAM=MIRROR"},
		{name: "empty upstream", in: "=mirror.corp.example", err: "upstream: empty"},
		{name: "empty mirror", in: "docker.io=", err: "mirror: empty"},
		{name: "upstream with scheme", in: "https://docker.io=mirror.corp.example", err: "has a scheme"},
		{name: "upstream with path", in: "docker.io/library=mirror.corp.example", err: "has a path"},
		{name: "upstream upper case", in: "Docker.io=mirror.corp.example", err: "lower case"},
		{name: "upstream empty label", in: "docker..io=mirror.corp.example", err: "empty host label"},
		{name: "wildcard over com", in: "*.com=mirror.corp.example", err: "wildcard covers a public suffix"},
		{name: "wildcard over co.uk", in: "*.co.uk=mirror.corp.example", err: "wildcard covers a public suffix"},
		{name: "wildcard over github.io (private section)", in: "*.github.io=mirror.corp.example", err: "wildcard covers a public suffix"},
		{name: "partial wildcard label over com", in: "docker*.com=mirror.corp.example", err: "wildcard covers a public suffix"},
		{name: "wildcard top-level domain", in: "docker.*=mirror.corp.example", err: "top-level domain itself"},
		{name: "mirror with scheme", in: "docker.io=https://mirror.corp.example", err: "has a scheme"},
		{name: "mirror with wildcard", in: "docker.io=*.corp.example", err: "no wildcards"},
		{name: "mirror that reads as a Docker Hub repository", in: "docker.io=mirror/dockerhub", err: "not a registry host"},
		{name: "mirror with upper-case path", in: "docker.io=mirror.corp.example/DockerHub", err: "not a registry host"},
		{name: "mirror on the upstream itself", in: "registry.k8s.io=registry.k8s.io/mirror", err: "on the upstream itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrInvalidMapping) {
					t.Fatalf("Parse(%q) = %+v, %v, want error containing %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			tt.want.Source = "--mirror"
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// TestMap maps images as a person types them, normalised as the kubelet sends them.
func TestMap(t *testing.T) {
	hub, _ := Parse("docker.io=" + ecrMirror + "/docker-hub")
	k8s, _ := Parse("registry.k8s.io=" + ecrMirror + "/k8s")
	flat, _ := Parse("docker.io=mirror.corp.example:5000")
	wild, _ := Parse("*.example.com=mirror.corp.example/ex")
	ms := []Mapping{hub, k8s, wild}
	tests := []struct {
		name     string
		mappings []Mapping
		image    string
		want     string // "" for no mapping
	}{
		{name: "short name", mappings: ms, image: "nginx", want: ecrMirror + "/docker-hub/library/nginx"},
		{name: "short name with tag", mappings: ms, image: "nginx:1.27", want: ecrMirror + "/docker-hub/library/nginx"},
		{name: "library/ prefix", mappings: ms, image: "library/nginx", want: ecrMirror + "/docker-hub/library/nginx"},
		{name: "user repository", mappings: ms, image: "bitnami/redis", want: ecrMirror + "/docker-hub/bitnami/redis"},
		{name: "docker.io/x/y", mappings: ms, image: "docker.io/x/y", want: ecrMirror + "/docker-hub/x/y"},
		{name: "index.docker.io/x/y", mappings: ms, image: "index.docker.io/x/y", want: ecrMirror + "/docker-hub/x/y"},
		{name: "digest", mappings: ms, image: "docker.io/library/nginx@sha256:" + strings.Repeat("a", 64), want: ecrMirror + "/docker-hub/library/nginx"},
		{name: "registry.k8s.io", mappings: ms, image: "registry.k8s.io/pause:3.10", want: ecrMirror + "/k8s/pause"},
		{name: "nested registry.k8s.io path", mappings: ms, image: "registry.k8s.io/ingress-nginx/controller:v1", want: ecrMirror + "/k8s/ingress-nginx/controller"},
		{name: "mirror without path", mappings: []Mapping{flat}, image: "nginx", want: "mirror.corp.example:5000/library/nginx"},
		{name: "wildcard upstream", mappings: ms, image: "r.example.com/team/app", want: "mirror.corp.example/ex/team/app"},
		{name: "wildcard upstream needs the same label count", mappings: ms, image: "a.b.example.com/app"},
		{name: "registry-1.docker.io is not an alias", mappings: ms, image: "registry-1.docker.io/library/nginx"},
		{name: "lookalike suffix", mappings: ms, image: "docker.io.evil.example/library/nginx"},
		{name: "lookalike prefix", mappings: ms, image: "evildocker.io/library/nginx"},
		{name: "upstream with a port is another registry", mappings: ms, image: "docker.io:443/library/nginx"},
		{name: "the mirror itself", mappings: ms, image: ecrMirror + "/docker-hub/library/nginx"},
		{name: "other registry", mappings: ms, image: "quay.io/coreos/etcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			image, err := keyring.NormalizeImage(tt.image)
			if err != nil {
				t.Fatal(err)
			}
			m, ok := Find(tt.mappings, image)
			got := ""
			if ok {
				got = m.Map(image)
			}
			if got != tt.want {
				t.Errorf("Find(%q).Map = %q, want %q", image, got, tt.want)
			}
		})
	}
}
