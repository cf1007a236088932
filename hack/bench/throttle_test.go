//go:build linux

package main

import (
	"context"
	"regexp"
	"testing"
	"time"
)

// TestThrottleScenario runs the throttle scenario small: more processes than the bucket's
// burst, so that some are throttled. It asserts correctness only, never timing: every process
// served, and every call ECR received is a process's one success or a throttled attempt.
func TestThrottleScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and runs a few dozen processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := QuickConfig()
	cfg.Log = testWriter{t}
	cfg.Match = regexp.MustCompile(`^throttle$`) // no other case but the floor
	cfg.Runs, cfg.Warmup, cfg.InitRuns = 1, 0, 1
	cfg.ThrottleProcs, cfg.ThrottleRate, cfg.ThrottleBurst = 12, 20, 8
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	r := rep.Throttle
	if r == nil {
		t.Fatal("Run did not run the throttle scenario")
	}
	if r.Served != 12 || r.Failed != 0 {
		t.Errorf("served %d, failed %d (%q); want 12 and 0", r.Served, r.Failed, r.FirstErrors)
	}
	if r.Throttled < 12-8 {
		t.Errorf("%d throttled answers, want at least %d: 12 processes released together into a burst of 8", r.Throttled, 12-8)
	}
	if r.Calls != r.Served+r.Throttled {
		t.Errorf("%d calls, want %d: one success per process and the throttled attempts", r.Calls, r.Served+r.Throttled)
	}
}
