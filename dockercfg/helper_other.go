//go:build !unix

package dockercfg

import (
	"os"
	"os/exec"
)

// isolate makes a timeout call kill; where there are no process groups that kills the helper
// alone.
func isolate(cmd *exec.Cmd, kill func()) {
	cmd.Cancel = func() error {
		kill()
		return nil
	}
}

// killGroup is a no-op where process groups do not exist.
func killGroup(cmd *exec.Cmd) {}

func pipeInode(*os.File) uint64 { return 0 }

// killTree kills the helper alone: its descendants cannot be found here.
func killTree(pid, _ int, _ []uint64) (signalled, survivors []int) {
	if pid <= 0 {
		return nil, nil
	}
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
	return nil, nil
}
