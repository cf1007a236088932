package keyring

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func keysOf(creds []Credential) []string {
	var out []string
	for _, c := range creds {
		out = append(out, c.Key+"="+c.Username)
	}
	return out
}

func TestKeyringLookup(t *testing.T) {
	type entry struct{ key, user string }
	tests := []struct {
		name    string
		entries []entry
		image   string
		want    []string
	}{
		{"scheme and v1 path stripped", []entry{{"https://hello.kubernetes.io", "u"}}, "hello.kubernetes.io/foo/bar", []string{"hello.kubernetes.io=u"}},
		{"glob key", []entry{{"https://*.docker.io/path", "u"}}, "prefix.docker.io/path/foo/bar", []string{"*.docker.io/path=u"}},
		{"v1 path on a glob key means host only", []entry{{"https://*.docker.io/v1/", "u"}}, "prefix.docker.io/path:1111/foo/bar", []string{"*.docker.io=u"}},
		{"v2 path on a glob key means host only", []entry{{"https://*.docker.io/v2/", "u"}}, "prefix.docker.io/path:1111/foo/bar", []string{"*.docker.io=u"}},
		{"key with port", []entry{{"prefix.docker.io:1111", "u"}}, "prefix.docker.io:1111/path/foo/bar", []string{"prefix.docker.io:1111=u"}},
		{"miss on another host", []entry{{"https://hello.kubernetes.io", "u"}}, "world.mesos.org/foo/bar", nil},
		{"miss on another tld", []entry{{"https://*.docker.com", "u"}}, "prefix.docker.io/foo/bar", nil},
		{"miss on a path with a port-like suffix", []entry{{"https://prefix.*.io/path:1111", "u"}}, "prefix.docker.io/path/subpath:1111/foo/bar", nil},
		{"more specific path first", []entry{{"quay.io", "host"}, {"quay.io/team", "team"}}, "quay.io/team/app", []string{"quay.io/team=team", "quay.io=host"}},
		{"reverse lexical order across hosts", []entry{{"*.example.io", "glob"}, {"a.example.io", "exact"}}, "a.example.io/x", []string{"a.example.io=exact", "*.example.io=glob"}},
		{"one key several credentials in order added", []entry{{"r.io", "first"}, {"https://r.io/v2/", "second"}}, "r.io/x", []string{"r.io=first", "r.io=second"}},
		{"docker hub legacy key serves docker.io images", []entry{{"https://index.docker.io/v1/", "hub"}}, "docker.io/library/nginx", []string{"index.docker.io=hub"}},
		{"docker hub key serves unqualified images", []entry{{"https://index.docker.io/v1/", "hub"}}, "jenkins", []string{"index.docker.io=hub"}},
		{"docker hub key serves qualified index.docker.io images", []entry{{"https://index.docker.io/v1/", "hub"}}, "index.docker.io/google/docker-registry", []string{"index.docker.io=hub"}},
		{"docker hub key does not serve other registries", []entry{{"https://index.docker.io/v1/", "hub"}}, "world.mesos.org/foo/bar", nil},
		{"docker hub fallback only when nothing else matched", []entry{{"https://index.docker.io/v1/", "hub"}, {"docker.io", "short"}}, "docker.io/library/nginx", []string{"docker.io=short"}},
		{"registry-1.docker.io gets no hub fallback", []entry{{"https://index.docker.io/v1/", "hub"}}, "registry-1.docker.io/library/nginx", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var k Keyring
			for _, e := range tt.entries {
				if err := k.Add(e.key, Credential{Username: e.user, Password: "p"}); err != nil {
					t.Fatalf("Add(%q) = %v", e.key, err)
				}
			}
			got := keysOf(k.Lookup(tt.image))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Lookup(%q) mismatch (-want +got):\n%s", tt.image, diff)
			}
		})
	}
}

func TestKeyringAddInvalidKey(t *testing.T) {
	var k Keyring
	if err := k.Add("%zz", Credential{}); err == nil {
		t.Errorf("Add(%q) = nil, want an error", "%zz")
	}
	if got := k.Keys(); len(got) != 0 {
		t.Errorf("Keys() = %v after a failed Add, want none", got)
	}
}

func ExampleMatch() {
	for _, image := range []string{"us.gcr.io/project/app", "gcr.io/project/app", "us.gcr.io:443/project/app"} {
		ok, _ := Match("*.gcr.io", image)
		fmt.Println(image, ok)
	}
	// Output:
	// us.gcr.io/project/app true
	// gcr.io/project/app false
	// us.gcr.io:443/project/app false
}
