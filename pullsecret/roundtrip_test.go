package pullsecret

import (
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/internal/plugintest"
)

// TestRoundTrip makes a Secret with every form of create and checks it with check: a valid
// pull secret, serving the image with the credentials that went in, no secret shown unless
// asked for.
func TestRoundTrip(t *testing.T) {
	config := writeFile(t, "config.json", `{"auths":{"registry.example.io":{"auth":"`+testAuth+`"}}}`)
	answer := plugintest.Binary(t, "answer")
	tests := []struct {
		name  string
		args  []string
		stdin string
		image string
		user  string
	}{
		{name: "docker flags", image: "registry.example.io/app", user: testUser,
			args: []string{"--docker-server=registry.example.io", "--docker-username=" + testUser, "--docker-password=" + testPassword}},
		{name: "docker flags, Docker Hub by default, json", image: "library/nginx:1.27", user: testUser,
			args: []string{"--docker-username=" + testUser, "--docker-password=" + testPassword, "--docker-email=a@example.io", "-o", "json"}},
		{name: "password on stdin", image: "registry.example.io:5000/team/app", user: testUser, stdin: testPassword + "\n",
			args: []string{"--docker-server=https://registry.example.io:5000/v2/team", "--docker-username=" + testUser, "--docker-password-stdin"}},
		{name: "docker config file", image: "registry.example.io/app", user: testUser,
			args: []string{"--from-docker-config", config}},
		{name: "docker config on stdin", image: "registry.example.io/app", user: testUser, stdin: `{"auths":{"registry.example.io":{"auth":"` + testAuth + `"}}}`,
			args: []string{"--from-docker-config", "-", "--image", "registry.example.io/app"}},
		{name: "provider with a wildcard key", image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.0", user: "AWS",
			args: []string{"--from-provider", answer, "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.0", "--provider-arg=--auth=*.dkr.ecr.*.amazonaws.com=AWS:" + testPassword}},
		{name: "provider in v1beta1 for two images", image: "registry.example.io/b", user: testUser,
			args: []string{"--from-provider", answer, "registry.example.io/a", "--image=registry.example.io/b", "--api-version=v1beta1", "--provider-arg=--auth=registry.example.io=" + testUser + ":" + testPassword}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"create", "regcred", "-n", "apps"}, tc.args...)
			code, secret, stderr := run(t, tc.stdin, args...)
			if code != ExitOK || stderr != "" {
				t.Fatalf("Command(%q) = %d, stderr %q; want 0 and nothing", args, code, stderr)
			}
			path := writeFile(t, "secret", secret)

			code, report, stderr := run(t, "", "check", path, "--image", tc.image)
			if code != ExitOK || stderr != "" {
				t.Fatalf("Command(check --image %s) = %d, stderr %q:\n%s", tc.image, code, stderr, report)
			}
			assertNoSecret(t, "check", report)
			if !strings.Contains(report, "OK: a valid image pull secret") || !strings.Contains(report, "    uses ") {
				t.Errorf("Command(check --image %s) =\n%s\nwant OK and the image served", tc.image, report)
			}

			code, shown, _ := run(t, "", "check", "--show-secrets", path)
			if want := "user " + `"` + tc.user + `"` + ", password " + testPassword; code != ExitOK || !strings.Contains(shown, want) {
				t.Errorf("Command(check --show-secrets) = %d,\n%s\nwant %q", code, shown, want)
			}
		})
	}
}
