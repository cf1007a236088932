package ecr

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// TestPluginCapsTokenLifetime: a token that claims to live longer than ECR issues (12 hours)
// is cached, and handed to the kubelet, as if it lived 12 hours.
func TestPluginCapsTokenLifetime(t *testing.T) {
	e := newEnvWith(t, realClock())
	e.srv.SetTokenLifetime(100 * 365 * 24 * time.Hour)
	code, stdout, stderr := execute(t, request(t, providers.APIVersionV1, privateImg, "", nil))
	if code != 0 {
		t.Fatalf("Execute = %d, stderr %q; want 0", code, stderr)
	}
	resp, err := providers.DecodeResponse([]byte(stdout), providers.APIVersionV1)
	if err != nil {
		t.Fatal(err)
	}
	if got, limit := resp.CacheDuration.Duration, MaxTokenLifetime/2; got > limit {
		t.Errorf("cacheDuration = %v for a token claiming a century, want at most %v (half of %v)", got, limit, MaxTokenLifetime)
	}
}

// TestCacheKeyFollowsIdentityInputs: two provider entries that differ only by an input the
// SDK's credential chain reads share a cache directory without sharing tokens. (HOME is
// TestNodeIdentity's: the SDK reads it once per process, so it cannot change in one.)
func TestCacheKeyFollowsIdentityInputs(t *testing.T) {
	const keyA, keyB = "AKIAFAKEHOMEA0000000", "AKIAFAKEHOMEB0000000"
	credentials := func(t *testing.T, dir, keyID string) string {
		t.Helper()
		name := filepath.Join(dir, ".aws", "credentials")
		if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte("[default]\naws_access_key_id = "+keyID+"\naws_secret_access_key = fake-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}
	unset := func(t *testing.T, names ...string) {
		for _, n := range names {
			t.Setenv(n, "")
			os.Unsetenv(n)
		}
	}
	tests := []struct {
		name string
		// setup prepares the environment of entry a (i == 0) or b (i == 1), whose credentials
		// hold keyID.
		setup func(t *testing.T, i int, keyID string)
	}{
		{name: "AWS_SHARED_CREDENTIALS_FILE", setup: func(t *testing.T, i int, keyID string) {
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credentials(t, t.TempDir(), keyID))
		}},
		{name: "AWS_PROFILE", setup: func(t *testing.T, i int, keyID string) {
			name := filepath.Join(os.Getenv("HOME"), "creds")
			data, _ := os.ReadFile(name)
			profile := []string{"a", "b"}[i]
			data = append(data, "["+profile+"]\naws_access_key_id = "+keyID+"\naws_secret_access_key = fake-secret\n"...)
			if err := os.WriteFile(name, data, 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", name)
			t.Setenv("AWS_PROFILE", profile)
		}},
		{name: "same file, rewritten for another identity", setup: func(t *testing.T, i int, keyID string) {
			name := filepath.Join(os.Getenv("HOME"), "creds")
			if err := os.WriteFile(name, []byte("[default]\naws_access_key_id = "+keyID+"\naws_secret_access_key = fake-secret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", name)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			unset(t, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
			t.Setenv("HOME", t.TempDir())
			dir := t.TempDir()
			for i, keyID := range []string{keyA, keyB} {
				tt.setup(t, i, keyID)
				p := e.provider(Options{Cache: e.diskCache(dir)}) // a plugin process of its own
				if _, err := p.Provide(context.Background(), &providers.Request{Image: privateImg}); err != nil {
					t.Fatalf("entry %d: Provide(%q) error: %v", i, privateImg, err)
				}
			}
			var signers []string
			for _, r := range e.srv.Requests(ecrtest.GetAuthorizationToken) {
				signers = append(signers, r.AccessKeyID)
			}
			if len(signers) != 2 || signers[0] != keyA || signers[1] != keyB {
				t.Errorf("GetAuthorizationToken signed by %v, want [%s %s]: the second entry must not get the first one's token", signers, keyA, keyB)
			}
		})
	}
}
