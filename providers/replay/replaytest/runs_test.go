//go:build linux

package replaytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestRunsCountsExecutions(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "true")
	src, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1)")
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := NewRuns()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Watch(bin); err != nil {
		t.Fatal(err)
	}
	for _, run := range []bool{true, false, true, true} {
		if run {
			if err := exec.Command(bin).Run(); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := os.Stat(bin); err != nil { // a stat is not a run
			t.Fatal(err)
		}
		want := 0
		if run {
			want = 1
		}
		if got, err := r.Take(bin); err != nil || got != want {
			t.Errorf("Take after a run (%v) = %d, %v; want %d", run, got, err, want)
		}
	}
	if err := exec.Command(bin).Run(); err != nil {
		t.Fatal(err)
	}
	if err := r.Reset(); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Take(bin); got != 0 {
		t.Errorf("Take after Reset = %d, want 0", got)
	}
}
