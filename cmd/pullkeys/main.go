// Command pullkeys does what the kubelet does with image credential provider plugins, and
// shows it: validate a CredentialProviderConfig, check which plugins serve an image and what
// credentials the kubelet would hand to the runtime, print a request for a plugin by hand;
// pre-pull images through CRI (prepull) and read the kubelet's pull records (images).
// See docs/pullkeys.md and docs/prepull.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pullkeys/pullkeys/cmd/pullkeys/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
