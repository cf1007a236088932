package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/e2e/harness"
)

// binDir holds the binaries built once for the whole run by TestMain.
var binDir string

// TestMain builds every binary of the main module once. A binary that does not build fails the
// run at once, with the compiler's output: the suite never skips a provider silently.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	harness.QuietCRIClient() // the demo's CRI pulls that must fail are reported by the demo
	root, err := harness.ModuleRoot(".")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "pullkeys-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := harness.Build(ctx, root, dir); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: the binaries do not build:\n%v\n", err)
		return 1
	}
	for _, name := range []string{harness.Pullkeys, harness.ACR, harness.Dockercfg, harness.ECR, harness.GCR} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: FAIL: go build ./cmd/... made no %s: %v\n", name, err)
			return 1
		}
	}
	binDir = dir
	defer prepullCRI.Close()
	return m.Run()
}
