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
	"github.com/pullkeys/pullkeys/providers/replay"
	"github.com/pullkeys/pullkeys/providers/replay/replaytest"
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
	floorBin         = "floor"
	typesBin         = "typesfloor"
	fixedBin         = "fixed"
	ecrBin           = "ecr-credential-provider"  // the front (providers/replay)
	gcrBin           = "gcr-credential-provider"  // the front
	ecrFullBin       = ecrBin + replay.FullSuffix // the full plugin the front runs on a miss
	gcrFullBin       = gcrBin + replay.FullSuffix
	dockercfgBin     = "dockercfg-credential-provider" // the front
	dockercfgFullBin = dockercfgBin + replay.FullSuffix
	launchBin        = "launch"
)

// packages are the main packages built, by binary name, relative to the module root.
var packages = map[string]string{
	floorBin:         "./hack/bench/floor",
	typesBin:         "./hack/bench/typesfloor",
	fixedBin:         "./hack/bench/fixed",
	ecrBin:           "./cmd/ecr-credential-provider",
	ecrFullBin:       "./cmd/ecr-credential-provider-full",
	gcrBin:           "./cmd/gcr-credential-provider",
	gcrFullBin:       "./cmd/gcr-credential-provider-full",
	dockercfgBin:     "./cmd/dockercfg-credential-provider",
	dockercfgFullBin: "./cmd/dockercfg-credential-provider-full",
	launchBin:        "./hack/bench/launch",
}

// binaryOrder is the order of the binaries in tables.
var binaryOrder = []string{floorBin, typesBin, fixedBin, ecrBin, ecrFullBin, gcrBin, gcrFullBin, dockercfgBin, dockercfgFullBin}

// fronts are the binaries that replay saved answers (providers/replay), each with its full
// plugin next to it.
var fronts = []string{ecrBin, gcrBin, dockercfgBin}

// target is what one binary is asked and what it must answer.
type target struct {
	bin     string
	image   string // the request's image
	authKey string // a key the answer's auth map must hold
	cached  bool   // it uses the shared token cache and a cloud API: cold cases and bursts
}

// isFront reports whether path, a binary of t, is a front: a provider with its full plugin
// next to it (a baseline may predate the split, with one binary that is the plugin).
func (t target) isFront(path string) bool {
	if t.isFull() || !slices.Contains(fronts, t.bin) {
		return false
	}
	_, err := os.Stat(fullOf(path))
	return err == nil
}

// isFull reports whether t is a full plugin, run directly.
func (t target) isFull() bool { return strings.HasSuffix(t.bin, replay.FullSuffix) }

// missCase is the case of t's front (or full plugin) with no saved answer for the request:
// warm-token for a cached provider, miss for dockercfg.
func (t target) missCase() string {
	if t.cached {
		return caseWarmToken
	}
	return caseMiss
}

// fullOf is the full plugin the front at path runs.
func fullOf(path string) string { return path + replay.FullSuffix }

const (
	ecrImage       = ecrtest.DefaultAccount + ".dkr.ecr.us-east-1.amazonaws.com/bench/app"
	ecrHost        = ecrtest.DefaultAccount + ".dkr.ecr.us-east-1.amazonaws.com"
	dockercfgHost  = "registry.bench.example"
	dockercfgImage = dockercfgHost + "/bench/app"
)

var targets = map[string]target{
	floorBin:         {bin: floorBin, image: "floor.invalid/bench/app", authKey: "floor.invalid"},
	typesBin:         {bin: typesBin, image: "typesfloor.invalid/bench/app", authKey: "typesfloor.invalid"},
	fixedBin:         {bin: fixedBin, image: "fixed.invalid/bench/app", authKey: "fixed.invalid"},
	ecrBin:           {bin: ecrBin, image: ecrImage, authKey: ecrHost, cached: true},
	ecrFullBin:       {bin: ecrFullBin, image: ecrImage, authKey: ecrHost, cached: true},
	gcrBin:           {bin: gcrBin, image: "gcr.io/bench-project/app", authKey: "gcr.io", cached: true},
	gcrFullBin:       {bin: gcrFullBin, image: "gcr.io/bench-project/app", authKey: "gcr.io", cached: true},
	dockercfgBin:     {bin: dockercfgBin, image: dockercfgImage, authKey: dockercfgHost},
	dockercfgFullBin: {bin: dockercfgFullBin, image: dockercfgImage, authKey: dockercfgHost},
}

func (t target) request() []byte { return t.requestFor(t.image) }

func (t target) requestFor(image string) []byte {
	return fmt.Appendf(nil, `{"apiVersion":%q,"kind":%q,"image":%q}`, providers.APIVersionV1, providers.RequestKind, image)
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

// The single-invocation cases.
const (
	caseFloor = "floor" // a floor program
	// caseWarm: the cache directory holds a fresh token and, for a front, the full
	// plugin's saved answer to this very request: the front replays it.
	caseWarm = "warm"
	// caseWarmToken: the cache directory holds a fresh token but no saved answer for the
	// request (another image of the same registry every run): the front misses and runs the
	// full plugin, which answers from the cached token and saves its answer.
	caseWarmToken = "warm-token"
	// caseMiss: dockercfg's warm-token: no saved answer for the request (another image of the
	// same registry every run): the front runs the full plugin, which reads the docker config
	// and saves its answer.
	caseMiss = "miss"
	// caseCold: an empty cache directory every run.
	caseCold = "cold"
)

// scenario is one single-invocation case.
type scenario struct {
	Label   string // e.g. "ecr-credential-provider warm"
	Bin     string // binary name
	Case    string // caseFloor, caseWarm, caseWarmToken, caseMiss or caseCold
	Latency time.Duration
	Variant string // "" for the fresh binaries, "baseline", or the variant's environment

	target target
	path   string
	// front is set when path is a front; full is the full plugin whose executions are
	// counted: the front's, or path itself when the full plugin is run directly; "" for none.
	front    bool
	full     string
	filler   string // the fresh binary, which fills the cache of a warm case
	launcher string
	fakes    *fakes
	watch    *replaytest.Runs
	env      []string
	cacheDir string // the warm cases' cache directory
	args     func(run int) (args []string, cleanup func(), err error)
	samples  []sample
	calls0   int
	// Calls and TokenCalls are the API calls the fakes counted during the measured runs.
	Calls, TokenCalls int
	tokens0           int
	// FullRuns is the number of measured runs in which the full plugin was executed.
	FullRuns int
}

// isMiss reports whether the case is warm-token or miss: a front with no saved answer for the
// request.
func (s *scenario) isMiss() bool { return s.Case == caseWarmToken || s.Case == caseMiss }

// request is the request of run n (-1: the run that fills the cache): in the warm-token and
// miss cases, another image of the same registry every run, for which no answer is saved.
func (s *scenario) request(n int) []byte {
	if s.isMiss() && n >= 0 {
		return s.target.requestFor(fmt.Sprintf("%s-%d", s.target.image, n))
	}
	return s.target.request()
}

// run runs the case once (the request of run n) and checks the answer, the API calls and
// the full plugin's executions; the caller checks stderr.
func (s *scenario) run(ctx context.Context, n int, probe bool) (smp sample, stderr []byte, execs int, err error) {
	args, cleanup, err := s.args(n)
	if err != nil {
		return smp, nil, 0, err
	}
	defer cleanup()
	if err := s.watch.Reset(); err != nil {
		return smp, nil, 0, err
	}
	calls0 := s.fakes.calls()
	smp, stdout, stderr, err := launch(ctx, s.launcher, probe, s.path, args, s.env, s.request(n))
	if err == nil {
		err = s.target.check(stdout)
	}
	if err == nil {
		execs, err = s.verify(s.fakes.calls() - calls0)
	}
	if err != nil {
		return smp, stderr, execs, fmt.Errorf("%s: %w", s.Label, err)
	}
	return smp, stderr, execs, nil
}

// verify checks what a run did besides answering: a warm case makes no API call; a warm run
// of a front is a replay (its full plugin was not executed, and an answer is saved); a
// warm-token, miss or cold run of a front is a miss (the full plugin ran), and a warm-token or
// miss run leaves exactly the answer the full plugin saved for it, which is removed for the
// next run. It returns the number of times the full plugin was executed (inotify merges
// repeated opens: 1 means at least once).
func (s *scenario) verify(calls int) (int, error) {
	if (s.Case == caseWarm || s.isMiss()) && calls != 0 {
		return 0, fmt.Errorf("%d API calls with a fresh token in the cache, want none", calls)
	}
	if s.full == "" {
		return 0, nil
	}
	execs, err := s.watch.Take(s.full)
	if err != nil {
		return 0, err
	}
	switch {
	case s.Case == caseWarm && s.front:
		if execs != 0 {
			return execs, fmt.Errorf("not a replay: the front ran %s", filepath.Base(s.full))
		}
		if n, err := countAnswers(s.cacheDir); err != nil || n == 0 {
			return execs, fmt.Errorf("no saved answer in %s (%v)", replay.AnswersDir, err)
		}
	case s.isMiss():
		if execs != 1 {
			return execs, fmt.Errorf("%s ran %d times, want once (no saved answer for the request)", filepath.Base(s.full), execs)
		}
		if n, err := countAnswers(s.cacheDir); err != nil || n != 1 {
			return execs, fmt.Errorf("%d answers saved, want the one for this request (%v)", n, err)
		}
		if err := clearAnswers(s.cacheDir); err != nil {
			return execs, err
		}
	case s.Case == caseCold && s.front:
		if execs != 1 {
			return execs, fmt.Errorf("%s ran %d times, want once on an empty cache", filepath.Base(s.full), execs)
		}
	}
	return execs, nil
}

// countAnswers counts the answers saved in dir's answers directory.
func countAnswers(dir string) (int, error) {
	ents, err := os.ReadDir(filepath.Join(dir, replay.AnswersDir))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".json") {
			n++
		}
	}
	return n, nil
}

// clearAnswers removes the answers saved in dir, keeping the directory.
func clearAnswers(dir string) error {
	answers := filepath.Join(dir, replay.AnswersDir)
	ents, err := os.ReadDir(answers)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.Remove(filepath.Join(answers, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (s *scenario) runOnce(ctx context.Context, n int, record bool) error {
	smp, stderr, execs, err := s.run(ctx, n, false)
	if err == nil && len(stderr) > 0 {
		err = fmt.Errorf("%s: unexpected output on stderr: %s", s.Label, providers.OneLine(string(stderr)))
	}
	if err != nil {
		return err
	}
	if record {
		s.samples = append(s.samples, smp)
		if execs > 0 {
			s.FullRuns++
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
	full     string // the front's full plugin, "" for none
	launcher string
	fakes    *fakes
	env      []string
	// Walls are the wall times until all had answered, one per burst; Procs the wall times
	// and RSS of every process; Calls and TokenCalls the API calls of each burst; FullRuns
	// the processes of each burst that ran the full plugin, estimated by their peak RSS (see
	// fullRuns; the others replayed an answer saved during the burst).
	Walls                       []time.Duration
	Procs                       []sample
	Calls, TokenCalls, FullRuns []int
}

// bench holds one measurement session: a temporary directory, the fakes and the cases.
type bench struct {
	cfg    Config
	dir    string
	bins   string
	log    io.Writer
	watch  *replaytest.Runs
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
	if b.watch != nil {
		b.watch.Close()
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
		watch: b.watch, launcher: filepath.Join(b.bins, launchBin), filler: filepath.Join(b.bins, t.bin)}
	switch {
	case t.isFront(path):
		s.front, s.full = true, fullOf(path)
	case t.isFull():
		s.full = path
	}
	if s.full != "" {
		if err := b.watch.Watch(s.full); err != nil {
			return nil, err
		}
	}
	s.Label = t.bin + " " + c
	if c == caseCold {
		s.Label += fmt.Sprintf(" %s", latency)
	}
	if variant != "" {
		s.Label += " [" + variant + "]"
	}
	s.env = f.env(home, filepath.Join(aws, "config"), filepath.Join(aws, "credentials"), extraEnv)
	none := func() {}
	switch {
	case t.bin == dockercfgBin || t.bin == dockercfgFullBin:
		cfg := filepath.Join(home, "config.json")
		auth := base64.StdEncoding.EncodeToString([]byte("bench:bench-password"))
		doc := fmt.Sprintf(`{"auths":{"https://%s":{"auth":%q}}}`, dockercfgHost, auth)
		if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
			return nil, err
		}
		args := []string{"--config=" + cfg}
		if s.full != "" {
			// The case's own directory for the saved answers, never the default one (a
			// dockercfg binary from before the split has no such flag).
			dir, err := b.mkdir("warm-*")
			if err != nil {
				return nil, err
			}
			s.cacheDir = dir
			args = append(args, "--cache-dir="+dir)
		}
		s.args = func(int) ([]string, func(), error) { return args, none, nil }
	case !t.cached:
		s.args = func(int) ([]string, func(), error) { return nil, none, nil }
	case c == caseWarm || c == caseWarmToken || c == caseMiss:
		dir, err := b.mkdir("warm-*")
		if err != nil {
			return nil, err
		}
		s.cacheDir = dir
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
	if s.Case != caseWarm && !s.isMiss() {
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
	for _, bin := range fronts {
		if !targets[bin].isFront(fresh(bin)) {
			return fmt.Errorf("%s has no %s next to it: the front runs it on a miss", fresh(bin), filepath.Base(fullOf(fresh(bin))))
		}
	}
	for _, bin := range []string{floorBin, typesBin} {
		if err := add(bin, fresh(bin), caseFloor, 0, "", nil); err != nil {
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
			t := targets[bin]
			c := caseWarm
			if bin == fixedBin {
				c = caseFloor
			}
			if err := add(bin, path, c, 0, fl.name, fl.env); err != nil {
				return err
			}
			if t.isFront(path) {
				if err := add(bin, path, t.missCase(), 0, fl.name, fl.env); err != nil {
					return err
				}
			}
			lats := b.cfg.Latencies
			if fl.name != "" {
				lats = lats[:1]
			}
			if t.cached {
				for _, l := range lats {
					if err := add(bin, path, caseCold, l, fl.name, fl.env); err != nil {
						return err
					}
				}
			}
			if fl.name != "" || !t.isFront(path) {
				continue
			}
			// The full plugin run directly, as before the split: the difference from the
			// front's warm-token (miss) and cold cases is what the front adds on a miss.
			full := bin + replay.FullSuffix
			if err := add(full, fresh(full), t.missCase(), 0, "", nil); err != nil {
				return err
			}
			if t.cached {
				if err := add(full, fresh(full), caseCold, lats[0], "", nil); err != nil {
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
		if bu.target.isFront(bu.path) {
			bu.full = fullOf(bu.path)
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
	full := 0
	if bu.full != "" {
		if full, err = fullRuns(bu.path, bu.full, samples); err != nil {
			return err
		}
		if full == 0 {
			return errors.New("no process ran the full plugin on an empty cache")
		}
	}
	bu.Walls = append(bu.Walls, wall)
	bu.Procs = append(bu.Procs, samples...)
	bu.Calls = append(bu.Calls, bu.fakes.calls()-calls0)
	bu.TokenCalls = append(bu.TokenCalls, bu.fakes.tokenCalls()-tokens0)
	bu.FullRuns = append(bu.FullRuns, full)
	return nil
}

// fullRuns estimates how many of a burst's processes ran the full plugin, by their peak RSS:
// inotify merges the simultaneous opens of one file into one event, so it cannot count them.
// A replay's peak is about the front's binary (2.5 MiB of binary, 3.1 MiB peak), a full
// plugin's at least most of its own (9 MiB and more): a process counts as a full plugin's run
// when its peak is above the mean of the two binaries' sizes.
func fullRuns(front, full string, samples []sample) (int, error) {
	fi, err := os.Stat(front)
	if err != nil {
		return 0, err
	}
	ff, err := os.Stat(full)
	if err != nil {
		return 0, err
	}
	limit := (fi.Size() + ff.Size()) / 2
	n := 0
	for _, s := range samples {
		if s.rss > limit {
			n++
		}
	}
	return n, nil
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
	if b.watch, err = replaytest.NewRuns(); err != nil {
		return nil, err
	}
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
// initialisers: for a front, its replay (checked as the measured runs are); for a full
// plugin, run directly with a fresh token in the cache, what a front's miss adds.
func (b *bench) initTrace(ctx context.Context, bin, variant, path string) (InitProfile, error) {
	s, err := b.scenarioFor(targets[bin], path, caseWarm, 0, variant, []string{"GODEBUG=inittrace=1"})
	if err != nil {
		return InitProfile{}, err
	}
	if err := s.fill(ctx); err != nil {
		return InitProfile{}, err
	}
	var runs [][]initLine
	for i := 0; i < b.cfg.InitRuns; i++ {
		_, stderr, _, err := s.run(ctx, i, false)
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
	// The environment is part of a saved answer's key: fill again for a front.
	s.env = slices.DeleteFunc(s.env, func(kv string) bool { return strings.HasPrefix(kv, "GODEBUG=") })
	if err := s.fill(ctx); err != nil {
		return InitProfile{}, err
	}
	var hwm, anon, file []int64
	for i := 0; i < b.cfg.InitRuns; i++ {
		smp, _, _, err := s.run(ctx, i, true)
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

// fill fills a warm case's cache with one run of the fresh binary (the baseline's may not be
// able to fetch: a prototype, say), through the front for a front, whose full plugin then
// saves its answer. A front other than the fresh one (a baseline's) runs once more itself:
// its full plugin, another file, saves the answer under its own key. A warm case of a front
// must then hold an answer to replay; a warm-token or miss case's answers are removed. Stderr
// is not checked: it may be a trace.
func (s *scenario) fill(ctx context.Context) error {
	if s.cacheDir == "" {
		return nil
	}
	args, cleanup, err := s.args(-1)
	if err != nil {
		return err
	}
	defer cleanup()
	fill := func(path string) error {
		_, stdout, _, err := invoke(ctx, s.launcher, path, args, s.env, s.request(-1))
		if err == nil {
			err = s.target.check(stdout)
		}
		if err != nil {
			return fmt.Errorf("%s: fill the cache: %w", s.Label, err)
		}
		return nil
	}
	if err := fill(s.filler); err != nil {
		return err
	}
	if s.front && s.path != s.filler {
		if err := fill(s.path); err != nil {
			return err
		}
	}
	if s.full != "" {
		if n, err := countAnswers(s.cacheDir); err != nil || n == 0 {
			return fmt.Errorf("%s: fill the cache: the full plugin saved no answer (%v)", s.Label, err)
		}
		if s.isMiss() {
			if err := clearAnswers(s.cacheDir); err != nil {
				return err
			}
		}
	}
	return s.watch.Reset()
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
