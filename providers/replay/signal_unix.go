//go:build unix

package replay

import (
	"os"
	"syscall"
)

var terminationSignals = []os.Signal{syscall.SIGTERM, os.Interrupt}
