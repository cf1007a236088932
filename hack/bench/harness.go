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
	// InitRuns is the number of GODEBUG=inittrace=1 runs per binary.
	InitRuns int
	// BinDir holds prebuilt binaries; "" means build them into a temporary directory.
	BinDir string
	// Baseline holds binaries built the same way from another tree, measured beside the
	// fresh ones (warm, cold, sizes, start-up) for before/after figures. "" means none.
	Baseline string
	// VariantEnv are extra NAME=value variables with which the providers' warm and cold
	// cases run a second time. Empty means none.
	VariantEnv []string
	// Match, when set, keeps only the single-invocation cases whose label it matches (the
	// floor is always kept) and skips the bursts, for focused experiments.
	Match *regexp.Regexp
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// DefaultConfig is what `make bench` runs.
func DefaultConfig() Config {
	return Config{
		Runs: 200, Warmup: 10,
		Concurrency: 50, Bursts: 5,
		Latencies: []time.Duration{0, 50 * time.Millisecond},
		InitRuns:  15,
	}
}

// QuickConfig is a smoke run: every case answers correctly, in seconds.
func QuickConfig() Config {
	return Config{
		Runs: 5, Warmup: 1,
		Concurrency: 50, Bursts: 1,
		Latencies: []time.Duration{0},
		InitRuns:  1,
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

// binaryOrder is the order of the binaries in tables.
var binaryOrder = []string{floorBin, typesBin, fixedBin, ecrBin, gcrBin, dockercfgBin}

// target is what one binary is asked and what it must answer.
type target struct {
	bin     string
	image   string // the request's image
	authKey string // a key the answer's auth map must hold
	cached  bool   // it uses the shared cache: warm and cold cases
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

// invoke runs bin once as the kubelet does, through the launcher: the request on a pipe,
// stdout and stderr read in full. It returns the wall time from fork to exit and the child's
// peak RSS as the launcher measured them.
func invoke(ctx context.Context, launcher, bin string, args, env []string, req []byte) (s sample, stdout, stderr []byte, err error) {
	return launch(ctx, launcher, false, bin, args, env, req)
}

// launch is invoke, with the launcher's -probe when probe is set (see hack/bench/launch).
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

// scenario is one single-invocation case.
type scenario struct {
	Label   string // e.g. "ecr warm"
	Bin     string // binary name
	Case    string // "floor", "warm" or "cold"
	Latency time.Duration
	Variant string // "" for the fresh binaries, "baseline", or the variant's environment

	target   target
	path     string
	filler   string // the fresh binary, which fills the cache of a warm case
	launcher string
	fakes    *fakes
	env      []string
	args     func(run int) (args []string, cleanup func(), err error)
	samples  []sample
	calls0   int
	// Calls and TokenCalls are the API calls the fakes counted during the measured runs.
	Calls, TokenCalls int
	tokens0           int
}

func (s *scenario) runOnce(ctx context.Context, n int, record bool) error {
	args, cleanup, err := s.args(n)
	if err != nil {
		return err
	}
	defer cleanup()
	smp, stdout, stderr, err := invoke(ctx, s.launcher, s.path, args, s.env, s.target.request())
	if err == nil {
		err = s.target.check(stdout)
	}
	if err == nil && len(stderr) > 0 {
		err = fmt.Errorf("unexpected output on stderr: %s", providers.OneLine(string(stderr)))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.Label, err)
	}
	if record {
		s.samples = append(s.samples, smp)
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

func (b *bench) newFakes(latency time.Duration) (*fakes, error) {
	f, err := newFakes(latency)
	if err != nil {
		return nil, err
	}
	b.fakes = append(b.fakes, f)
	return f, nil
}

func (b *bench) close() {
	for _, f := range b.fakes {
		f.close()
	}
	os.RemoveAll(b.dir)
}

// mkdir makes a fresh directory under the session's.
func (b *bench) mkdir(pattern string) (string, error) { return os.MkdirTemp(b.dir, pattern) }

// scenarioFor sets up one case of target t, with binary path, for case c.
func (b *bench) scenarioFor(t target, path, c string, latency time.Duration, variant string, extraEnv []string) (*scenario, error) {
	f, err := b.newFakes(latency)
	if err != nil {
		return nil, err
	}
	home, err := b.mkdir("home-*")
	if err != nil {
		return nil, err
	}
	aws := filepath.Join(home, "aws") // does not exist: the SDK's defaults
	s := &scenario{Bin: t.bin, Case: c, Latency: latency, Variant: variant, target: t, path: path, fakes: f,
		launcher: filepath.Join(b.bins, launchBin), filler: filepath.Join(b.bins, t.bin)}
	s.Label = t.bin + " " + c
	if c == "cold" {
		s.Label += fmt.Sprintf(" %s", latency)
	}
	if variant != "" {
		s.Label += " [" + variant + "]"
	}
	s.env = f.env(home, filepath.Join(aws, "config"), filepath.Join(aws, "credentials"), extraEnv)
	none := func() {}
	switch {
	case t.bin == dockercfgBin:
		cfg := filepath.Join(home, "config.json")
		auth := base64.StdEncoding.EncodeToString([]byte("bench:bench-password"))
		doc := fmt.Sprintf(`{"auths":{"https://%s":{"auth":%q}}}`, dockercfgHost, auth)
		if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
			return nil, err
		}
		s.args = func(int) ([]string, func(), error) { return []string{"--config=" + cfg}, none, nil }
	case !t.cached:
		s.args = func(int) ([]string, func(), error) { return nil, none, nil }
	case c == "warm":
		dir, err := b.mkdir("warm-*")
		if err != nil {
			return nil, err
		}
		s.args = func(int) ([]string, func(), error) { return []string{"--cache-dir=" + dir}, none, nil }
	default: // cold: an empty cache directory per run, made and removed outside the timing
		s.args = func(int) ([]string, func(), error) {
			dir, err := b.mkdir("cold-*")
			if err != nil {
				return nil, nil, err
			}
			return []string{"--cache-dir=" + dir}, func() { os.RemoveAll(dir) }, nil
		}
	}
	return s, nil
}

// prepare fills the warm cases' caches and then makes the AWS configuration files
// unreadable as files: from here on a run that loads the SDK's configuration fails.
func (s *scenario) prepare(ctx context.Context) error {
	if s.Case != "warm" || !s.target.cached {
		return nil
	}
	if err := s.fill(ctx); err != nil {
		return err
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

// setup builds the list of cases.
func (b *bench) setup() error {
	add := func(bin, path, c string, latency time.Duration, variant string, env []string) error {
		s, err := b.scenarioFor(targets[bin], path, c, latency, variant, env)
		if err != nil {
			return err
		}
		if b.cfg.Match == nil || bin == floorBin || b.cfg.Match.MatchString(s.Label) {
			b.single = append(b.single, s)
		}
		return nil
	}
	fresh := func(bin string) string { return filepath.Join(b.bins, bin) }
	for _, bin := range []string{floorBin, typesBin} {
		if err := add(bin, fresh(bin), "floor", 0, "", nil); err != nil {
			return err
		}
	}
	// providers: the fresh binaries, the baseline's, and each variant.
	type flavour struct {
		name string
		path func(string) string
		env  []string
	}
	flavours := []flavour{{"", fresh, nil}}
	if b.cfg.Baseline != "" {
		flavours = append(flavours, flavour{"baseline", func(bin string) string { return filepath.Join(b.cfg.Baseline, bin) }, nil})
	}
	if len(b.cfg.VariantEnv) > 0 {
		flavours = append(flavours, flavour{strings.Join(b.cfg.VariantEnv, " "), fresh, b.cfg.VariantEnv})
	}
	for _, fl := range flavours {
		for _, bin := range []string{fixedBin, ecrBin, gcrBin, dockercfgBin} {
			path := fl.path(bin)
			if _, err := os.Stat(path); err != nil {
				if fl.name == "baseline" {
					b.logf("baseline has no %s, skipped", bin)
					continue
				}
				return err
			}
			c := "warm"
			if bin == fixedBin {
				c = "floor"
			}
			if err := add(bin, path, c, 0, fl.name, fl.env); err != nil {
				return err
			}
			if !targets[bin].cached {
				continue
			}
			lats := b.cfg.Latencies
			if fl.name != "" {
				lats = lats[:1]
			}
			for _, l := range lats {
				if err := add(bin, path, "cold", l, fl.name, fl.env); err != nil {
					return err
				}
			}
		}
	}
	if b.cfg.Match != nil {
		return nil
	}
	addBurst := func(bin, variant string, env []string) error {
		f, err := b.newFakes(b.cfg.Latencies[0])
		if err != nil {
			return err
		}
		home, err := b.mkdir("home-*")
		if err != nil {
			return err
		}
		aws := filepath.Join(home, "aws")
		bu := &burst{
			Label:    fmt.Sprintf("%s ×%d cold %s", bin, b.cfg.Concurrency, b.cfg.Latencies[0]),
			Bin:      bin,
			Latency:  b.cfg.Latencies[0],
			Variant:  variant,
			target:   targets[bin],
			path:     fresh(bin),
			launcher: fresh(launchBin),
			fakes:    f,
			env:      f.env(home, filepath.Join(aws, "config"), filepath.Join(aws, "credentials"), env),
		}
		if variant != "" {
			bu.Label += " [" + variant + "]"
		}
		b.bursts = append(b.bursts, bu)
		return nil
	}
	for _, bin := range []string{floorBin, ecrBin, gcrBin} {
		if err := addBurst(bin, "", nil); err != nil {
			return err
		}
	}
	if len(b.cfg.VariantEnv) > 0 {
		for _, bin := range []string{ecrBin, gcrBin} {
			if err := addBurst(bin, strings.Join(b.cfg.VariantEnv, " "), b.cfg.VariantEnv); err != nil {
				return err
			}
		}
	}
	return nil
}

// measure runs the single-invocation cases round-robin: warm-up rounds, then measured ones.
func (b *bench) measure(ctx context.Context) error {
	for _, s := range b.single {
		if err := s.prepare(ctx); err != nil {
			return err
		}
	}
	rounds := b.cfg.Warmup + b.cfg.Runs
	for r := 0; r < rounds; r++ {
		if r == b.cfg.Warmup {
			for _, s := range b.single {
				s.calls0, s.tokens0 = s.fakes.calls(), s.fakes.tokenCalls()
			}
		}
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
	for _, s := range b.single {
		s.Calls, s.TokenCalls = s.fakes.calls()-s.calls0, s.fakes.tokenCalls()-s.tokens0
	}
	return nil
}

// measureBursts runs each burst: Concurrency processes released together, sharing one fresh
// cache directory.
func (b *bench) measureBursts(ctx context.Context) error {
	if len(b.bursts) == 0 {
		return nil
	}
	for i := 0; i < b.cfg.Bursts; i++ {
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			smp, stdout, stderr, err := invoke(ctx, bu.launcher, bu.path, args, bu.env, bu.target.request())
			if err == nil {
				err = bu.target.check(stdout)
			}
			if err == nil && len(stderr) > 0 {
				err = fmt.Errorf("unexpected output on stderr: %s", providers.OneLine(string(stderr)))
			}
			samples[i], errs[i] = smp, err
		}()
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
	} else if rep.GoVersion, err = goVersion(ctx); err != nil {
		return nil, err
	}
	if err := b.setup(); err != nil {
		return nil, err
	}
	if err := b.measure(ctx); err != nil {
		return nil, err
	}
	if err := b.measureBursts(ctx); err != nil {
		return nil, err
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
	rep.LoadAfter = loadavg()
	return rep, nil
}

// initTrace runs bin's warm case with GODEBUG=inittrace=1 and summarises its package
// initialisers.
func (b *bench) initTrace(ctx context.Context, bin, variant, path string) (InitProfile, error) {
	s, err := b.scenarioFor(targets[bin], path, "warm", 0, variant, []string{"GODEBUG=inittrace=1"})
	if err != nil {
		return InitProfile{}, err
	}
	if err := s.fill(ctx); err != nil {
		return InitProfile{}, err
	}
	var runs [][]initLine
	for i := 0; i < b.cfg.InitRuns; i++ {
		args, cleanup, err := s.args(i)
		if err != nil {
			return InitProfile{}, err
		}
		_, stdout, stderr, err := invoke(ctx, s.launcher, path, args, s.env, s.target.request())
		cleanup()
		if err == nil {
			err = s.target.check(stdout)
		}
		if err != nil {
			return InitProfile{}, fmt.Errorf("inittrace: %s: %w", bin, err)
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
		args, cleanup, err := s.args(i)
		if err != nil {
			return InitProfile{}, err
		}
		smp, stdout, _, err := launch(ctx, s.launcher, true, path, args, s.env, s.target.request())
		cleanup()
		if err == nil {
			err = s.target.check(stdout)
		}
		if err != nil {
			// ptrace may be forbidden (Yama ptrace_scope 3, a seccomp profile): the
			// memory table is left out, the rest of the run stands.
			b.logf("memory probe of %s failed, no memory figures: %v", bin, err)
			prof.ProbeErr = providers.OneLine(err.Error())
			return prof, nil
		}
		hwm, anon, file = append(hwm, smp.hwm), append(anon, smp.anon), append(file, smp.file)
	}
	prof.HWM, prof.Anon, prof.File = medianInt(hwm), medianInt(anon), medianInt(file)
	return prof, nil
}

// fill fills a warm case's cache with one run of the fresh binary (the baseline's may not
// be able to fetch: a prototype, say). Its stderr is not checked: it may be a trace.
func (s *scenario) fill(ctx context.Context) error {
	if !s.target.cached {
		return nil
	}
	args, cleanup, err := s.args(-1)
	if err != nil {
		return err
	}
	defer cleanup()
	_, stdout, _, err := invoke(ctx, s.launcher, s.filler, args, s.env, s.target.request())
	if err == nil {
		err = s.target.check(stdout)
	}
	if err != nil {
		return fmt.Errorf("%s: fill the cache: %w", s.Label, err)
	}
	return nil
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
	// The fronts run their full plugins, which must sit next to them.
	args = append(args, "./cmd/"+ecrBin+"-full", "./cmd/"+gcrBin+"-full")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return goVersion(ctx)
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
