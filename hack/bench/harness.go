//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// Config says what to measure and how often.
type Config struct {
	// Runs is the number of measured runs of each single-invocation case, after Warmup runs
	// that are not counted.
	Runs, Warmup int
	// Concurrency is the number of simultaneous invocations of a burst, repeated Bursts times.
	Concurrency, Bursts int
	// Latencies are the API latencies injected into the fakes for the cold cases; bursts run
	// with the first.
	Latencies []time.Duration
	// InitRuns is the number of GODEBUG=inittrace=1 runs (and memory probes) per binary.
	InitRuns int
	// BinDir holds prebuilt binaries; "" means build them into a temporary directory.
	BinDir string
	// Baseline holds binaries built the same way from another tree, measured beside the
	// fresh ones (cached, cold, sizes, start-up) for before/after figures. "" means none.
	Baseline string
	// VariantEnv are extra NAME=value variables with which the providers' cases run a second
	// time. Empty means none.
	VariantEnv []string
	// Match, when set, keeps only the single-invocation cases whose label it matches (the
	// floor is always kept) and skips the bursts, for focused experiments.
	Match *regexp.Regexp
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// ThrottleProcs processes of the ECR plugin run the throttle scenario (throttle.go)
	// against a bucket of ThrottleRate calls a second and ThrottleBurst; 0 skips it.
	ThrottleProcs, ThrottleBurst int
	ThrottleRate                 float64
}

// DefaultConfig is what `make bench` runs.
func DefaultConfig() Config {
	return Config{
		Runs: 200, Warmup: 10,
		Concurrency: 50, Bursts: 5,
		Latencies:     []time.Duration{0, 50 * time.Millisecond},
		InitRuns:      15,
		ThrottleProcs: DefaultThrottleProcs, ThrottleRate: DefaultThrottleRate, ThrottleBurst: DefaultThrottleBurst,
	}
}

// QuickConfig is a smoke run: every case answers correctly, in seconds.
func QuickConfig() Config {
	return Config{
		Runs: 5, Warmup: 1,
		Concurrency: 50, Bursts: 1,
		Latencies: []time.Duration{0},
		InitRuns:  1,
		// A few throttled processes: the path works, in seconds.
		ThrottleProcs: 12, ThrottleRate: DefaultThrottleRate, ThrottleBurst: 8,
	}
}

// The binaries measured, by file name.
const (
	floorBin     = "floor"
	typesBin     = "typesfloor"
	fixedBin     = "fixed"
	ecrBin       = "ecr-credential-provider"
	gcrBin       = "gcr-credential-provider"
	dockercfgBin = "dockercfg-credential-provider"
	launchBin    = "launch"
)

// packages are the main packages built, by binary name, relative to the module root.
var packages = map[string]string{
	floorBin:     "./hack/bench/floor",
	typesBin:     "./hack/bench/typesfloor",
	fixedBin:     "./hack/bench/fixed",
	ecrBin:       "./cmd/ecr-credential-provider",
	gcrBin:       "./cmd/gcr-credential-provider",
	dockercfgBin: "./cmd/dockercfg-credential-provider",
	launchBin:    "./hack/bench/launch",
}

// binaryOrder is the order of the binaries in tables; plugins are the providers among them.
var (
	binaryOrder = []string{floorBin, typesBin, fixedBin, ecrBin, gcrBin, dockercfgBin}
	plugins     = []string{ecrBin, gcrBin, dockercfgBin}
)

// target is what one binary is asked and what it must answer.
type target struct {
	bin     string
	image   string // the request's image
	authKey string // a key the answer's auth map must hold
	cached  bool   // it uses the shared token cache and a cloud API: cold cases and bursts
}

const (
	ecrImage       = ecrtest.DefaultAccount + ".dkr.ecr.us-east-1.amazonaws.com/bench/app"
	ecrHost        = ecrtest.DefaultAccount + ".dkr.ecr.us-east-1.amazonaws.com"
	dockercfgHost  = "registry.bench.example"
	dockercfgImage = dockercfgHost + "/bench/app"
)

var targets = map[string]target{
	floorBin:     {bin: floorBin, image: "floor.invalid/bench/app", authKey: "floor.invalid"},
	typesBin:     {bin: typesBin, image: "typesfloor.invalid/bench/app", authKey: "typesfloor.invalid"},
	fixedBin:     {bin: fixedBin, image: "fixed.invalid/bench/app", authKey: "fixed.invalid"},
	ecrBin:       {bin: ecrBin, image: ecrImage, authKey: ecrHost, cached: true},
	gcrBin:       {bin: gcrBin, image: "gcr.io/bench-project/app", authKey: "gcr.io", cached: true},
	dockercfgBin: {bin: dockercfgBin, image: dockercfgImage, authKey: dockercfgHost},
}

func (t target) request() []byte {
	return fmt.Appendf(nil, `{"apiVersion":%q,"kind":%q,"image":%q}`, providers.APIVersionV1, providers.RequestKind, t.image)
}

// check verifies an answer the way the kubelet reads it.
func (t target) check(stdout []byte) error {
	resp, err := providers.DecodeResponse(stdout, providers.APIVersionV1)
	if err != nil {
		return err
	}
	if a, ok := resp.Auth[t.authKey]; !ok || a.Username == "" || a.Password == "" {
		return fmt.Errorf("answer holds no credentials for %s", t.authKey)
	}
	return nil
}

// fakes are one fake ECR and one fake metadata server. Every case has its own, so that the
// calls it counts are that case's alone.
type fakes struct {
	ecr *ecrtest.Server
	md  *gcrtest.Metadata
}

func newFakes(latency time.Duration) (*fakes, error) {
	e, err := ecrtest.NewServer(ecrtest.Options{})
	if err != nil {
		return nil, err
	}
	f := &fakes{ecr: e, md: gcrtest.NewMetadata()}
	f.ecr.SetLatency(latency)
	f.md.SetLatency(latency)
	return f, nil
}

func (f *fakes) close() {
	f.ecr.Close()
	f.md.Close()
}

// calls counts every API call the fakes received.
func (f *fakes) calls() int {
	n := f.md.TotalCalls()
	for _, op := range ecrtest.Ops() {
		n += f.ecr.Calls(op)
	}
	return n
}

// tokenCalls counts the calls that issue a token: ECR's GetAuthorizationToken and the metadata
// server's token path (the gcr provider also reads the account's scopes, once per fetch).
func (f *fakes) tokenCalls() int {
	return f.ecr.Calls(ecrtest.GetAuthorizationToken) + f.ecr.Calls(ecrtest.PublicGetAuthorizationToken) +
		f.md.Calls(gcrtest.TokenPath("default"))
}

// env is the whole environment of a binary: nothing is inherited from the harness, and both
// clouds' endpoints point at the fakes on loopback whatever the binary.
func (f *fakes) env(home, awsConfig, awsCredentials string, extra []string) []string {
	env := append([]string{
		"PATH=/usr/bin:/bin",
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + awsConfig,
		"AWS_SHARED_CREDENTIALS_FILE=" + awsCredentials,
		"GCE_METADATA_HOST=" + f.md.Host(),
	}, f.ecr.Env()...)
	return append(env, extra...)
}

// sample is one measured invocation.
type sample struct {
	wall time.Duration
	cpu  time.Duration // user and system time of the process
	rss  int64         // bytes
	// Only from probe runs: VmHWM, RssAnon and RssFile as the process exits, in bytes.
	hwm, anon, file int64
}

// launch runs bin once as the kubelet does, through the launcher: the request on a pipe,
// stdout and stderr read in full. It returns the wall time from fork to exit and the child's
// peak RSS as the launcher measured them; with probe, also its memory as it exits (see
// hack/bench/launch).
func launch(ctx context.Context, launcher string, probe bool, bin string, args, env []string, req []byte) (s sample, stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	r, w, err := os.Pipe()
	if err != nil {
		return s, nil, nil, err
	}
	defer r.Close()
	var argv []string
	if probe {
		argv = append(argv, "-probe")
	}
	argv = append(append(append(argv, env...), "--", bin), args...)
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, launcher, argv...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = []string{}, bytes.NewReader(req), &out, &errb
	cmd.ExtraFiles = []*os.File{w}
	err = cmd.Start()
	w.Close()
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		return s, nil, nil, fmt.Errorf("%s: launch: %w: %s", filepath.Base(bin), err, providers.OneLine(errb.String()))
	}
	report, err := io.ReadAll(r)
	if err != nil {
		return s, nil, nil, err
	}
	var wallNs, rssKiB, hwm, anon, file, cpuNs int64
	var status int
	if _, err := fmt.Sscan(string(report), &wallNs, &rssKiB, &status, &hwm, &anon, &file, &cpuNs); err != nil {
		return s, nil, nil, fmt.Errorf("%s: launcher report %q: %w", filepath.Base(bin), report, err)
	}
	s = sample{wall: time.Duration(wallNs), cpu: time.Duration(cpuNs), rss: rssKiB << 10, hwm: hwm << 10, anon: anon << 10, file: file << 10}
	if status != 0 {
		err = fmt.Errorf("%s: exit status %d: %s", filepath.Base(bin), status, providers.OneLine(errb.String()))
	}
	return s, out.Bytes(), errb.Bytes(), err
}

// The single-invocation cases.
const (
	caseFloor = "floor" // a floor program
	// caseCached: ecr and gcr with a fresh token in the shared cache directory, put there by
	// one run beforehand; dockercfg reading its docker config. No API call, and for ecr no
	// AWS SDK configuration loaded.
	caseCached = "cached"
	// caseCold: an empty cache directory every run: exactly one token call per run.
	caseCold = "cold"
)

// A caseKind says what a case does around its runs.
type caseKind struct {
	// setup gives s its arguments (a function of the run) and prepares what its runs share;
	// it runs once, before the warm-up.
	setup func(ctx context.Context, b *bench, s *scenario) error
	// check verifies one run's API calls and token calls, as the fakes counted them.
	check func(calls, tokenCalls int) error
}

// caseKinds are the cases by name. A new case is a kind here and a line in plan.
var caseKinds = map[string]caseKind{
	caseFloor: {setup: func(context.Context, *bench, *scenario) error { return nil }, check: noCalls},
	caseCached: {setup: func(ctx context.Context, b *bench, s *scenario) error {
		if !s.target.cached {
			return nil // dockercfg reads its docker config every run
		}
		dir, err := b.mkdir("cached-*")
		if err != nil {
			return err
		}
		s.args = func(int) ([]string, func(), error) { return []string{"--cache-dir=" + dir}, func() {}, nil }
		return s.fillAndLock(ctx, dir)
	}, check: noCalls},
	caseCold: {setup: func(_ context.Context, b *bench, s *scenario) error {
		// an empty cache directory per run, made and removed outside the timing
		s.args = func(int) ([]string, func(), error) {
			dir, err := b.mkdir("cold-*")
			if err != nil {
				return nil, nil, err
			}
			return []string{"--cache-dir=" + dir}, func() { os.RemoveAll(dir) }, nil
		}
		return nil
	}, check: func(_, tokens int) error {
		if tokens != 1 {
			return fmt.Errorf("%d token calls on an empty cache, want 1", tokens)
		}
		return nil
	}},
}

func noCalls(calls, _ int) error {
	if calls != 0 {
		return fmt.Errorf("%d API calls, want none (a fresh token in the cache, or no API)", calls)
	}
	return nil
}

// spec names one single-invocation case of one binary.
type spec struct {
	bin, kind string
	latency   time.Duration
}

// label names the case in tables: "floor", "ecr-credential-provider cold 50ms [baseline]".
func (sp spec) label(variant string) string {
	l := sp.bin
	if sp.kind != caseFloor {
		l += " " + sp.kind
	}
	if sp.kind == caseCold {
		l += " " + sp.latency.String()
	}
	if variant != "" {
		l += " [" + variant + "]"
	}
	return l
}

// plan lists the single-invocation cases of the providers, in table order, for the given cold
// latencies: each plugin cached, and cold at each latency for those with a token API.
func plan(latencies []time.Duration) []spec {
	specs := []spec{{bin: fixedBin, kind: caseFloor}}
	for _, bin := range plugins {
		specs = append(specs, spec{bin: bin, kind: caseCached})
		if targets[bin].cached {
			for _, l := range latencies {
				specs = append(specs, spec{bin: bin, kind: caseCold, latency: l})
			}
		}
	}
	return specs
}

// scenario is one single-invocation case.
type scenario struct {
	Label   string // e.g. "ecr-credential-provider cached"
	Bin     string // binary name
	Case    string // a key of caseKinds
	Latency time.Duration
	Variant string // "" for the fresh binaries, "baseline", or the variant's environment

	kind     caseKind
	target   target
	path     string
	filler   string // the fresh binary, which fills a cached case's cache
	launcher string
	fakes    *fakes
	env      []string
	args     func(run int) (args []string, cleanup func(), err error)
	samples  []sample
	// Calls and TokenCalls are the API calls the fakes counted during the measured runs.
	Calls, TokenCalls int
}

// run runs the case once and checks the answer and the API calls; the caller checks stderr.
func (s *scenario) run(ctx context.Context, n int, probe bool) (smp sample, stderr []byte, err error) {
	args, cleanup, err := s.args(n)
	if err != nil {
		return smp, nil, err
	}
	defer cleanup()
	calls0, tokens0 := s.fakes.calls(), s.fakes.tokenCalls()
	smp, stdout, stderr, err := launch(ctx, s.launcher, probe, s.path, args, s.env, s.target.request())
	if err == nil {
		err = s.target.check(stdout)
	}
	if err == nil {
		err = s.kind.check(s.fakes.calls()-calls0, s.fakes.tokenCalls()-tokens0)
	}
	if err != nil {
		return smp, stderr, fmt.Errorf("%s: %w", s.Label, err)
	}
	return smp, stderr, nil
}

func (s *scenario) runOnce(ctx context.Context, n int, record bool) error {
	calls0, tokens0 := s.fakes.calls(), s.fakes.tokenCalls()
	smp, stderr, err := s.run(ctx, n, false)
	if err == nil && len(stderr) > 0 {
		err = fmt.Errorf("%s: unexpected output on stderr: %s", s.Label, providers.OneLine(string(stderr)))
	}
	if err != nil {
		return err
	}
	if record {
		s.samples = append(s.samples, smp)
		s.Calls += s.fakes.calls() - calls0
		s.TokenCalls += s.fakes.tokenCalls() - tokens0
	}
	return nil
}

// fillAndLock puts a fresh token into the cache directory dir with one run of the fresh
// binary (a baseline's may be a prototype that cannot fetch), then makes the AWS
// configuration files directories: from here on a run that loads any AWS SDK configuration
// fails. Stderr is not checked: it may be a trace.
func (s *scenario) fillAndLock(ctx context.Context, dir string) error {
	_, stdout, _, err := launch(ctx, s.launcher, false, s.filler, []string{"--cache-dir=" + dir}, s.env, s.target.request())
	if err == nil {
		err = s.target.check(stdout)
	}
	if err != nil {
		return fmt.Errorf("%s: fill the cache: %w", s.Label, err)
	}
	for _, kv := range s.env {
		if name, v, _ := strings.Cut(kv, "="); name == "AWS_CONFIG_FILE" || name == "AWS_SHARED_CREDENTIALS_FILE" {
			if err := os.MkdirAll(v, 0o700); err != nil {
				return err
			}
		}
	}
	return nil
}

// burst is N simultaneous cold invocations of one binary for one registry.
type burst struct {
	Label   string
	Bin     string
	Latency time.Duration
	Variant string

	target   target
	path     string
	launcher string
	fakes    *fakes
	env      []string
	// Walls are the wall times until all had answered, one per burst; Procs the wall times
	// and RSS of every process; Calls and TokenCalls the API calls of each burst.
	Walls             []time.Duration
	Procs             []sample
	Calls, TokenCalls []int
}

// bench holds one measurement session: a temporary directory, the fakes and the cases.
type bench struct {
	cfg    Config
	dir    string
	bins   string
	log    io.Writer
	fakes  []*fakes
	single []*scenario
	bursts []*burst
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

func (b *bench) close() {
	for _, f := range b.fakes {
		f.close()
	}
	os.RemoveAll(b.dir)
}

// mkdir makes a fresh directory under the session's.
func (b *bench) mkdir(pattern string) (string, error) { return os.MkdirTemp(b.dir, pattern) }

// environment makes a case its own fakes (so that the calls counted are its own) and home
// directory, and returns the whole environment of its binary: nothing is inherited from the
// harness, both clouds' endpoints point at the fakes, and the AWS configuration files do not
// exist (the SDK's defaults; a cached case makes them directories).
func (b *bench) environment(latency time.Duration, extra []string) (f *fakes, home string, env []string, err error) {
	if f, err = newFakes(latency); err != nil {
		return nil, "", nil, err
	}
	b.fakes = append(b.fakes, f)
	if home, err = b.mkdir("home-*"); err != nil {
		return nil, "", nil, err
	}
	aws := filepath.Join(home, "aws")
	return f, home, f.env(home, filepath.Join(aws, "config"), filepath.Join(aws, "credentials"), extra), nil
}

// scenarioFor sets up one case, with binary path and extra environment variables, and runs
// its kind's setup.
func (b *bench) scenarioFor(ctx context.Context, sp spec, path, variant string, extraEnv []string) (*scenario, error) {
	kind, ok := caseKinds[sp.kind]
	if !ok {
		return nil, fmt.Errorf("no case %q", sp.kind)
	}
	f, home, env, err := b.environment(sp.latency, extraEnv)
	if err != nil {
		return nil, err
	}
	s := &scenario{Label: sp.label(variant), Bin: sp.bin, Case: sp.kind, Latency: sp.latency, Variant: variant, kind: kind,
		target: targets[sp.bin], path: path, filler: filepath.Join(b.bins, sp.bin), launcher: filepath.Join(b.bins, launchBin),
		fakes: f, env: env}
	var args []string
	if sp.bin == dockercfgBin {
		cfg := filepath.Join(home, "config.json")
		auth := base64.StdEncoding.EncodeToString([]byte("bench:bench-password"))
		doc := fmt.Sprintf(`{"auths":{"https://%s":{"auth":%q}}}`, dockercfgHost, auth)
		if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
			return nil, err
		}
		args = []string{"--config=" + cfg}
	}
	s.args = func(int) ([]string, func(), error) { return args, func() {}, nil }
	if err := kind.setup(ctx, b, s); err != nil {
		return nil, err
	}
	return s, nil
}

// setup builds the list of cases: the floors, then plan's for the fresh binaries, the
// baseline's (at the first latency) and each variant's; bursts of the floor, ecr and gcr.
func (b *bench) setup(ctx context.Context) error {
	add := func(sp spec, path, variant string, env []string) error {
		if b.cfg.Match != nil && sp.bin != floorBin && !b.cfg.Match.MatchString(sp.label(variant)) {
			return nil
		}
		s, err := b.scenarioFor(ctx, sp, path, variant, env)
		if err == nil {
			b.single = append(b.single, s)
		}
		return err
	}
	fresh := func(bin string) string { return filepath.Join(b.bins, bin) }
	for _, bin := range []string{floorBin, typesBin} {
		if err := add(spec{bin: bin, kind: caseFloor}, fresh(bin), "", nil); err != nil {
			return err
		}
	}
	for _, sp := range plan(b.cfg.Latencies) {
		if err := add(sp, fresh(sp.bin), "", nil); err != nil {
			return err
		}
	}
	for _, sp := range plan(b.cfg.Latencies[:1]) {
		if b.cfg.Baseline != "" {
			path := filepath.Join(b.cfg.Baseline, sp.bin)
			if _, err := os.Stat(path); err != nil {
				b.logf("baseline has no %s, skipped", sp.bin)
			} else if err := add(sp, path, "baseline", nil); err != nil {
				return err
			}
		}
		if len(b.cfg.VariantEnv) > 0 {
			if err := add(sp, fresh(sp.bin), strings.Join(b.cfg.VariantEnv, " "), b.cfg.VariantEnv); err != nil {
				return err
			}
		}
	}
	if b.cfg.Match != nil {
		return nil
	}
	for _, bin := range []string{floorBin, ecrBin, gcrBin} {
		lat := b.cfg.Latencies[0]
		f, _, env, err := b.environment(lat, nil)
		if err != nil {
			return err
		}
		b.bursts = append(b.bursts, &burst{
			Label: fmt.Sprintf("%s ×%d cold %s", bin, b.cfg.Concurrency, lat), Bin: bin, Latency: lat,
			target: targets[bin], path: fresh(bin), launcher: fresh(launchBin), fakes: f, env: env,
		})
	}
	return nil
}

// measure runs the single-invocation cases round-robin: warm-up rounds, then measured ones.
func (b *bench) measure(ctx context.Context) error {
	rounds := b.cfg.Warmup + b.cfg.Runs
	for r := 0; r < rounds; r++ {
		if r%50 == 0 {
			b.logf("single invocations: round %d of %d", r+1, rounds)
		}
		for _, s := range b.single {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := s.runOnce(ctx, r, r >= b.cfg.Warmup); err != nil {
				return err
			}
		}
	}
	return nil
}

// measureBursts runs each burst: Concurrency processes released together, sharing one fresh
// cache directory.
func (b *bench) measureBursts(ctx context.Context) error {
	for i := 0; i < b.cfg.Bursts && len(b.bursts) > 0; i++ {
		b.logf("bursts: %d of %d", i+1, b.cfg.Bursts)
		for _, bu := range b.bursts {
			if err := b.runBurst(ctx, bu); err != nil {
				return fmt.Errorf("%s: %w", bu.Label, err)
			}
		}
	}
	return nil
}

func (b *bench) runBurst(ctx context.Context, bu *burst) error {
	dir, err := b.mkdir("burst-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var args []string
	if bu.target.cached {
		args = []string{"--cache-dir=" + dir}
	}
	calls0, tokens0 := bu.fakes.calls(), bu.fakes.tokenCalls()
	n := b.cfg.Concurrency
	var (
		wg      sync.WaitGroup
		release = make(chan struct{})
		samples = make([]sample, n)
		errs    = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-release
			smp, stdout, stderr, err := launch(ctx, bu.launcher, false, bu.path, args, bu.env, bu.target.request())
			if err == nil {
				err = bu.target.check(stdout)
			}
			if err == nil && len(stderr) > 0 {
				err = fmt.Errorf("unexpected output on stderr: %s", providers.OneLine(string(stderr)))
			}
			samples[i], errs[i] = smp, err
		})
	}
	start := time.Now()
	close(release)
	wg.Wait()
	wall := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	bu.Walls = append(bu.Walls, wall)
	bu.Procs = append(bu.Procs, samples...)
	bu.Calls = append(bu.Calls, bu.fakes.calls()-calls0)
	bu.TokenCalls = append(bu.TokenCalls, bu.fakes.tokenCalls()-tokens0)
	return nil
}

// Run builds (unless cfg.BinDir is set) and measures everything, and returns the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Runs < 1 || cfg.Concurrency < 1 || cfg.Bursts < 1 || len(cfg.Latencies) == 0 {
		return nil, errors.New("bench: runs, concurrency and bursts must be positive, and at least one latency given")
	}
	dir, err := os.MkdirTemp("", "pullkeys-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, dir: dir, bins: cfg.BinDir, log: cfg.Log}
	defer b.close()
	rep := &Report{Config: cfg, Started: time.Now(), Machine: machine()}
	if b.bins == "" {
		b.bins = filepath.Join(dir, "bin")
		b.logf("building the binaries (CGO_ENABLED=0 -trimpath -ldflags='-s -w')")
		if rep.GoVersion, err = build(ctx, b.bins); err != nil {
			return nil, err
		}
		rep.Tree = tree(ctx)
	} else if rep.GoVersion, err = goVersion(ctx); err != nil {
		return nil, err
	}
	if err := b.setup(ctx); err != nil {
		return nil, err
	}
	if err := b.measure(ctx); err != nil {
		return nil, err
	}
	// Read before the bursts and the throttle scenario, which load the machine themselves.
	rep.LoadAfter = loadavg()
	if err := b.measureBursts(ctx); err != nil {
		return nil, err
	}
	if cfg.ThrottleProcs > 0 && (cfg.Match == nil || cfg.Match.MatchString("throttle")) {
		if rep.Throttle, err = b.measureThrottle(ctx); err != nil {
			return nil, err
		}
	}
	rep.Single, rep.Simultaneous = b.single, b.bursts
	for _, set := range []struct{ variant, dir string }{{"", b.bins}, {"baseline", cfg.Baseline}} {
		if set.dir == "" {
			continue
		}
		for _, bin := range binaryOrder {
			path := filepath.Join(set.dir, bin)
			fi, err := os.Stat(path)
			if err != nil {
				continue // a baseline without the floors
			}
			rep.Sizes = append(rep.Sizes, Size{Bin: bin, Variant: set.variant, Bytes: fi.Size()})
			prof, err := b.initTrace(ctx, bin, set.variant, path)
			if err != nil {
				return nil, err
			}
			rep.Init = append(rep.Init, prof)
		}
	}
	rep.Finished = time.Now()
	return rep, nil
}

// initTrace runs bin's cached case (a floor's only case) with GODEBUG=inittrace=1 and
// summarises its package initialisers, then probes its memory as it exits.
func (b *bench) initTrace(ctx context.Context, bin, variant, path string) (InitProfile, error) {
	sp := spec{bin: bin, kind: caseCached}
	if !slices.Contains(plugins, bin) {
		sp.kind = caseFloor
	}
	s, err := b.scenarioFor(ctx, sp, path, variant, []string{"GODEBUG=inittrace=1"})
	if err != nil {
		return InitProfile{}, err
	}
	var runs [][]initLine
	for i := 0; i < b.cfg.InitRuns; i++ {
		_, stderr, err := s.run(ctx, i, false)
		if err != nil {
			return InitProfile{}, fmt.Errorf("inittrace: %w", err)
		}
		lines, err := parseInitTrace(stderr)
		if err != nil {
			return InitProfile{}, fmt.Errorf("inittrace: %s: %w", bin, err)
		}
		runs = append(runs, lines)
	}
	prof := summariseInit(bin, variant, runs)
	// Memory as the process exits, without GODEBUG: what of the peak is the binary's pages.
	s.env = slices.DeleteFunc(s.env, func(kv string) bool { return strings.HasPrefix(kv, "GODEBUG=") })
	var hwm, anon, file []int64
	for i := 0; i < b.cfg.InitRuns; i++ {
		smp, _, err := s.run(ctx, i, true)
		if err != nil {
			// ptrace may be forbidden (Yama ptrace_scope 3, a seccomp profile): the
			// memory table is left out, the rest of the run stands.
			b.logf("memory probe of %s failed, no memory figures: %v", bin, err)
			prof.ProbeErr = providers.OneLine(err.Error())
			return prof, nil
		}
		hwm, anon, file = append(hwm, smp.hwm), append(anon, smp.anon), append(file, smp.file)
	}
	prof.HWM, prof.Anon, prof.File = median(hwm), median(anon), median(file)
	return prof, nil
}

// build compiles the binaries as a release does and returns the Go version used.
func build(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", dir + string(filepath.Separator)}
	for _, bin := range append(slices.Clone(binaryOrder), launchBin) {
		args = append(args, packages[bin])
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return goVersion(ctx)
}

// tree describes the source tree built: its commit, "-dirty" with uncommitted changes; "" when
// git cannot say.
func tree(ctx context.Context) string {
	root, err := moduleRoot(ctx)
	if err != nil {
		return ""
	}
	out, err := exec.CommandContext(ctx, "git", "-C", root, "describe", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the pullkeys module: run from its directory")
	}
	return filepath.Dir(mod), nil
}

func goVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
