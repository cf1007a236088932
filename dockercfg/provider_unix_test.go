//go:build unix

package dockercfg

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/providers"
)

// TestNoSecretsInStderr runs success and failure paths at the highest verbosity and checks
// that no credential, encoded or not, reaches stderr (the kubelet copies it into its log).
func TestNoSecretsInStderr(t *testing.T) {
	fakeHelpers(t)
	base, _ := isolated(t)
	secrets := []string{
		"static-secret-pass", "token-secret-refresh", "nocolon-secret", "bad-entry-secret",
		"helper-secret", "failure text", "s3cr3t",
	}
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, s := range []string{"user:static-secret-pass", "nocolon-secret"} {
		secrets = append(secrets, enc(s), strings.TrimRight(enc(s), "="))
	}
	dir := t.TempDir()
	cfg := writeFile(t, dir, "config.json", []byte(`{
		"auths": {
			"static.example.io": {"auth": "`+enc("user:static-secret-pass")+`"},
			"token.example.io": {"identitytoken": "token-secret-refresh"},
			"nocolon.example.io": {"auth": "`+enc("nocolon-secret")+`"},
			"badentry.example.io": {"password": ["bad-entry-secret"]},
			"stored.example.io": {}
		},
		"credsStore": "ok",
		"credHelpers": {"failing.example.io": "fail", "hanging.example.io": "hang", "bg.example.io": "background"}
	}`), 0o644) // wider than 0600 on purpose: the warning must not quote anything either
	malformed := writeFile(t, dir, "bad.json", []byte(`{"auths":{"a.io":{"password":"s3cr3t`), 0o600)
	tests := []struct {
		name     string
		args     []string
		image    string
		wantCode int
	}{
		{name: "static", args: []string{"--config", cfg}, image: "static.example.io/app"},
		{name: "identity token", args: []string{"--config", cfg}, image: "token.example.io/app"},
		{name: "credsStore helper", args: []string{"--config", cfg}, image: "stored.example.io/app"},
		{name: "helper leaving a child behind", args: []string{"--config", cfg}, image: "bg.example.io/app"},
		{name: "no match", args: []string{"--config", cfg}, image: "nginx"},
		{name: "failing helper", args: []string{"--config", cfg}, image: "failing.example.io/app", wantCode: 1},
		{name: "hanging helper", args: []string{"--config", cfg, "--helper-timeout=200ms"}, image: "hanging.example.io/app", wantCode: 1},
		{name: "malformed file", args: []string{"--config", malformed}, image: "a.io/app", wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-v=10"}, tt.args...)
			code, stdout, stderr := execute(t, base, args, request(providers.APIVersionV1, tt.image))
			if code != tt.wantCode {
				t.Fatalf("Execute(%q) = %d, want %d; stderr:\n%s", args, code, tt.wantCode, stderr)
			}
			if code != 0 && stdout != "" {
				t.Errorf("Execute(%q) failed but wrote %q on stdout", args, stdout)
			}
			if code == 0 {
				if _, err := providers.DecodeResponse([]byte(stdout), providers.APIVersionV1); err != nil {
					t.Errorf("Execute(%q) stdout %q is not exactly one response: %v", args, stdout, err)
				}
			}
			for _, s := range secrets {
				if strings.Contains(stderr, s) {
					t.Errorf("Execute(%q) stderr holds %q:\n%s", args, s, stderr)
				}
			}
			if strings.Contains(stdout+stderr, "helper chatter") {
				t.Errorf("Execute(%q): a helper's stderr reached ours", args)
			}
			if tt.args[1] == cfg && !strings.Contains(stderr, "file mode 0644") {
				t.Errorf("Execute(%q) stderr lacks the file mode warning:\n%s", args, stderr)
			}
		})
	}
}
