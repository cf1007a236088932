//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command without the exit, for tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := DefaultConfig()
	var (
		out      = fs.String("out", "", "write the results into this Markdown file, between its bench:begin and bench:end markers (created if missing)")
		quick    = fs.Bool("quick", false, "smoke run: a handful of runs, no latency case, one burst")
		runs     = fs.Int("runs", 0, fmt.Sprintf("measured runs per case (default %d, -quick %d)", def.Runs, QuickConfig().Runs))
		warmup   = fs.Int("warmup", -1, fmt.Sprintf("unmeasured runs per case first (default %d)", def.Warmup))
		conc     = fs.Int("concurrency", def.Concurrency, "simultaneous invocations in a burst")
		bursts   = fs.Int("bursts", 0, fmt.Sprintf("bursts per case (default %d, -quick 1)", def.Bursts))
		lat      = fs.String("latency", "", "comma-separated API latencies injected into the fakes for the cold cases (default 0,50ms; -quick 0)")
		initRuns = fs.Int("init-runs", 0, fmt.Sprintf("GODEBUG=inittrace=1 runs per binary (default %d)", def.InitRuns))
		binDir   = fs.String("bin-dir", "", "use the binaries in this directory instead of building them")
		baseline = fs.String("baseline", "", "also measure the binaries in this directory (built the same way from another tree), for before/after figures")
		match    = fs.String("match", "", "only the single-invocation cases whose label matches this regular expression (and the floor); no bursts")
		throttle = fs.Int("throttle", -1, fmt.Sprintf("processes of the throttle scenario (default %d, -quick %d; 0 skips it)", def.ThrottleProcs, QuickConfig().ThrottleProcs))
		bucket   = fs.String("throttle-bucket", "", fmt.Sprintf("the throttle scenario's bucket as <calls a second>,<burst> (default %g,%d: ECR's)", def.ThrottleRate, def.ThrottleBurst))
		variant  = fs.String("variant-env", "", "also measure the providers with these comma-separated NAME=value variables (e.g. GOGC=off)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg := def
	if *quick {
		cfg = QuickConfig()
	}
	if *runs > 0 {
		cfg.Runs = *runs
	}
	if *warmup >= 0 {
		cfg.Warmup = *warmup
	}
	if *bursts > 0 {
		cfg.Bursts = *bursts
	}
	if *initRuns > 0 {
		cfg.InitRuns = *initRuns
	}
	cfg.Concurrency = *conc
	if *throttle >= 0 {
		cfg.ThrottleProcs = *throttle
	}
	if *bucket != "" {
		r, b, ok := strings.Cut(*bucket, ",")
		rate, err := strconv.ParseFloat(r, 64)
		burst, err2 := strconv.Atoi(b)
		if !ok || err != nil || err2 != nil || rate < 0 || burst < 1 {
			fmt.Fprintf(stderr, "bench: -throttle-bucket: %q is not <calls a second>,<burst>\n", *bucket)
			return 2
		}
		cfg.ThrottleRate, cfg.ThrottleBurst = rate, burst
	}
	if *lat != "" {
		cfg.Latencies = nil
		for _, s := range strings.Split(*lat, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(s))
			if err != nil || d < 0 {
				fmt.Fprintf(stderr, "bench: -latency: %q is not a duration\n", s)
				return 2
			}
			cfg.Latencies = append(cfg.Latencies, d)
		}
	}
	cfg.BinDir, cfg.Baseline, cfg.Log = *binDir, *baseline, stderr
	if *match != "" {
		re, err := regexp.Compile(*match)
		if err != nil {
			fmt.Fprintf(stderr, "bench: -match: %v\n", err)
			return 2
		}
		cfg.Match = re
	}
	if *variant != "" {
		cfg.VariantEnv = strings.Split(*variant, ",")
	}

	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	md := rep.Markdown()
	if *out == "" {
		fmt.Fprint(stdout, md)
		return 0
	}
	old, err := os.ReadFile(*out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	doc, err := splice(string(old), md)
	if err == nil {
		err = os.WriteFile(*out, []byte(doc), 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %s: %v\n", *out, err)
		return 1
	}
	fmt.Fprintf(stderr, "bench: wrote %s\n", *out)
	return 0
}
