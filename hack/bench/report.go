//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Report is what one session measured.
type Report struct {
	Config
	Machine
	GoVersion         string
	Tree              string // the commit built, "" for prebuilt binaries
	Started, Finished time.Time
	LoadAfter         string // after the single invocations, before the bursts and the throttle scenario
	Single            []*scenario
	Simultaneous      []*burst
	Sizes             []Size
	Init              []InitProfile
	Throttle          *ThrottleResult // nil when not run
}

// Machine describes where the figures were taken.
type Machine struct {
	CPU, Kernel, Memory, LoadBefore string
	Cores                           int
}

// Size is the size of one binary.
type Size struct {
	Bin, Variant string
	Bytes        int64
}

func machine() Machine {
	m := Machine{CPU: "unknown", Kernel: runtime.GOOS, Cores: runtime.NumCPU(), LoadBefore: loadavg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			var kb int64
			if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
				m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				break
			}
		}
	}
	return m
}

// loadavg returns the 1, 5 and 15 minute load averages, or "" where there are none.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// busy reports whether a load average shows other work on the machine: a one-minute load
// above the bench's own (one measured process at a time during the single invocations, and
// what its build or an earlier run left in the average at the start) plus a quarter of the
// cores.
func busy(load string, cores int) bool {
	var l float64
	if _, err := fmt.Sscan(load, &l); err != nil {
		return false
	}
	return l > 1+float64(cores)/4
}

// stats are the order statistics of a case's runs.
type stats struct {
	N                         int
	Median, Min, Max          time.Duration
	CPUMedian                 time.Duration
	RSSMedian, RSSMin, RSSMax int64
	medianMs, medianMiB       float64
}

func statsOf(samples []sample) stats {
	s := stats{N: len(samples)}
	if len(samples) == 0 {
		return s
	}
	walls := make([]time.Duration, len(samples))
	cpus := make([]time.Duration, len(samples))
	rss := make([]int64, len(samples))
	for i, x := range samples {
		walls[i], cpus[i], rss[i] = x.wall, x.cpu, x.rss
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	s.CPUMedian = median(cpus)
	slices.Sort(rss)
	s.Median, s.Min, s.Max = median(walls), walls[0], walls[len(walls)-1]
	s.RSSMedian, s.RSSMin, s.RSSMax = median(rss), rss[0], rss[len(rss)-1]
	s.medianMs, s.medianMiB = ms(s.Median), mib(s.RSSMedian)
	return s
}

// median returns the median of v (0 for none), without changing v.
func median[T ~int64 | ~float64](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mib(b int64) float64        { return float64(b) / (1 << 20) }

func fmtMs(d time.Duration) string { return fmt.Sprintf("%.2f ms", ms(d)) }
func fmtMiB(b int64) string        { return fmt.Sprintf("%.1f MiB", mib(b)) }
func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// Issue 15's targets for the cached case: median wall time at most this multiple of the
// floor's, and peak RSS at most cachedMaxMiB.
var cachedMaxRatio = map[string]float64{ecrBin: 4, gcrBin: 3, dockercfgBin: 3}

const cachedMaxMiB = 12.0

func (r *Report) find(bin, c string, latency time.Duration, variant string) *scenario {
	for _, s := range r.Single {
		if s.Bin == bin && s.Case == c && s.Latency == latency && s.Variant == variant {
			return s
		}
	}
	return nil
}

func (r *Report) floor() stats {
	if s := r.find(floorBin, caseFloor, 0, ""); s != nil {
		return statsOf(s.samples)
	}
	return stats{}
}

func (r *Report) burstOf(bin string) *burst {
	for _, b := range r.Simultaneous {
		if b.Bin == bin && b.Variant == "" {
			return b
		}
	}
	return nil
}

func yes(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}

// Markdown renders the generated part of docs/benchmarks.md (without the markers).
func (r *Report) Markdown() string {
	var w bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	floor := r.floor()

	p("<!-- Generated by `go run ./hack/bench`: edit outside the bench:begin/end markers. -->\n\n")
	p("### Run\n\n")
	p("- When: %s, %s in total.\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Finished.Sub(r.Started).Round(time.Second))
	p("- Machine: %s, %d cores, %s, %s memory; %s; binaries built with CGO_ENABLED=0 -trimpath -ldflags='-s -w'.\n",
		r.CPU, r.Cores, r.Kernel, r.Memory, r.GoVersion)
	if r.Tree != "" {
		p("- Tree: %s.\n", r.Tree)
	}
	p("- Load average (1, 5, 15 min) at the start: %s; after the single invocations: %s", r.LoadBefore, r.LoadAfter)
	if busy(r.LoadBefore, r.Cores) || busy(r.LoadAfter, r.Cores) {
		p(" (other work was running on the machine: absolute times are inflated, ratios to the floor less so)")
	}
	p(".\n")
	p("- %d measured runs per case after %d warm-up runs, all cases interleaved round-robin; bursts: %d × %d simultaneous invocations; start-up: median of %d GODEBUG=inittrace=1 runs.\n\n",
		r.Runs, r.Warmup, r.Bursts, r.Concurrency, r.InitRuns)

	r.summary(&w, floor)
	r.targets(&w, floor)

	p("### Single invocations\n\n")
	p("Wall time from fork to exit with the request on a pipe; CPU is the process's user and system time, which the machine's other work disturbs less than wall time; peak RSS is the child's ru_maxrss. API calls are those the fakes counted during the measured runs, per run. Cases: *cached*: ecr and gcr with a fresh token in the shared cache directory (written by one run beforehand), dockercfg reading its docker config; *cold*: an empty cache directory every run, with the API latency injected into the fakes.\n\n")
	p("| Case | Wall median | min | max | × floor | CPU median | Peak RSS median | max | × floor | API calls per run |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Single {
		st := statsOf(s.samples)
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f |\n", s.Label, fmtMs(st.Median), fmtMs(st.Min), fmtMs(st.Max),
			ratio(st.medianMs, floor.medianMs), fmtMs(st.CPUMedian), fmtMiB(st.RSSMedian), fmtMiB(st.RSSMax), ratio(st.medianMiB, floor.medianMiB),
			float64(s.Calls)/float64(max(st.N, 1)))
	}
	p("\n")

	if len(r.Simultaneous) > 0 {
		r.bursts(&w)
	}
	if r.Throttle != nil {
		w.WriteString(r.Throttle.markdown())
	}
	r.rest(&w)
	return w.String()
}

// summary writes one row per plugin: its cached and cold medians as ratios to the floor, and
// its burst's calls.
func (r *Report) summary(w *bytes.Buffer, floor stats) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("### Summary\n\n")
	p("Median wall time and median peak RSS, each with its ratio to the floor's (%s, %s) in the same run. Cached: ecr and gcr with a fresh token in the shared cache directory, dockercfg reading its docker config; cold: an empty cache directory, at each injected API latency. Burst: %d simultaneous cold invocations for one registry sharing one cache directory, token calls per burst (all API calls).\n\n",
		fmtMs(floor.Median), fmtMiB(floor.RSSMedian), r.Concurrency)
	p("| Plugin | Cached: wall | peak RSS |")
	for _, l := range r.Latencies {
		p(" Cold %s: wall | peak RSS |", l)
	}
	p(" Burst: token calls (all) |\n|---|---:|---:|%s---:|\n", strings.Repeat("---:|---:|", len(r.Latencies)))
	cell := func(s *scenario) string {
		if s == nil {
			return "– | –"
		}
		st := statsOf(s.samples)
		return fmt.Sprintf("%s (%s) | %s (%s)", fmtMs(st.Median), ratio(st.medianMs, floor.medianMs), fmtMiB(st.RSSMedian), ratio(st.medianMiB, floor.medianMiB))
	}
	for _, bin := range plugins {
		p("| %s | %s |", bin, cell(r.find(bin, caseCached, 0, "")))
		for _, l := range r.Latencies {
			p(" %s |", cell(r.find(bin, caseCold, l, "")))
		}
		calls := "–"
		if b := r.burstOf(bin); b != nil {
			calls = fmt.Sprintf("%s (%s)", spread(b.TokenCalls), spread(b.Calls))
		}
		p(" %s |\n", calls)
	}
	p("\n")
}

// bursts writes the table of simultaneous invocations.
func (r *Report) bursts(w *bytes.Buffer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("### %d simultaneous invocations\n\n", r.Concurrency)
	p("One registry, one fresh shared cache directory per burst, all processes released at once. \"All answered\" is the wall time from the release to the last exit.\n\n")
	p("| Case | All answered: median | min | max | × floor burst | Per process: median | max | CPU per process | Peak RSS max | API calls per burst | of which token calls |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var floorBurst time.Duration
	if fb := r.burstOf(floorBin); fb != nil {
		floorBurst = median(fb.Walls)
	}
	for _, b := range r.Simultaneous {
		walls := sortedDurations(b.Walls)
		st := statsOf(b.Procs)
		calls, tokens := "–", "–"
		if b.target.cached {
			calls, tokens = spread(b.Calls), spread(b.TokenCalls)
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", b.Label, fmtMs(median(walls)), fmtMs(walls[0]), fmtMs(walls[len(walls)-1]),
			ratio(ms(median(walls)), ms(floorBurst)), fmtMs(st.Median), fmtMs(st.Max), fmtMs(st.CPUMedian), fmtMiB(st.RSSMax), calls, tokens)
	}
	p("\n")
}

// rest writes the sizes, start-up, memory and comparison tables.
func (r *Report) rest(w *bytes.Buffer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("### Binary sizes\n\n")
	p("Stripped, static (CGO_ENABLED=0, -trimpath, -ldflags='-s -w'); one file per plugin.\n\n")
	p("| Binary | Size | × floor |\n|---|---:|---:|\n")
	floorSize := r.sizeOf(floorBin, "")
	for _, s := range r.Sizes {
		p("| %s | %s (%d bytes) | %s |\n", label(s.Bin, s.Variant), fmtMiB(s.Bytes), s.Bytes, ratio(float64(s.Bytes), float64(floorSize)))
	}
	p("\n")

	p("### Start-up: package initialisation\n\n")
	p("GODEBUG=inittrace=1 on each binary's cached case (a floor's only case): the time and memory of every package initialiser, paid by every invocation before main runs. Median over the runs; the top %d initialisers by time.\n\n", topInit)
	p("| Binary | Packages | Init total | Allocated | Top initialisers (ms, KiB) |\n|---|---:|---:|---:|---|\n")
	for _, ip := range r.Init {
		var top []string
		for _, t := range ip.Top {
			top = append(top, fmt.Sprintf("%s %.3f, %d", t.Pkg, t.Ms, t.Bytes>>10))
		}
		p("| %s | %d | %.2f ms | %d KiB | %s |\n", label(ip.Bin, ip.Variant), ip.Packages, ip.TotalMs, ip.TotalBytes>>10, strings.Join(top, "; "))
	}
	p("\n")

	p("### Memory: the binary's pages and private memory\n\n")
	p("The cached case (as for start-up) run under ptrace and stopped as it exits (launch -probe), median of %d runs: VmHWM is the peak resident size (≈ ru_maxrss); RssFile the resident pages that map files, almost all the binary's own text and data, shared through the page cache with every other process running the same binary; RssAnon the private memory (heap, stacks).\n\n", r.InitRuns)
	p("| Binary | Peak (VmHWM) | File-backed, shared (RssFile) | Private (RssAnon) | Binary size |\n|---|---:|---:|---:|---:|\n")
	for _, ip := range r.Init {
		if ip.ProbeErr != "" {
			p("| %s | not measured: %s | | | %s |\n", label(ip.Bin, ip.Variant), ip.ProbeErr, fmtMiB(r.sizeOf(ip.Bin, ip.Variant)))
			continue
		}
		p("| %s | %s | %s | %s | %s |\n", label(ip.Bin, ip.Variant), fmtMiB(ip.HWM), fmtMiB(ip.File), fmtMiB(ip.Anon), fmtMiB(r.sizeOf(ip.Bin, ip.Variant)))
	}
	p("\n")

	if r.Baseline != "" || len(r.VariantEnv) > 0 {
		r.comparisons(w)
	}
}

func label(bin, variant string) string {
	if variant == "" {
		return bin
	}
	return bin + " [" + variant + "]"
}

func sortedDurations(d []time.Duration) []time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s
}

// spread prints the values of a list as "n" when all are equal, else "min–max".
func spread(v []int) string {
	if len(v) == 0 {
		return "–"
	}
	lo, hi := slices.Min(v), slices.Max(v)
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d–%d", lo, hi)
}

// targets writes issue 15's targets with this run's figures.
func (r *Report) targets(w *bytes.Buffer, floor stats) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("### Targets (issue 15)\n\n")
	p("| Target | This run | Verdict |\n|---|---|---|\n")
	for _, bin := range plugins {
		s := r.find(bin, caseCached, 0, "")
		if s == nil {
			continue
		}
		st := statsOf(s.samples)
		p("| Cached: median wall ≤ %.0f× floor (%s) | %s = %s the floor's %s | %s |\n", cachedMaxRatio[bin], bin, fmtMs(st.Median),
			ratio(st.medianMs, floor.medianMs), fmtMs(floor.Median), yes(st.medianMs <= cachedMaxRatio[bin]*floor.medianMs))
		cold := ""
		for _, c := range r.Single {
			if c.Bin == bin && c.Case == caseCold && c.Variant == "" {
				cold = fmt.Sprintf("; for reference, cold max %s", fmtMiB(statsOf(c.samples).RSSMax))
				break
			}
		}
		p("| Cached: peak RSS ≤ %.0f MiB (%s) | median %s, max %s%s | %s |\n", cachedMaxMiB, bin, fmtMiB(st.RSSMedian), fmtMiB(st.RSSMax), cold,
			yes(mib(st.RSSMax) <= cachedMaxMiB))
		switch bin {
		case ecrBin:
			p("| Token cached: no network call, no AWS SDK configuration loaded (%s) | %d API calls in %d runs, with AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE directories, which fails any load | %s |\n",
				bin, s.Calls, st.N, yes(s.Calls == 0))
		case gcrBin:
			p("| Token cached: no metadata call (%s) | %d calls in %d runs | %s |\n", bin, s.Calls, st.N, yes(s.Calls == 0))
		}
	}
	for _, bin := range []string{ecrBin, gcrBin} {
		b := r.burstOf(bin)
		if b == nil {
			continue
		}
		ok := slices.Max(b.TokenCalls) == 1 && slices.Min(b.TokenCalls) == 1
		verdict := yes(ok)
		if others := slices.Max(b.Calls) - 1; ok && others > 0 {
			// gcr also reads the account's scopes from the metadata server, once per fetch.
			verdict += fmt.Sprintf(" for the token; other calls per burst: %s (metadata reads of the account's scopes)", spread(subtract(b.Calls, b.TokenCalls)))
		}
		p("| %d simultaneous cold invocations for one registry: exactly 1 token call (%s) | token calls per burst: %s (all calls: %s) in %d bursts | %s |\n",
			r.Concurrency, bin, spread(b.TokenCalls), spread(b.Calls), len(b.Walls), verdict)
	}
	p("\n")
}

// subtract returns a[i]-b[i] for each i.
func subtract(a, b []int) []int {
	d := make([]int, len(a))
	for i := range a {
		d[i] = a[i] - b[i]
	}
	return d
}

// comparisons writes before/after tables: the baseline's binaries and the variant
// environment against the fresh binaries.
func (r *Report) comparisons(w *bytes.Buffer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	for _, variant := range []string{"baseline", strings.Join(r.VariantEnv, " ")} {
		if variant == "" || (variant == "baseline" && r.Baseline == "") {
			continue
		}
		title, beforeName, afterName := "Before and after: the baseline's binaries against these", "before", "after"
		if variant != "baseline" {
			title, beforeName, afterName = "With "+variant+" against without", "without", "with"
		}
		p("### %s\n\n", title)
		p("Medians of the same interleaved run.\n\n")
		p("| Case | Wall: %s | %s | change | CPU: %s | %s | change | Peak RSS: %s | %s | change |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
			beforeName, afterName, beforeName, afterName, beforeName, afterName)
		for _, s := range r.Single {
			if s.Variant != variant {
				continue
			}
			fresh := r.find(s.Bin, s.Case, s.Latency, "")
			if fresh == nil {
				continue
			}
			a, b := statsOf(fresh.samples), statsOf(s.samples) // before, after
			if variant == "baseline" {
				a, b = b, a
			}
			ca, cb := ms(a.CPUMedian), ms(b.CPUMedian)
			p("| %s %s%s | %s | %s | %+.2f ms (%+.0f%%) | %s | %s | %+.2f ms (%+.0f%%) | %s | %s | %+.1f MiB (%+.0f%%) |\n", s.Bin, s.Case, latencyLabel(s),
				fmtMs(a.Median), fmtMs(b.Median), b.medianMs-a.medianMs, 100*(b.medianMs-a.medianMs)/a.medianMs,
				fmtMs(a.CPUMedian), fmtMs(b.CPUMedian), cb-ca, 100*(cb-ca)/ca,
				fmtMiB(a.RSSMedian), fmtMiB(b.RSSMedian), b.medianMiB-a.medianMiB, 100*(b.medianMiB-a.medianMiB)/a.medianMiB)
		}
		p("\n")
		if variant == "baseline" {
			p("| Binary | Init total: before | after | Allocated: before | after | Size: before | after |\n|---|---:|---:|---:|---:|---:|---:|\n")
			for _, bin := range binaryOrder {
				before, after := r.initOf(bin, "baseline"), r.initOf(bin, "")
				sb, sa := r.sizeOf(bin, "baseline"), r.sizeOf(bin, "")
				if before == nil || after == nil {
					continue
				}
				p("| %s | %.2f ms | %.2f ms | %d KiB | %d KiB | %d | %d |\n", bin, before.TotalMs, after.TotalMs,
					before.TotalBytes>>10, after.TotalBytes>>10, sb, sa)
			}
			p("\n")
		}
	}
}

func latencyLabel(s *scenario) string {
	if s.Case == caseCold {
		return " " + s.Latency.String()
	}
	return ""
}

func (r *Report) initOf(bin, variant string) *InitProfile {
	for i := range r.Init {
		if r.Init[i].Bin == bin && r.Init[i].Variant == variant {
			return &r.Init[i]
		}
	}
	return nil
}

func (r *Report) sizeOf(bin, variant string) int64 {
	for _, s := range r.Sizes {
		if s.Bin == bin && s.Variant == variant {
			return s.Bytes
		}
	}
	return 0
}

// The markers around the generated part of the document.
const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
)

// splice puts generated between the markers of doc, keeping the rest. A doc without markers
// gets a title and the markers.
func splice(doc, generated string) (string, error) {
	if doc == "" {
		doc = "# Benchmarks\n\nRegenerate with `make bench` (or `go run ./hack/bench -out docs/benchmarks.md`).\n\n" +
			beginMarker + "\n" + endMarker + "\n"
	}
	i := strings.Index(doc, beginMarker)
	j := strings.Index(doc, endMarker)
	if i < 0 || j < i {
		return "", errors.New("the document has no " + beginMarker + " … " + endMarker + " section")
	}
	return doc[:i+len(beginMarker)] + "\n" + generated + doc[j:], nil
}
