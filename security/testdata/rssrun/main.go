//go:build linux

// Command rssrun runs a program and records its peak resident memory, for the security
// tests: rssrun OUTFILE PROGRAM [ARG...] runs PROGRAM with this process's stdin, stdout,
// stderr and environment, writes its peak RSS in KiB (getrusage's ru_maxrss) to OUTFILE and
// exits with its exit status.
//
// The tests cannot read the peak from their own child: Go starts children with vfork, so a
// child's ru_maxrss includes the memory of the process that started it (a test binary built
// with -race, tens of MiB) up to the exec. This program is small, so the peak it sees in its
// own child is the program's.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: rssrun OUTFILE PROGRAM [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		fmt.Fprintln(os.Stderr, "rssrun:", err)
		os.Exit(125)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		fmt.Fprintln(os.Stderr, "rssrun: no rusage")
		os.Exit(125)
	}
	if err := os.WriteFile(os.Args[1], []byte(fmt.Sprint(ru.Maxrss)), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "rssrun:", err)
		os.Exit(125)
	}
	code := cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	os.Exit(code)
}
