//go:build !linux

package replay

import "io"

func runFull(full string, args, env []string, request []byte, stdout, stderr io.Writer) (int, error) {
	return runChild(full, args, env, request, stdout, stderr)
}
