package keyring

import (
	"strings"
	"testing"
)

func TestNormalizeImage(t *testing.T) {
	tests := []struct {
		name, ref, want string
		wantErr         bool
	}{
		{name: "official image", ref: "nginx", want: "docker.io/library/nginx"},
		{name: "official image with tag", ref: "nginx:1.2", want: "docker.io/library/nginx"},
		{name: "user image", ref: "user/app", want: "docker.io/user/app"},
		{name: "docker.io short", ref: "docker.io/nginx", want: "docker.io/library/nginx"},
		{name: "index.docker.io alias", ref: "index.docker.io/user/app:v1", want: "docker.io/user/app"},
		{name: "registry-1.docker.io is not an alias", ref: "registry-1.docker.io/library/nginx", want: "registry-1.docker.io/library/nginx"},
		{name: "private registry with port and digest", ref: "reg:5000/a/b@sha256:" + sixtyFour, want: "reg:5000/a/b"},
		{name: "tag and digest", ref: "reg.io/a:v1@sha256:" + sixtyFour, want: "reg.io/a"},
		{name: "already normalised", ref: "docker.io/library/nginx", want: "docker.io/library/nginx"},
		{name: "localhost", ref: "localhost/app", want: "localhost/app"},
		{name: "ecr", ref: "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:latest", want: "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app"},
		{name: "empty", ref: "", wantErr: true},
		{name: "uppercase repository", ref: "reg.io/App", wantErr: true},
		{name: "scheme", ref: "https://reg.io/app", wantErr: true},
		{name: "userinfo", ref: "user:pass@reg.io/app", wantErr: true},
		{name: "whitespace", ref: "reg.io/ app", wantErr: true},
		{name: "dot dot", ref: "reg.io/../app", wantErr: true},
		{name: "nul byte", ref: "reg.io/app\x00", wantErr: true},
		{name: "too long", ref: "reg.io/" + string(make([]byte, 300)), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeImage(tt.ref)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("NormalizeImage(%q) = %q, %v, want %q, error %v", tt.ref, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

const sixtyFour = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestNormalizeKey(t *testing.T) {
	tests := []struct{ name, key, want string }{
		{"docker hub legacy key", "https://index.docker.io/v1/", "index.docker.io"},
		{"v2 path", "https://registry.io/v2/", "registry.io"},
		{"v1 path with more", "https://registry.io/v1/team", "registry.io/team"},
		{"http scheme", "http://registry.io:5000", "registry.io:5000"},
		{"no scheme", "registry.io", "registry.io"},
		{"path kept", "registry.io/team/app", "registry.io/team/app"},
		{"trailing slash only", "https://registry.io/", "registry.io"},
		{"wildcard key", "*.example.io", "*.example.io"},
		{"v3 is a path", "registry.io/v3/", "registry.io/v3/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeKey(tt.key)
			if err != nil || got != tt.want {
				t.Errorf("NormalizeKey(%q) = %q, %v, want %q", tt.key, got, err, tt.want)
			}
		})
	}
}

func TestIsDockerHub(t *testing.T) {
	tests := []struct {
		image string
		want  bool
	}{
		{"foo/bar", true},
		{"docker.io/foo/bar", true},
		{"index.docker.io/foo/bar", true},
		{"foo", true},
		{"", false},
		{"registry.tld/foo/bar", false},
		{"registry:5000/foo/bar", false},
		{"myhostdocker.io/foo/bar", false},
		{"registry-1.docker.io/foo/bar", false},
	}
	for _, tt := range tests {
		if got := IsDockerHub(tt.image); got != tt.want {
			t.Errorf("IsDockerHub(%q) = %v, want %v", tt.image, got, tt.want)
		}
	}
}

func TestRegistry(t *testing.T) {
	for image, want := range map[string]string{
		"docker.io/library/nginx": "docker.io",
		"reg:5000/a/b":            "reg:5000",
		"localhost":               "localhost",
	} {
		if got := Registry(image); got != want {
			t.Errorf("Registry(%q) = %q, want %q", image, got, want)
		}
	}
}

// TestNormalizeImageErrorRedactsByPosition: the userinfo is found where it stands in the
// reference (a password may hold "/"), and only there is it replaced (a short userinfo such as
// "a" must not be replaced inside the words of the message).
func TestNormalizeImageErrorRedactsByPosition(t *testing.T) {
	tests := []struct {
		name    string
		ref     string
		secrets []string // none of them may be in the message
		want    string   // the message holds this
	}{
		{name: "password with a slash", ref: "robot:S3cr/etPass@registry.example.io/app",
			secrets: []string{"S3cr", "etPass"}, want: `"REDACTED@registry.example.io/app"`},
		{name: "password with a slash and a scheme", ref: "https://robot:S3cr/etPass@registry.example.io/app",
			secrets: []string{"S3cr", "etPass"}, want: "REDACTED@registry.example.io/app"},
		{name: "password with slashes and a digest", ref: "robot:a/b/S3cretPass@registry.example.io/app@sha256:" + strings.Repeat("ab", 32),
			secrets: []string{"S3cretPass"}, want: "REDACTED@registry.example.io/app@sha256:"},
		{name: "short userinfo", ref: "a@reg.example.io/x", want: `invalid image reference "REDACTED@reg.example.io/x"`},
		{name: "userinfo also in the path", ref: "pw1@reg.example.io/pw1", want: `"REDACTED@reg.example.io/pw1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NormalizeImage(tt.ref)
			if err == nil {
				t.Fatalf("NormalizeImage(%q) = nil error, want an invalid reference", tt.ref)
			}
			msg := err.Error()
			for _, s := range tt.secrets {
				if strings.Contains(msg, s) {
					t.Errorf("NormalizeImage(%q) error %q quotes %q", tt.ref, msg, s)
				}
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("NormalizeImage(%q) error %q, want it to hold %q", tt.ref, msg, tt.want)
			}
			if strings.Count(msg, "REDACTED") > 2 || strings.Contains(msg, "REDACTEDnvalid") || strings.Contains(msg, "invREDACTED") {
				t.Errorf("NormalizeImage(%q) error %q replaced text that is not the userinfo", tt.ref, msg)
			}
		})
	}
}

func TestNormalizeImageErrorHidesUserinfo(t *testing.T) {
	for _, ref := range []string{"user:PASSWORD@gcr.io/p/app", "https://user:PASSWORD@gcr.io/p/app", "PASSWORD@reg.io", "a@b:PASSWORD@reg.io/x"} {
		_, err := NormalizeImage(ref)
		if err == nil {
			t.Errorf("NormalizeImage(%q) = nil error, want an invalid reference", ref)
			continue
		}
		if strings.Contains(err.Error(), "PASSWORD") {
			t.Errorf("NormalizeImage(%q) error %q quotes the userinfo", ref, err)
		}
	}
}
