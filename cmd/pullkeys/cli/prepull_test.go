package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/prepull"
	"github.com/pullkeys/pullkeys/prepull/critest"
	"github.com/pullkeys/pullkeys/pullsecret"
)

// TestRunPrepull drives prepull against a fake CRI image service (the kubelet's CRI client
// over a unix socket) with the fake provider plugin and a pull Secret.
func TestRunPrepull(t *testing.T) {
	t.Parallel()
	config, bin := setup(t)
	dir := t.TempDir()
	secret, err := pullsecret.Create("regcred", "default", []pullsecret.Auth{{Server: "secret.other.org", Username: "s-user", Password: "s-secret-password"}}, "yaml")
	if err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(dir, "secret.yaml")
	imagesFile := filepath.Join(dir, "images.txt")
	for file, data := range map[string]string{secretFile: string(secret), imagesFile: "# node images\ndocker.io/library/private:v1\n\nsecret.other.org/app:v1  # from the Secret\npublic.other.org/app\n"} {
		if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	registry := []critest.Image{
		{Ref: "docker.io/library/private:v1", Username: "hub-user", Password: "hub-secret-password", Size: 3},
		{Ref: "secret.other.org/app:v1", Username: "s-user", Password: "s-secret-password", Size: 2},
		{Ref: "public.other.org/app:latest", Size: 1},
	}
	fake := critest.New(t, registry)
	base := []string{"prepull", "--runtime-endpoint", fake.Endpoint, "--config", config, "--bin-dir", bin, "--pull-secret", secretFile}

	// --check first: everything is missing, nothing is pulled.
	code, stdout, stderr := run(t, "", append(base, "--check", "--images", imagesFile)...)
	if code != ExitProblems || !strings.Contains(stdout, "0 present, 0 pulled, 3 missing, 0 failed") || len(fake.Pulls()) != 0 {
		t.Errorf("prepull --check = %d, pulls %q\nstdout: %s\nstderr: %s", code, fake.Pulls(), stdout, stderr)
	}

	// The pull: each image with the credential the kubelet would use.
	code, stdout, stderr = run(t, "", append(base, "-o", "json", "--images", imagesFile)...)
	var res prepullResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("prepull -o json: %v\n%s\nstderr: %s", err, stdout, stderr)
	}
	type row struct{ Image, Status, Credential string }
	var got []row
	for _, r := range res.Images {
		got = append(got, row{r.Image, r.Status, r.Credential})
	}
	want := []row{
		{"docker.io/library/private:v1", prepull.StatusPulled, "provider fakeplugin-ok (docker.io)"},
		{"secret.other.org/app:v1", prepull.StatusPulled, "secret regcred (secret.other.org)"},
		{"public.other.org/app", prepull.StatusPulled, "anonymous"},
	}
	if code != ExitOK || !res.OK {
		t.Errorf("prepull = %d, ok %v; want %d\n%s", code, res.OK, ExitOK, stdout)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("prepull results (-want +got):\n%s", diff)
	}
	for _, s := range []string{"hub-secret-password", "s-secret-password"} {
		if strings.Contains(stdout+stderr, s) {
			t.Errorf("prepull output shows a password:\n%s\n%s", stdout, stderr)
		}
	}

	// A second run pulls nothing and prints the allowlist on stdout.
	pulls := len(fake.Pulls())
	code, stdout, stderr = run(t, "", append(base, "--emit-allowlist", "--parallel", "2", "--images", imagesFile)...)
	wantAllow := "imagePullCredentialsVerificationPolicy: NeverVerifyAllowlistedImages\npreloadedImagesVerificationAllowlist:\n- \"docker.io/library/private\"\n- \"public.other.org/app\"\n- \"secret.other.org/app\"\n"
	if code != ExitOK || !strings.HasSuffix(stdout, wantAllow) || !strings.Contains(stderr, "3 present, 0 pulled") || len(fake.Pulls()) != pulls {
		t.Errorf("second prepull = %d, %d new pull(s)\nstdout: %s\nstderr: %s\nwant stdout ending %s", code, len(fake.Pulls())-pulls, stdout, stderr, wantAllow)
	}

	// A missing image: exit 1, the runtime's error and the providers' diagnosis.
	code, stdout, _ = run(t, "", append(base, "docker.io/library/absent:v1")...)
	if code != ExitProblems || !strings.Contains(stdout, "failed  docker.io/library/absent:v1: with provider fakeplugin-ok (docker.io): ") ||
		!strings.Contains(stdout, "not found") || !strings.Contains(stdout, "credentials: 0 from pull Secrets; 1 from providers fakeplugin-ok") {
		t.Errorf("prepull of a missing image = %d\n%s", code, stdout)
	}
}

func TestRunPrepullUsage(t *testing.T) {
	t.Parallel()
	config, _ := setup(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no image", []string{"prepull"}, "no image given"},
		{"config without bin dir", []string{"prepull", "--config", config, "nginx"}, "--bin-dir is required"},
		{"parallel zero", []string{"prepull", "--parallel", "0", "nginx"}, "--parallel must be at least 1"},
		{"images file missing", []string{"prepull", "--images", filepath.Join(t.TempDir(), "nope")}, "no such file"},
		{"runtime not there", []string{"prepull", "--runtime-endpoint", "unix://" + filepath.Join(t.TempDir(), "none.sock"), "--runtime-timeout", "1s", "nginx"}, "connect to the container runtime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := run(t, "", tc.args...)
			if code == ExitOK || !strings.Contains(stderr, tc.want) {
				t.Errorf("Run(%q) = %d, stderr %q; want failure containing %q", tc.args, code, stderr, tc.want)
			}
		})
	}
}
