//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// initLine is one line of GODEBUG=inittrace=1:
//
//	init net/netip @0.5 ms, 0.01 ms clock, 744 bytes, 12 allocs
type initLine struct {
	Pkg     string
	ClockMs float64
	Bytes   int64
	Allocs  int64
}

// parseInitTrace reads the init lines of a process's stderr; other lines are ignored.
func parseInitTrace(stderr []byte) ([]initLine, error) {
	var lines []initLine
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	for sc.Scan() {
		text := sc.Text()
		if !strings.HasPrefix(text, "init ") {
			continue
		}
		l, err := parseInitLine(text)
		if err != nil {
			return nil, err
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("no init lines on stderr (is GODEBUG=inittrace=1 set?)")
	}
	return lines, sc.Err()
}

func parseInitLine(text string) (initLine, error) {
	f := strings.Fields(text)
	// init <pkg> @<t> ms, <clock> ms clock, <bytes> bytes, <allocs> allocs
	if len(f) != 11 || f[0] != "init" || f[3] != "ms," || f[5] != "ms" || f[6] != "clock," || f[8] != "bytes," || f[10] != "allocs" {
		return initLine{}, fmt.Errorf("unexpected inittrace line %q", text)
	}
	var (
		l   = initLine{Pkg: f[1]}
		err error
	)
	if l.ClockMs, err = strconv.ParseFloat(f[4], 64); err != nil {
		return initLine{}, fmt.Errorf("inittrace line %q: %w", text, err)
	}
	if l.Bytes, err = strconv.ParseInt(f[7], 10, 64); err != nil {
		return initLine{}, fmt.Errorf("inittrace line %q: %w", text, err)
	}
	if l.Allocs, err = strconv.ParseInt(f[9], 10, 64); err != nil {
		return initLine{}, fmt.Errorf("inittrace line %q: %w", text, err)
	}
	return l, nil
}

// InitProfile summarises the package initialisers of one binary over several runs.
type InitProfile struct {
	Bin, Variant string
	Runs         int
	Packages     int
	// TotalMs and TotalBytes are the medians over the runs of the sums over the packages.
	TotalMs    float64
	TotalBytes int64
	// Top are the packages with the highest median clock time, at most topInit of them.
	Top []InitPackage
	// HWM, Anon and File are the medians of VmHWM, RssAnon and RssFile (bytes) as the
	// process exits, from -probe runs.
	HWM, Anon, File int64
	// ProbeErr says why there are no memory figures ("" when there are).
	ProbeErr string
}

// InitPackage is one package's initialiser: median clock time and bytes allocated.
type InitPackage struct {
	Pkg   string
	Ms    float64
	Bytes int64
}

const topInit = 6

func summariseInit(bin, variant string, runs [][]initLine) InitProfile {
	p := InitProfile{Bin: bin, Variant: variant, Runs: len(runs)}
	byPkg := map[string][]initLine{}
	var totals []float64
	var bytesTotals []int64
	for _, run := range runs {
		var ms float64
		var b int64
		for _, l := range run {
			ms += l.ClockMs
			b += l.Bytes
			byPkg[l.Pkg] = append(byPkg[l.Pkg], l)
		}
		totals = append(totals, ms)
		bytesTotals = append(bytesTotals, b)
	}
	p.TotalMs = median(totals)
	p.TotalBytes = median(bytesTotals)
	p.Packages = len(byPkg)
	for pkg, ls := range byPkg {
		var ms []float64
		var bs []int64
		for _, l := range ls {
			ms = append(ms, l.ClockMs)
			bs = append(bs, l.Bytes)
		}
		p.Top = append(p.Top, InitPackage{Pkg: pkg, Ms: median(ms), Bytes: median(bs)})
	}
	sort.Slice(p.Top, func(i, j int) bool {
		if p.Top[i].Ms != p.Top[j].Ms {
			return p.Top[i].Ms > p.Top[j].Ms
		}
		if p.Top[i].Bytes != p.Top[j].Bytes {
			return p.Top[i].Bytes > p.Top[j].Bytes
		}
		return p.Top[i].Pkg < p.Top[j].Pkg
	})
	if len(p.Top) > topInit {
		p.Top = p.Top[:topInit]
	}
	return p
}
