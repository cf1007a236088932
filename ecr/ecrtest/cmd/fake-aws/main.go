// Command fake-aws runs the ecrtest fake of ECR, ECR Public and STS as a process on a loopback
// port, for suites that run real plugin binaries against it. It prints its base URL on the
// first line of stdout, then serves until SIGINT or SIGTERM. Point a plugin at it with the
// environment ecrtest.Server.Env describes, and drive it with ecrtest.Remote.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
)

func main() {
	var opts ecrtest.Options
	flag.StringVar(&opts.Addr, "addr", "127.0.0.1:0", "loopback address to listen on")
	flag.DurationVar(&opts.TokenLifetime, "token-lifetime", ecrtest.DefaultTokenLifetime, "lifetime of the ECR tokens issued")
	flag.DurationVar(&opts.SessionLifetime, "session-lifetime", ecrtest.DefaultSessionLifetime, "lifetime of the STS sessions issued")
	flag.Parse()
	s, err := ecrtest.NewServer(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake-aws:", err)
		os.Exit(1)
	}
	defer s.Close()
	fmt.Println(s.URL())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
}
