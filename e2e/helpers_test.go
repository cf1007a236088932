package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/e2e/harness"
	"github.com/pullkeys/pullkeys/kubelet"
)

// startRegistry starts a loopback registry with users for the test and stops it at the end.
func startRegistry(t *testing.T, opts harness.RegistryOptions) *harness.Registry {
	t.Helper()
	reg, err := harness.StartRegistry(context.Background(), opts)
	if err != nil {
		t.Fatalf("StartRegistry() = %v", err)
	}
	t.Cleanup(reg.Close)
	return reg
}

// push pushes the registry's image to repo:tag.
func push(t *testing.T, reg *harness.Registry, repo, tag string) {
	t.Helper()
	if _, err := reg.Push(context.Background(), repo, tag); err != nil {
		t.Fatalf("Push(%q, %q) = %v", repo, tag, err)
	}
}

// newNode writes a CredentialProviderConfig with providers into a temporary directory and
// returns a node whose plugins run from the binaries TestMain built, with an environment of
// HOME (a temporary directory) and PATH only: nothing of the caller's own credentials leaks
// into a plugin.
func newNode(t *testing.T, providers ...harness.Provider) harness.Node {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "credential-provider-config.yaml")
	if err := harness.WriteConfig(config, providers...); err != nil {
		t.Fatalf("WriteConfig() = %v", err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	node := harness.Node{
		Config: config,
		BinDir: binDir,
		Environ: []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TMPDIR=" + dir,
			"PULLKEYS_CACHE_DIR=" + filepath.Join(dir, "pullkeys-cache")}, // never the node's own
	}
	validate(t, node)
	return node
}

// validate runs `pullkeys validate` on the node's config: every config the suite writes is
// one the kubelet accepts.
func validate(t *testing.T, node harness.Node) {
	t.Helper()
	stdout, stderr, code, err := node.Pullkeys(context.Background(), nil, "validate", "--config", node.Config)
	if err != nil || code != 0 {
		t.Fatalf("pullkeys validate --config %s: exit %d, %v\n%s%s", node.Config, code, err, stdout, stderr)
	}
}

// check runs `pullkeys check` in process for image and returns the image's report.
func check(t *testing.T, node harness.Node, image string) *kubelet.ImageReport {
	t.Helper()
	report, err := node.Check(context.Background(), image)
	if err != nil {
		t.Fatalf("Check(%q) = %v", image, err)
	}
	if errs := report.Problems.Errors(); len(errs) > 0 {
		t.Fatalf("Check(%q): config problems: %v", image, errs)
	}
	img, err := harness.ImageOf(report, image)
	if err != nil {
		t.Fatalf("Check(%q): %v", image, err)
	}
	return img
}

// credentials returns the credentials of an image report, in the runtime's order.
func credentials(img *kubelet.ImageReport) []harness.Credential {
	creds := make([]harness.Credential, 0, len(img.Credentials))
	for _, c := range img.Credentials {
		creds = append(creds, harness.Credential{Username: c.Username, Password: c.Password})
	}
	return creds
}

// describe summarises an image report for failure messages: statuses, errors and the
// plugins' stderr, never a password.
func describe(img *kubelet.ImageReport) string {
	var b strings.Builder
	b.WriteString(img.Image + " → " + img.Normalized + ": " + img.Status)
	if img.Error != "" {
		b.WriteString(" (" + img.Error + ")")
	}
	for _, p := range img.Providers {
		b.WriteString("; " + p.Name + ": matched=")
		if p.Matched {
			b.WriteString("yes")
		} else {
			b.WriteString("no")
		}
		if p.Skipped != "" {
			b.WriteString(" skipped=" + p.Skipped)
		}
		if p.Error != "" {
			b.WriteString(" error=" + p.Error)
		}
		if p.Exec != nil && p.Exec.Stderr != "" {
			b.WriteString(" stderr=" + strings.TrimSpace(p.Exec.Stderr))
		}
	}
	for _, c := range img.Credentials {
		b.WriteString("; credential " + c.Key + " from " + c.Provider + " user " + c.Username)
	}
	return b.String()
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// copyFile copies an executable.
func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o755)
}
