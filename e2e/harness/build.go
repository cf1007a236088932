package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// MainModule is the module path of the project whose binaries the harness builds.
const MainModule = "github.com/pullkeys/pullkeys"

// Binary names the project builds from ./cmd/...: the kubelet execs a plugin by its file name,
// the name in the CredentialProviderConfig.
const (
	Pullkeys  = "pullkeys"
	ACR       = "acr-credential-provider"
	Dockercfg = "dockercfg-credential-provider"
	ECR       = "ecr-credential-provider"
	GCR       = "gcr-credential-provider"
)

// ErrNoModuleRoot is returned by ModuleRoot when no directory above holds the main module.
var ErrNoModuleRoot = errors.New("harness: main module not found")

// ModuleRoot returns the directory of the main module (github.com/pullkeys/pullkeys), looking
// up from dir: the e2e module lives in its e2e/ directory.
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("harness: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(data) == MainModule {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoModuleRoot
		}
		dir = parent
	}
}

func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// Build builds the commands pkgs (e.g. "./cmd/..."; none means "./cmd/...") of the module at
// root, usually the main module, into binDir with the go command of PATH, with that module's
// own go.mod and go.sum (not the e2e module's). The error carries the compiler's output: a
// binary that does not build fails the run.
func Build(ctx context.Context, root, binDir string, pkgs ...string) error {
	if len(pkgs) == 0 {
		pkgs = []string{"./cmd/..."}
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return fmt.Errorf("harness: build: %w", err)
	}
	args := append([]string{"build", "-trimpath", "-o", binDir + string(filepath.Separator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	// No workspace: the main module builds with its own go.mod and go.sum, as committed
	// (go build never edits them by default). Static and -trimpath, as a release builds: the
	// binaries under test are the shipped ones, and the build shares the compile cache with
	// `make test`'s other builds.
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("harness: go %s (in %s): %w\n%s", strings.Join(args, " "), root, err, out.String())
	}
	return nil
}

// Binaries lists the executables in binDir, by name.
func Binaries(binDir string) ([]string, error) {
	entries, err := os.ReadDir(binDir)
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	var names []string
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
