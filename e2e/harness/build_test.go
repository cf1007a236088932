package harness

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuild: a plugin built alone is one file, complete by itself.
func TestBuild(t *testing.T) {
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
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 || ents[0].Name() != GCR {
		t.Errorf("Build(./cmd/%s) wrote %v (%v), want %s alone", GCR, ents, err, GCR)
	}
	out, err := exec.Command(filepath.Join(dir, GCR), "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), GCR+" ") {
		t.Errorf("%s --version = %v, %q; want its version", GCR, err, out)
	}
}
