// Command pullkeys-installer copies the pullkeys binaries, a kubelet CredentialProviderConfig
// and optionally a docker pull secret into host directories, atomically and only when they
// changed, after checking them with the kubelet's rules. It is the entry point of the pullkeys
// image, run by the DaemonSet in deploy/daemonset. See docs/install.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pullkeys/pullkeys/deploy/installer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := installer.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
