// Command demo is `make demo`: a node pulling private images from a registry, ECR and GCR,
// all on loopback, narrated step by step. Run it from the e2e directory:
//
//	cd e2e && go run ./cmd/demo
//
// It exits 0 when every step did what it says, and removes everything it made. See package
// github.com/pullkeys/pullkeys/e2e/demo and docs/e2e.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pullkeys/pullkeys/e2e/demo"
	"github.com/pullkeys/pullkeys/e2e/harness"
)

func main() {
	harness.QuietCRIClient() // the demo reports the pulls it expects to fail itself
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := demo.Run(ctx, demo.Options{Out: os.Stdout})
	interrupted := ctx.Err() != nil
	stop()
	switch {
	case err != nil && interrupted:
		fmt.Fprintln(os.Stderr, "demo: interrupted")
		os.Exit(130)
	case err != nil:
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}
