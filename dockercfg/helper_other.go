//go:build !unix

package dockercfg

import "os/exec"

// isolate is a no-op where process groups do not exist: a timeout kills the helper alone.
func isolate(cmd *exec.Cmd) {}

// killGroup is a no-op where process groups do not exist.
func killGroup(cmd *exec.Cmd) {}
