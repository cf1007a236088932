//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestQuickRun runs the whole harness in quick mode. It asserts correctness only, never
// timing: every case answered (the harness checks each answer as the kubelet would), cached
// runs made no API call, each cold run made one token call, and each burst of simultaneous
// cold invocations made exactly one token call.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and runs a few hundred processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := QuickConfig()
	cfg.Log = testWriter{t}
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run(quick) = %v", err)
	}

	var cases []string
	for _, s := range rep.Single {
		cases = append(cases, s.Label)
		if got := len(s.samples); got != cfg.Runs {
			t.Errorf("%s: %d measured runs, want %d", s.Label, got, cfg.Runs)
		}
		if s.Case != caseCold && s.Calls != 0 {
			t.Errorf("%s: %d API calls, want none", s.Label, s.Calls)
		}
		if s.Case == caseCold && s.TokenCalls != cfg.Runs {
			t.Errorf("%s: %d token calls in %d runs, want one per run", s.Label, s.TokenCalls, cfg.Runs)
		}
	}
	want := []string{
		"floor", "typesfloor", "fixed",
		"ecr-credential-provider cached", "ecr-credential-provider cold 0s",
		"gcr-credential-provider cached", "gcr-credential-provider cold 0s",
		"dockercfg-credential-provider cached",
	}
	if diff := cmp.Diff(want, cases); diff != "" {
		t.Errorf("cases (-want +got):\n%s", diff)
	}

	for _, b := range rep.Simultaneous {
		if got := len(b.Procs); got != cfg.Concurrency*cfg.Bursts {
			t.Errorf("%s: %d processes answered, want %d", b.Label, got, cfg.Concurrency*cfg.Bursts)
		}
		for i, n := range b.TokenCalls {
			if want := btoi(b.target.cached); n != want {
				t.Errorf("%s: burst %d made %d token calls, want %d", b.Label, i, n, want)
			}
		}
	}

	md := rep.Markdown()
	for _, s := range []string{"### Summary", "### Targets (issue 15)", "### Single invocations", "| ecr-credential-provider cached |",
		"### 50 simultaneous invocations", "### Binary sizes", "| dockercfg-credential-provider |", "### Start-up"} {
		if !strings.Contains(md, s) {
			t.Errorf("Markdown() lacks %q", s)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestCachedRunWithoutTokenFails checks the cached case's checks: with the token gone from
// the cache directory, the plugin must fetch one, and the harness must refuse the run (ecr:
// loading the AWS SDK configuration fails on the directories the case put in its place; gcr:
// the metadata calls are counted).
func TestCachedRunWithoutTokenFails(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	b := &bench{cfg: QuickConfig(), dir: dir, bins: filepath.Join(dir, "bin"), log: testWriter{t}}
	defer b.close()
	if _, err := build(ctx, b.bins); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ bin, wantErr string }{
		{bin: ecrBin, wantErr: "load AWS configuration"},
		{bin: gcrBin, wantErr: "API calls, want none"},
	}
	for _, tt := range tests {
		t.Run(tt.bin, func(t *testing.T) {
			s, err := b.scenarioFor(ctx, spec{bin: tt.bin, kind: caseCached}, filepath.Join(b.bins, tt.bin), "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.runOnce(ctx, 0, true); err != nil {
				t.Fatalf("a run with the token cached: %v", err)
			}
			args, _, _ := s.args(0)
			cache := strings.TrimPrefix(args[0], "--cache-dir=")
			if err := os.RemoveAll(cache); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(cache, 0o700); err != nil {
				t.Fatal(err)
			}
			err = s.runOnce(ctx, 1, true)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("a cached run without the token: error %v, want one containing %q", err, tt.wantErr)
			}
			if got := len(s.samples); got != 1 {
				t.Errorf("%d runs recorded, want only the first", got)
			}
		})
	}
}

func TestSplice(t *testing.T) {
	tests := []struct {
		name, doc, want string
		wantErr         bool
	}{
		{
			name: "keeps the text around the markers",
			doc:  "# B\n\nintro\n\n" + beginMarker + "\nold\n" + endMarker + "\n\nanalysis\n",
			want: "# B\n\nintro\n\n" + beginMarker + "\nnew\n" + endMarker + "\n\nanalysis\n",
		},
		{
			name: "new document",
			doc:  "",
			want: "# Benchmarks\n\nRegenerate with `make bench` (or `go run ./hack/bench -out docs/benchmarks.md`).\n\n" + beginMarker + "\nnew\n" + endMarker + "\n",
		},
		{name: "no markers", doc: "# B\n", wantErr: true},
		{name: "markers reversed", doc: endMarker + beginMarker, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splice(tt.doc, "new\n")
			if (err != nil) != tt.wantErr {
				t.Fatalf("splice(%q) error = %v, want error %v", tt.doc, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("splice(%q) (-want +got):\n%s", tt.doc, diff)
			}
		})
	}
}

func TestParseInitLine(t *testing.T) {
	tests := []struct {
		name, line string
		want       initLine
		wantErr    bool
	}{
		{name: "go 1.26 line", line: "init net/netip @0.51 ms, 0.010 ms clock, 744 bytes, 12 allocs",
			want: initLine{Pkg: "net/netip", ClockMs: 0.010, Bytes: 744, Allocs: 12}},
		{name: "escaped package path", line: "init gopkg.in/inf%2ev0 @2.1 ms, 0.073 ms clock, 9312 bytes, 40 allocs",
			want: initLine{Pkg: "gopkg.in/inf%2ev0", ClockMs: 0.073, Bytes: 9312, Allocs: 40}},
		{name: "other format", line: "init x @1 ms", wantErr: true},
		{name: "not a number", line: "init x @1 ms, abc ms clock, 1 bytes, 1 allocs", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseInitLine(tt.line)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseInitLine(%q) error = %v, want error %v", tt.line, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); !tt.wantErr && diff != "" {
				t.Errorf("parseInitLine(%q) (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

func TestSummariseInit(t *testing.T) {
	runs := [][]initLine{
		{{Pkg: "a", ClockMs: 1, Bytes: 10}, {Pkg: "b", ClockMs: 0.5, Bytes: 5}},
		{{Pkg: "a", ClockMs: 3, Bytes: 10}, {Pkg: "b", ClockMs: 0.5, Bytes: 5}},
		{{Pkg: "a", ClockMs: 2, Bytes: 10}, {Pkg: "b", ClockMs: 0.7, Bytes: 5}},
	}
	got := summariseInit("bin", "", runs)
	want := InitProfile{Bin: "bin", Runs: 3, Packages: 2, TotalMs: 2.7, TotalBytes: 15,
		Top: []InitPackage{{Pkg: "a", Ms: 2, Bytes: 10}, {Pkg: "b", Ms: 0.5, Bytes: 5}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summariseInit (-want +got):\n%s", diff)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestBusy: the bench's own one process is not other work; more than that and a quarter of
// the cores is, as in the loaded runs of docs/benchmarks.md.
func TestBusy(t *testing.T) {
	for _, c := range []struct {
		load  string
		cores int
		want  bool
	}{
		{"0.71 2.21 2.24", 2, false},   // idle, what earlier runs left in the 5 and 15 min
		{"1.21 2.11 2.21", 2, false},   // the single invocations' own process
		{"1.50 1.00 1.00", 2, false},   // at the bound
		{"1.87 3.98 2.62", 2, true},    // more than the bench's own
		{"25.35 21.88 13.53", 2, true}, // shared with other builds
		{"2.90 1.00 1.00", 8, false},   // more cores, more room
		{"", 2, false},                 // no reading
	} {
		if got := busy(c.load, c.cores); got != c.want {
			t.Errorf("busy(%q, %d) = %v, want %v", c.load, c.cores, got, c.want)
		}
	}
}
