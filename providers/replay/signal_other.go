//go:build !unix

package replay

import "os"

var terminationSignals = []os.Signal{os.Interrupt}
