package harness

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func startRegistry(t *testing.T, opts RegistryOptions) *Registry {
	t.Helper()
	r, err := StartRegistry(context.Background(), opts)
	if err != nil {
		t.Fatalf("StartRegistry() = %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

func TestRegistryPull(t *testing.T) {
	long := strings.Repeat("x", 72) + "tail-that-bcrypt-never-reads"
	reg := startRegistry(t, RegistryOptions{
		Hosts: []string{"123456789012.dkr.ecr.us-east-1.amazonaws.com"},
		Users: map[string]string{"alice": "s3cret", "AWS": long},
	})
	ctx := context.Background()
	digest, err := reg.Push(ctx, "team/app", "v1")
	if err != nil {
		t.Fatalf("Push() = %v", err)
	}

	tests := []struct {
		name     string
		image    string
		cred     *Credential
		wantAuth bool // false: want a 401
	}{
		{name: "right password", image: reg.Addr + "/team/app:v1", cred: &Credential{"alice", "s3cret"}, wantAuth: true},
		{name: "by digest", image: reg.Addr + "/team/app@" + digest.String(), cred: &Credential{"alice", "s3cret"}, wantAuth: true},
		{name: "anonymous", image: reg.Addr + "/team/app:v1"},
		{name: "wrong password", image: reg.Addr + "/team/app:v1", cred: &Credential{"alice", "S3cret"}},
		{name: "unknown user", image: reg.Addr + "/team/app:v1", cred: &Credential{"bob", "s3cret"}},
		{name: "long password", image: reg.Addr + "/team/app:v1", cred: &Credential{"AWS", long}, wantAuth: true},
		{name: "long password wrong past byte 72", image: reg.Addr + "/team/app:v1", cred: &Credential{"AWS", long + "x"}},
		{name: "real host name mapped to loopback", image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1", cred: &Credential{"AWS", long}, wantAuth: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reg.Pull(ctx, tt.image, tt.cred)
			if !tt.wantAuth {
				if !IsUnauthorized(err) {
					t.Fatalf("Pull(%q) = %v, want a 401", tt.image, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Pull(%q) = %v, want success", tt.image, err)
			}
			if got.Digest != digest || got.Layers != 2 || got.Bytes == 0 {
				t.Errorf("Pull(%q) = %+v, want digest %s and 2 non-empty layers", tt.image, got, digest)
			}
		})
	}
}

func TestRegistryRecordsUsersNotPasswords(t *testing.T) {
	reg := startRegistry(t, RegistryOptions{Users: map[string]string{"alice": "s3cret"}})
	ctx := context.Background()
	if _, err := reg.Push(ctx, "app", "v1"); err != nil {
		t.Fatalf("Push() = %v", err)
	}
	if err := reg.AddUser("carol", "pa55"); err != nil {
		t.Fatalf("AddUser() = %v", err)
	}
	if _, err := reg.Pull(ctx, reg.Addr+"/app:v1", &Credential{"carol", "pa55"}); err != nil {
		t.Fatalf("Pull() with a user added after start = %v", err)
	}
	var sawCarol bool
	for _, r := range reg.Requests() {
		if r.User == "carol" && r.Status == 200 {
			sawCarol = true
		}
		if strings.Contains(r.User, "pa55") {
			t.Errorf("Requests() holds a password: %+v", r)
		}
	}
	if !sawCarol {
		t.Errorf("Requests() = %+v, want a 200 for carol", reg.Requests())
	}
}

func TestPullWithAny(t *testing.T) {
	reg := startRegistry(t, RegistryOptions{Users: map[string]string{"alice": "s3cret"}})
	ctx := context.Background()
	if _, err := reg.Push(ctx, "app", "v1"); err != nil {
		t.Fatalf("Push() = %v", err)
	}
	creds := []Credential{{"alice", "wrong"}, {"alice", "s3cret"}}
	i, _, err := reg.PullWithAny(ctx, reg.Addr+"/app:v1", creds)
	if err != nil || i != 1 {
		t.Errorf("PullWithAny() = %d, %v, want 1, nil", i, err)
	}
	if _, _, err := reg.PullWithAny(ctx, reg.Addr+"/app:v1", nil); !IsUnauthorized(err) {
		t.Errorf("PullWithAny(no credentials) = %v, want a 401", err)
	}
}

func TestRegistryTokenAuth(t *testing.T) {
	reg := startRegistry(t, RegistryOptions{Users: map[string]string{"alice": "s3cret-token-user"}, TokenAuth: true})
	ctx := context.Background()
	if _, err := reg.Push(ctx, "team/app", "v1"); err != nil {
		t.Fatalf("Push() with token auth = %v", err)
	}
	tests := []struct {
		name string
		cred *Credential
		ok   bool
	}{
		{name: "right password", cred: &Credential{"alice", "s3cret-token-user"}, ok: true},
		{name: "anonymous"},
		{name: "wrong password", cred: &Credential{"alice", "s3cret-token-usex"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := reg.Pull(ctx, reg.Addr+"/team/app:v1", tt.cred)
			if tt.ok != (err == nil) || (!tt.ok && !IsUnauthorized(err)) {
				t.Fatalf("Pull() = %v, want ok=%v or a 401", err, tt.ok)
			}
		})
	}
	var bearer, basic int
	for _, r := range reg.Requests() {
		switch {
		case r.Auth.Scheme == "Bearer" && strings.HasPrefix(r.Path, "/v2/"):
			bearer++
		case r.Auth.Scheme == "Basic" && r.Path == tokenPath:
			basic++
		case r.Auth.Scheme != "" && strings.HasPrefix(r.Path, "/v2/"):
			t.Errorf("%s %s carried %s, want bearer tokens only", r.Method, r.Path, r.Auth.Scheme)
		}
	}
	if bearer == 0 || basic == 0 {
		t.Errorf("recorded %d bearer requests on /v2/ and %d basic on %s, want both", bearer, basic, tokenPath)
	}
}

func TestSecretMasked(t *testing.T) {
	r := Request{Method: "GET", Path: "/v2/", Auth: Auth{Scheme: "Basic", User: "alice", Secret: "hunter2-secret"}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, r); strings.Contains(got, "hunter2") {
			t.Errorf("Sprintf(%q, request) = %s, shows the secret", verb, got)
		}
	}
	if len(Carrying([]Request{r}, "hunter2-secret")) != 1 || len(Carrying([]Request{r}, "other")) != 0 {
		t.Errorf("Carrying does not compare the recorded secret")
	}
}
