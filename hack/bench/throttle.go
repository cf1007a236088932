//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// The throttle scenario: a large cluster starting cold (a new node group, a region failover),
// every node asking ECR for a token at once, each with its own cache, against ECR's rate limit
// of GetAuthorizationToken: a token bucket per account and region, 20 calls a second with a
// burst of 200, answering 400 ThrottlingException when empty.
//
// ThrottleProcs processes of the ECR plugin are started together, each with a cache directory
// of its own. The fake ECR holds their token calls at a gate (ecrtest.Server.SetGate) until
// the last has arrived, however long the machine took to start them all, then releases them
// at the same instant into a full bucket (ecrtest.Server.SetBucket). Reported: processes
// served and failed, the API calls ECR received (all GetAuthorizationToken, throttled or not)
// per process, and the time from the release to each served process's exit (p50, p99, max).

// throttleBin is the ECR plugin binary the scenario runs.
const throttleBin = ecrBin

// Defaults of the throttle scenario: ECR's documented quota.
const (
	DefaultThrottleProcs = 300
	DefaultThrottleRate  = 20.0
	DefaultThrottleBurst = 200
)

// ThrottleResult is the outcome of the throttle scenario.
type ThrottleResult struct {
	Procs       int
	Rate        float64
	Burst       int
	Served      int
	Failed      int
	Calls       int           // GetAuthorizationToken calls ECR received, throttled or not
	Throttled   int           // of which answered ThrottlingException
	Start       time.Duration // from the first process started to the gate's release
	P50, P99    time.Duration // from the release to a served process's exit
	Max         time.Duration
	FirstErrors []string // a few failures' error lines, distinct
}

// CallsPerProc is the API calls per process.
func (r *ThrottleResult) CallsPerProc() float64 { return float64(r.Calls) / float64(max(r.Procs, 1)) }

// measureThrottle runs the throttle scenario once.
func (b *bench) measureThrottle(ctx context.Context) (*ThrottleResult, error) {
	n := b.cfg.ThrottleProcs
	res := &ThrottleResult{Procs: n, Rate: b.cfg.ThrottleRate, Burst: b.cfg.ThrottleBurst}
	b.logf("throttle: %d processes of %s against a bucket of %g calls/s, burst %d", n, throttleBin, res.Rate, res.Burst)
	f, _, env, err := b.environment(0, nil)
	if err != nil {
		return nil, err
	}
	f.ecr.SetBucket(res.Rate, res.Burst)
	f.ecr.SetGate(n)
	defer f.ecr.SetGate(0) // releases any call still held if a process failed before the gate
	t := targets[throttleBin]
	path := filepath.Join(b.bins, throttleBin)
	launcher := filepath.Join(b.bins, launchBin)
	dirs := make([]string, n)
	for i := range dirs {
		if dirs[i], err = b.mkdir("throttle-*"); err != nil {
			return nil, err
		}
	}
	defer func() {
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}()

	var (
		wg   sync.WaitGroup
		ends = make([]time.Time, n)
		errs = make([]error, n)
	)
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			_, stdout, stderr, err := launch(ctx, launcher, false, path, []string{"--cache-dir=" + dirs[i]}, env, t.request())
			ends[i] = time.Now()
			if err == nil {
				err = t.check(stdout)
			}
			if err == nil && len(bytes.TrimSpace(stderr)) > 0 {
				err = fmt.Errorf("unexpected output on stderr: %s", providers.OneLine(string(stderr)))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	_, released := f.ecr.Gate()
	if released.IsZero() {
		released = start // the gate never opened: some process failed before asking
	} else {
		res.Start = released.Sub(start)
	}
	var lat []time.Duration
	for i, err := range errs {
		if err != nil {
			res.Failed++
			if msg := providers.OneLine(err.Error()); len(res.FirstErrors) < 3 && !slices.Contains(res.FirstErrors, msg) {
				res.FirstErrors = append(res.FirstErrors, msg)
			}
			continue
		}
		res.Served++
		lat = append(lat, ends[i].Sub(released))
	}
	for _, r := range f.ecr.Requests(ecrtest.GetAuthorizationToken) {
		res.Calls++
		if r.Fault == ecrtest.Throttle {
			res.Throttled++
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.P50, res.P99 = quantile(lat, 0.50), quantile(lat, 0.99)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	b.logf("throttle: served %d, failed %d, %d calls (%.2f per process), p50 %s, p99 %s",
		res.Served, res.Failed, res.Calls, res.CallsPerProc(), res.P50.Round(time.Millisecond), res.P99.Round(time.Millisecond))
	return res, nil
}

// quantile is the q-quantile of sorted (nearest rank); 0 when empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// markdown is the scenario's section of the report.
func (r *ThrottleResult) markdown() string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	p("### Throttling at cluster scale\n\n")
	p("%d processes of `%s`, each with a cache directory of its own, against the fake ECR with ECR's rate limit of GetAuthorizationToken: a token bucket of %g calls a second with a burst of %d, answering 400 ThrottlingException when empty. The fake holds the token calls until the last process has asked (%s after the first was started, on this machine), then releases them all at once into a full bucket. Latency is from the release to the process's exit. Target: every process served, at most 1.5 API calls per process, p99 under 40 s.\n\n",
		r.Procs, throttleBin, r.Rate, r.Burst, r.Start.Round(100*time.Millisecond))
	p("| Processes | Served | Failed | API calls | per process | throttled | p50 | p99 | max |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	p("| %d | %d | %d | %d | %.2f | %d | %.1f s | %.1f s | %.1f s |\n\n", r.Procs, r.Served, r.Failed, r.Calls, r.CallsPerProc(), r.Throttled,
		r.P50.Seconds(), r.P99.Seconds(), r.Max.Seconds())
	verdict := "**met**"
	if r.Failed > 0 || r.CallsPerProc() > 1.5 || r.P99 >= 40*time.Second {
		verdict = "**not met**"
	}
	if r.Rate != DefaultThrottleRate || r.Burst != DefaultThrottleBurst || r.Procs != DefaultThrottleProcs {
		verdict += " (the target is set for 300 processes against ECR's bucket; this run had another shape)"
	}
	p("Target: %s.\n\n", verdict)
	for _, e := range r.FirstErrors {
		p("- failure: `%s`\n", e)
	}
	if len(r.FirstErrors) > 0 {
		p("\n")
	}
	return w.String()
}
