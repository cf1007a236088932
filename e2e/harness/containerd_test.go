package harness

import (
	"context"
	"os"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// One containerd for the package's tests, started on first use and stopped by TestMain.
var shared SharedContainerd

func TestMain(m *testing.M) {
	code := m.Run()
	if err := shared.Close(); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		code = 1
	}
	os.Exit(code)
}

func TestContainerdPull(t *testing.T) {
	c := shared.Get(t)
	const ecrHost = "111122223333.dkr.ecr.us-east-1.amazonaws.com"
	reg := startRegistry(t, RegistryOptions{Users: map[string]string{"alice": "s3cret"}})
	ctx := context.Background()
	digest, err := reg.Push(ctx, "team/app", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Serve(reg, reg.Addr, ecrHost); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.RemoveHosts(reg.Addr); c.RemoveHosts(ecrHost) })

	tests := []struct {
		name  string
		image string
		auth  *runtimeapi.AuthConfig
		want  string // "" success; otherwise a substring of the error
	}{
		{name: "anonymous", image: reg.Addr + "/team/app:v1", want: "401 Unauthorized"},
		{name: "wrong password", image: reg.Addr + "/team/app:v1", auth: &runtimeapi.AuthConfig{Username: "alice", Password: "S3cret"}, want: "401 Unauthorized"},
		{name: "right password", image: reg.Addr + "/team/app:v1", auth: &runtimeapi.AuthConfig{Username: "alice", Password: "s3cret"}},
		{name: "cloud name served by the loopback registry", image: ecrHost + "/team/app:v1", auth: &runtimeapi.AuthConfig{Username: "alice", Password: "s3cret"}},
		{name: "server address of another host: no credentials sent", image: ecrHost + "/team/app:v1",
			auth: &runtimeapi.AuthConfig{Username: "alice", Password: "s3cret", ServerAddress: "https://elsewhere.example"}, want: "401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, _, _ := strings.Cut(tt.image, ":v1")
			_ = c.RemoveImage(ctx, tt.image)
			ref, err := c.Pull(ctx, tt.image, tt.auth)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("PullImage(%q) = %q, %v; want an error with %q", tt.image, ref, err, tt.want)
				}
				t.Logf("PullImage(%q): %v", tt.image, err)
				return
			}
			if err != nil {
				t.Fatalf("PullImage(%q) = %v, want success", tt.image, err)
			}
			img, err := c.ImageStatus(ctx, tt.image)
			if err != nil {
				t.Fatal(err)
			}
			if !HasDigest(img, repo, digest.String()) {
				t.Fatalf("ImageStatus(%q) = %v, want %s@%s", tt.image, img, repo, digest)
			}
		})
	}
}
