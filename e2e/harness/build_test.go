package harness

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildPutsTheFullPluginNextToItsFront: a front built alone is built with its full plugin,
// which it runs from its own directory; without it, it fails every request.
func TestBuildPutsTheFullPluginNextToItsFront(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Build(context.Background(), root, dir, "./cmd/"+GCR); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{GCR, GCRFull} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("Build(./cmd/%s): %v", GCR, err)
		}
	}
	out, err := exec.Command(filepath.Join(dir, GCR), "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), GCR+" ") {
		t.Errorf("%s --version = %v, %q; want the full plugin's version", GCR, err, out)
	}
}
