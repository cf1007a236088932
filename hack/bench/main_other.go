//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bench: the harness measures processes with Linux's rusage, /proc and ptrace: run it on Linux")
	os.Exit(2)
}
