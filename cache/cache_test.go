package cache

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestGetOrFetchLifecycle fetches an entry at t0 (lifetime 12h, fresh for 6h, stale margin
// 5m), moves the clock and calls GetOrFetch again, from the same cache or, with restart, from
// a new one on the same directory (a new plugin process: cold memory, warm disk).
func TestGetOrFetchLifecycle(t *testing.T) {
	tests := []struct {
		name     string
		after    time.Duration
		restart  bool // disk layer only
		fetchErr bool
		// want is the second call's result; its entry's user is "first" or "second".
		want         *Result
		wantUser     string
		wantErr      error
		wantFetches  int32
		wantWarnings int
		wantGone     bool // the entry is deleted from memory and disk
	}{
		{name: "fresh hit from memory", after: time.Hour,
			want: &Result{Source: Memory, FreshFor: 5 * time.Hour}, wantUser: "first", wantFetches: 1},
		{name: "fresh hit from disk in a new process", after: time.Hour, restart: true,
			want: &Result{Source: Disk, FreshFor: 5 * time.Hour}, wantUser: "first", wantFetches: 1},
		{name: "fresh until just before half-life", after: 6*time.Hour - time.Nanosecond,
			want: &Result{Source: Memory, FreshFor: time.Nanosecond}, wantUser: "first", wantFetches: 1},
		{name: "refresh at half-life", after: 6 * time.Hour,
			want: &Result{Source: Fetched, FreshFor: 6 * time.Hour}, wantUser: "second", wantFetches: 2},
		{name: "refresh at half-life in a new process", after: 6 * time.Hour, restart: true,
			want: &Result{Source: Fetched, FreshFor: 6 * time.Hour}, wantUser: "second", wantFetches: 2},
		{name: "stale if error after half-life", after: 7 * time.Hour, fetchErr: true,
			want: &Result{Source: Stale}, wantUser: "first", wantFetches: 2, wantWarnings: 1},
		{name: "stale if error from disk in a new process", after: 7 * time.Hour, restart: true, fetchErr: true,
			want: &Result{Source: Stale}, wantUser: "first", wantFetches: 2, wantWarnings: 1},
		{name: "stale until the margin", after: lifetime - DefaultStaleMargin - time.Nanosecond, fetchErr: true,
			want: &Result{Source: Stale}, wantUser: "first", wantFetches: 2, wantWarnings: 1},
		{name: "error within the margin", after: lifetime - DefaultStaleMargin, fetchErr: true,
			wantErr: errFetch, wantFetches: 2},
		{name: "expired is refetched", after: lifetime,
			want: &Result{Source: Fetched, FreshFor: 6 * time.Hour}, wantUser: "second", wantFetches: 2},
		{name: "expired is deleted when the fetch fails", after: lifetime, fetchErr: true,
			wantErr: errFetch, wantFetches: 2, wantGone: true},
		{name: "expired on disk is deleted in a new process", after: lifetime + time.Hour, restart: true, fetchErr: true,
			wantErr: errFetch, wantFetches: 2, wantGone: true},
	}
	for _, layer := range []string{"memory", "disk"} {
		for _, tt := range tests {
			if tt.restart && layer == "memory" {
				continue
			}
			t.Run(layer+"/"+tt.name, func(t *testing.T) {
				dir := ""
				if layer == "disk" {
					dir = t.TempDir()
				}
				h := newHarness(t, dir)
				key := testKey("lifecycle")
				first := h.entry("first", lifetime)
				c := h.cache()
				if _, err := c.GetOrFetch(t.Context(), key, func(context.Context) (*Entry, error) {
					h.fetches.Add(1)
					return first, nil
				}); err != nil {
					t.Fatalf("first GetOrFetch(%v) error: %v", key, err)
				}

				h.clock.Advance(tt.after)
				if tt.restart {
					c = h.cache()
				}
				fetch := h.fetchOK("second", lifetime)
				if tt.fetchErr {
					fetch = h.fetchErr()
				}
				got, err := c.GetOrFetch(t.Context(), key, fetch)

				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("GetOrFetch(%v) error = %v, want %v", key, err, tt.wantErr)
				}
				if tt.want != nil {
					tt.want.Entry = first
					if tt.wantUser == "second" {
						tt.want.Entry = h.entry("second", lifetime)
					}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("GetOrFetch(%v) mismatch (-want +got):\n%s", key, diff)
				}
				if n := h.fetches.Load(); n != tt.wantFetches {
					t.Errorf("fetches = %d, want %d", n, tt.wantFetches)
				}
				if n := h.logs.count(slog.LevelWarn); n != tt.wantWarnings {
					t.Errorf("warnings = %d, want %d; logs:\n%s", n, tt.wantWarnings, h.logs)
				}
				if tt.wantGone {
					if e := c.memGet(key); e != nil {
						t.Errorf("memory holds %v after expiry, want nothing", e)
					}
					if dir != "" && exists(t, fileOf(dir, key)) {
						t.Errorf("%s exists after expiry, want it deleted", fileOf(dir, key))
					}
				}
			})
		}
	}
}

// TestGetOrFetchMemoryHitSkipsDisk replaces the cache file behind a cache's back: a memory hit
// must not read it.
func TestGetOrFetchMemoryHitSkipsDisk(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir)
	key := testKey("memory")
	c := h.cache()
	want, err := c.GetOrFetch(t.Context(), key, h.fetchOK("first", lifetime))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fileOf(dir, key), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	logsBefore := h.logs.String()

	got, err := c.GetOrFetch(t.Context(), key, h.fetchOK("second", lifetime))
	if err != nil {
		t.Fatalf("GetOrFetch(%v) error: %v", key, err)
	}
	want.Source = Memory
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetOrFetch(%v) mismatch (-want +got):\n%s", key, diff)
	}
	if n := h.fetches.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1", n)
	}
	if diff := cmp.Diff(logsBefore, h.logs.String()); diff != "" {
		t.Errorf("a memory hit logged (the file was read?) (-before +after):\n%s", diff)
	}
}

func TestGetOrFetchInvalidFetch(t *testing.T) {
	tests := []struct {
		name    string
		entry   func(now time.Time) *Entry
		err     error
		wantErr error
	}{
		{name: "nil entry", entry: func(time.Time) *Entry { return nil }, wantErr: ErrInvalidEntry},
		{name: "expires when fetched", entry: func(now time.Time) *Entry { return newEntry("u", now, 0) },
			wantErr: ErrInvalidEntry},
		{name: "expires before fetched", entry: func(now time.Time) *Entry { return newEntry("u", now, -time.Hour) },
			wantErr: ErrInvalidEntry},
		{name: "already expired", entry: func(now time.Time) *Entry { return newEntry("u", now.Add(-2*time.Hour), time.Hour) },
			wantErr: ErrInvalidEntry},
		{name: "zero fetch time and past expiry", entry: func(now time.Time) *Entry {
			return &Entry{ExpiresAt: now.Add(-time.Second)}
		}, wantErr: ErrInvalidEntry},
		{name: "entry and error", entry: func(now time.Time) *Entry { return newEntry("u", now, lifetime) },
			err: errFetch, wantErr: errFetch},
	}
	for _, layer := range []string{"memory", "disk"} {
		for _, tt := range tests {
			t.Run(layer+"/"+tt.name, func(t *testing.T) {
				dir := ""
				if layer == "disk" {
					dir = t.TempDir()
				}
				h := newHarness(t, dir)
				c := h.cache()
				key := testKey("invalid")
				got, err := c.GetOrFetch(t.Context(), key, func(context.Context) (*Entry, error) {
					return tt.entry(h.clock.Now()), tt.err
				})
				if !errors.Is(err, tt.wantErr) || got != nil {
					t.Fatalf("GetOrFetch(%v) = %v, %v, want nil, %v", key, got, err, tt.wantErr)
				}
				if e := c.memGet(key); e != nil {
					t.Errorf("memory holds %v, want nothing", e)
				}
				if dir != "" && exists(t, fileOf(dir, key)) {
					t.Errorf("%s exists, want nothing stored", fileOf(dir, key))
				}
			})
		}
	}
}

func TestGetOrFetchFillsFetchedAt(t *testing.T) {
	h := newHarness(t, "")
	key := testKey("zero")
	got, err := h.cache().GetOrFetch(t.Context(), key, func(context.Context) (*Entry, error) {
		return &Entry{ExpiresAt: t0.Add(time.Hour)}, nil
	})
	want := &Result{Entry: &Entry{FetchedAt: t0, ExpiresAt: t0.Add(time.Hour)}, Source: Fetched, FreshFor: 30 * time.Minute}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetOrFetch(%v) mismatch (-want +got):\n%s", key, diff)
	}
}

// TestPrune checks the eviction of expired entries after a fetch, in memory and on disk, and
// the removal of leftovers of crashed writers.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir)
	c := h.cache()
	short, long, busy := testKey("short"), testKey("long"), testKey("busy")
	for _, k := range []struct {
		key  Key
		life time.Duration
	}{{short, time.Hour}, {long, lifetime}, {busy, time.Hour}} {
		if _, err := c.GetOrFetch(t.Context(), k.key, h.fetchOK("u", k.life)); err != nil {
			t.Fatal(err)
		}
	}
	hashOf := func(k Key) string { return filepath.Join(dir, k.hash()) }
	garbage := filepath.Join(dir, NewKey("garbage").hash()+".json")
	orphanTmp := hashOf(long) + ".json" + tmpInfix + "123"
	foreign := filepath.Join(dir, "README")
	for _, name := range []string{garbage, orphanTmp, foreign} {
		if err := os.WriteFile(name, []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	held := newLock(hashOf(busy)) // another process is fetching busy
	if ok, err := held.TryLock(); !ok {
		t.Fatalf("TryLock: %v", err)
	}
	defer held.Unlock()

	h.clock.Advance(2 * time.Hour)
	if _, err := c.GetOrFetch(t.Context(), testKey("new"), h.fetchOK("u", lifetime)); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		want bool
	}{
		{hashOf(short) + ".json", false},
		{hashOf(short) + ".lock", false},
		{garbage, false},
		{orphanTmp, false},
		{hashOf(long) + ".json", true},
		{hashOf(long) + ".lock", true},
		{hashOf(busy) + ".json", true},
		{foreign, true},
	} {
		if got := exists(t, tt.name); got != tt.want {
			t.Errorf("after prune, %s exists = %v, want %v", filepath.Base(tt.name), got, tt.want)
		}
	}
	if e := c.memGet(short); e != nil {
		t.Errorf("memory holds expired %v, want it evicted", short)
	}
	if e := c.memGet(long); e == nil {
		t.Errorf("memory lost unexpired %v", long)
	}
}

func TestDelete(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir)
	c := h.cache()
	key := testKey("delete")
	if _, err := c.GetOrFetch(t.Context(), key, h.fetchOK("u", lifetime)); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(key); err != nil {
		t.Fatalf("Delete(%v) error: %v", key, err)
	}
	if err := c.Delete(key); err != nil {
		t.Fatalf("second Delete(%v) error: %v", key, err)
	}
	got, err := c.GetOrFetch(t.Context(), key, h.fetchOK("u", lifetime))
	if err != nil || got.Source != Fetched {
		t.Errorf("GetOrFetch(%v) after Delete = %v, %v, want source %v", key, got, err, Fetched)
	}
}

// TestGetOrFetchConcurrent sends 50 goroutines at one cold key: one fetch.
func TestGetOrFetchConcurrent(t *testing.T) {
	tests := []struct {
		name     string
		disk     bool
		separate bool // one Cache per goroutine: only the file lock collapses the fetches
	}{
		{name: "memory only"},
		{name: "disk", disk: true},
		{name: "separate caches sharing a dir", disk: true, separate: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := ""
			if tt.disk {
				dir = t.TempDir()
			}
			h := newHarness(t, dir)
			shared := h.cache()
			key := testKey("concurrent")
			start := make(chan struct{})
			results := make([]*Result, 50)
			errs := make([]error, 50)
			var wg sync.WaitGroup
			for i := range results {
				wg.Go(func() {
					c := shared
					if tt.separate {
						c = h.cache()
					}
					<-start
					results[i], errs[i] = c.GetOrFetch(t.Context(), key, h.fetchOK("u", lifetime))
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("GetOrFetch(%v) #%d error: %v", key, i, err)
				}
				if diff := cmp.Diff(results[0].Entry, results[i].Entry); diff != "" {
					t.Errorf("GetOrFetch(%v) #%d entry mismatch (-#0 +#%d):\n%s", key, i, i, diff)
				}
			}
			if n := h.fetches.Load(); n != 1 {
				t.Errorf("fetches = %d, want 1", n)
			}
		})
	}
}

func TestGetOrFetchContextDone(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir)
	key := testKey("ctx")
	held := newLock(filepath.Join(dir, key.hash()))
	if ok, err := held.TryLock(); !ok {
		t.Fatalf("TryLock: %v", err)
	}
	defer held.Unlock()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	got, err := h.cache().GetOrFetch(ctx, key, h.fetchOK("u", lifetime))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("GetOrFetch(%v) with a done context and a held lock = %v, %v, want %v", key, got, err, context.Canceled)
	}
	if n := h.fetches.Load(); n != 0 {
		t.Errorf("fetches = %d, want 0", n)
	}
}

func TestNewKey(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		same bool
	}{
		{name: "same parts", a: []string{"a", "b"}, b: []string{"a", "b"}, same: true},
		{name: "boundary moved", a: []string{"ab", "c"}, b: []string{"a", "bc"}},
		{name: "no parts and one empty part", a: nil, b: []string{""}},
		{name: "trailing empty part", a: []string{"a"}, b: []string{"a", ""}},
		{name: "part that looks like a prefix", a: []string{"1:a"}, b: []string{"a"}},
		{name: "order", a: []string{"a", "b"}, b: []string{"b", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := NewKey(tt.a...), NewKey(tt.b...)
			if got := a == b; got != tt.same {
				t.Errorf("NewKey(%q) == NewKey(%q) is %v, want %v", tt.a, tt.b, got, tt.same)
			}
			if got := a.hash() == b.hash(); got != tt.same {
				t.Errorf("file names of NewKey(%q) and NewKey(%q) equal is %v, want %v", tt.a, tt.b, got, tt.same)
			}
		})
	}
}

func TestKeyStringHidesParts(t *testing.T) {
	key := NewKey("registry", "part-"+secretMark)
	if s := key.String(); !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(s) {
		t.Errorf("NewKey(...).String() = %q, want 16 hex digits", s)
	}
}

func TestHashIdentity(t *testing.T) {
	got := HashIdentity("token-" + secretMark)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(got) {
		t.Errorf("HashIdentity(...) = %q, want 64 hex digits", got)
	}
	if again := HashIdentity("token-" + secretMark); again != got {
		t.Errorf("HashIdentity is not deterministic: %q, then %q", got, again)
	}
	if other := HashIdentity("token-other"); other == got {
		t.Errorf("HashIdentity of two secrets = %q for both", got)
	}
}

func TestSourceString(t *testing.T) {
	for _, tt := range []struct {
		s    Source
		want string
	}{{Memory, "memory"}, {Disk, "disk"}, {Fetched, "fetched"}, {Stale, "stale"}, {0, "Source(0)"}} {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("Source(%d).String() = %q, want %q", int(tt.s), got, tt.want)
		}
	}
}

func TestAddFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		want     Options
		wantDisk bool
	}{
		{name: "defaults", want: Options{Dir: DefaultDir(), FreshFraction: 0.5}, wantDisk: DefaultDir() != ""},
		{name: "dir", args: []string{"--cache-dir=DIR"}, want: Options{Dir: "DIR", FreshFraction: 0.5}, wantDisk: true},
		{name: "empty dir is memory only", args: []string{"--cache-dir="}, want: Options{FreshFraction: 0.5}},
		{name: "no disk cache", args: []string{"--cache-dir=DIR", "--no-disk-cache"},
			want: Options{Dir: "DIR", NoDisk: true, FreshFraction: 0.5}},
		{name: "fresh fraction", args: []string{"--cache-fresh-fraction=0.25"},
			want: Options{Dir: DefaultDir(), FreshFraction: 0.25}, wantDisk: DefaultDir() != ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for i, a := range tt.args {
				tt.args[i] = regexp.MustCompile(`DIR`).ReplaceAllLiteralString(a, dir)
			}
			if tt.want.Dir == "DIR" {
				tt.want.Dir = dir
			}
			var got Options
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			got.AddFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.args, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) options mismatch (-want +got):\n%s", tt.args, diff)
			}
			if tt.wantDisk && tt.want.Dir == DefaultDir() {
				return // do not create the real default directory
			}
			if disk := New(got).dir != ""; disk != tt.wantDisk {
				t.Errorf("New(options of %q) has disk = %v, want %v", tt.args, disk, tt.wantDisk)
			}
		})
	}
}

func TestDefaultDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	if got := DefaultDir(); got != dir {
		t.Errorf("DefaultDir() with %s=%s = %q, want it", EnvDir, dir, got)
	}
	t.Setenv(EnvDir, "")
	if got := DefaultDir(); got != "" {
		t.Errorf("DefaultDir() with %s empty = %q, want \"\" (memory only)", EnvDir, got)
	}
	os.Unsetenv(EnvDir) // restored by t.Setenv's cleanup
	if os.Geteuid() == 0 {
		if got, want := DefaultDir(), "/var/lib/kubelet/pullkeys"; got != want {
			t.Errorf("DefaultDir() as root = %q, want %q", got, want)
		}
		return
	}
	xdg := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", xdg)
	if got, want := DefaultDir(), filepath.Join(xdg, "pullkeys"); got != want {
		t.Errorf("DefaultDir() with XDG_CACHE_HOME=%s = %q, want %q", xdg, got, want)
	}
}

func BenchmarkGetOrFetchMemoryHit(b *testing.B) {
	h := newHarness(b, b.TempDir())
	c, key := h.cache(), testKey("bench")
	fetch := h.fetchOK("u", lifetime)
	if _, err := c.GetOrFetch(b.Context(), key, fetch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if r, err := c.GetOrFetch(b.Context(), key, fetch); err != nil || r.Source != Memory {
			b.Fatalf("GetOrFetch(%v) = %v, %v, want a memory hit", key, r, err)
		}
	}
}

// BenchmarkGetOrFetchDiskHit is the plugin's case: each process starts cold in memory and
// warm on disk.
func BenchmarkGetOrFetchDiskHit(b *testing.B) {
	h := newHarness(b, b.TempDir())
	key := testKey("bench")
	fetch := h.fetchOK("u", lifetime)
	if _, err := h.cache().GetOrFetch(b.Context(), key, fetch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if r, err := h.cache().GetOrFetch(b.Context(), key, fetch); err != nil || r.Source != Disk {
			b.Fatalf("GetOrFetch(%v) = %v, %v, want a disk hit", key, r, err)
		}
	}
}
