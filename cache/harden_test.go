package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestGetOrFetchCapsLifetime: an entry on disk cannot live longer than its source can issue
// (Options.MaxLifetime), whatever its file says.
func TestGetOrFetchCapsLifetime(t *testing.T) {
	const max = lifetime // an ECR token's
	tests := []struct {
		name       string
		fetchedAt  time.Time
		life       time.Duration
		wantSource Source
		wantExpiry time.Time // of the entry served
	}{
		{name: "within the cap served as is", fetchedAt: t0, life: max,
			wantSource: Disk, wantExpiry: t0.Add(max)},
		{name: "expiring in a century cut to the cap", fetchedAt: t0, life: 100 * 365 * 24 * time.Hour,
			wantSource: Disk, wantExpiry: t0.Add(max)},
		{name: "fetched in the future refused", fetchedAt: t0.Add(50 * 365 * 24 * time.Hour), life: time.Hour,
			wantSource: Fetched, wantExpiry: t0.Add(max)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			h := newHarness(t, dir)
			h.opts.MaxLifetime = max
			key := testKey("capped")
			data, err := encodeEntry(key.enc, newEntry("planted", tt.fetchedAt, tt.life))
			if err != nil {
				t.Fatal(err)
			}
			write(t, fileOf(dir, key), data)

			got, err := h.cache().GetOrFetch(t.Context(), key, h.fetchOK("fetched", max))
			if err != nil {
				t.Fatalf("GetOrFetch(%v) error: %v", key, err)
			}
			if got.Source != tt.wantSource || !got.Entry.ExpiresAt.Equal(tt.wantExpiry) {
				t.Errorf("GetOrFetch(%v) = source %v, expires at %v; want %v, %v", key, got.Source, got.Entry.ExpiresAt, tt.wantSource, tt.wantExpiry)
			}
			if got.FreshFor > max/2 {
				t.Errorf("GetOrFetch(%v).FreshFor = %v, more than half of the cap %v", key, got.FreshFor, max)
			}
		})
	}
}

// TestGetOrFetchCapsFetchedLifetime: a fetch that claims a longer lifetime than the cap is cut
// to it too.
func TestGetOrFetchCapsFetchedLifetime(t *testing.T) {
	h := newHarness(t, t.TempDir())
	h.opts.MaxLifetime = time.Hour
	key := testKey("long fetch")
	got, err := h.cache().GetOrFetch(t.Context(), key, h.fetchOK("u", 1000*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := &Result{Entry: h.entry("u", time.Hour), Source: Fetched, FreshFor: 30 * time.Minute}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetOrFetch(%v) mismatch (-want +got):\n%s", key, diff)
	}
}

// plantEntries writes n entries fetched at fetchedAt (with their lock files) into dir.
func plantEntries(t testing.TB, dir string, n int, fetchedAt time.Time) {
	t.Helper()
	for i := range n {
		key := NewKey("planted", fmt.Sprint(i))
		data, err := encodeEntry(key.enc, newEntry("old", fetchedAt, lifetime))
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Join(dir, key.hash())
		if err := os.WriteFile(base+".json", data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(base+".lock", nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func countJSON(t testing.TB, dir string) int {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range des {
		if strings.HasSuffix(d.Name(), ".json") {
			n++
		}
	}
	return n
}

// TestPruneBounded: a fetch tidies at most pruneBatch entries of a large directory, not the
// whole of it, before answering; repeated fetches keep tidying.
func TestPruneBounded(t *testing.T) {
	const planted = 3 * pruneBatch
	dir := t.TempDir()
	plantEntries(t, dir, planted, t0.Add(-2*lifetime)) // expired
	h := newHarness(t, dir)

	if _, err := h.cache().GetOrFetch(t.Context(), testKey("first"), h.fetchOK("u", lifetime)); err != nil {
		t.Fatal(err)
	}
	left := countJSON(t, dir) - 1 // less the fetched entry
	if removed := planted - left; removed > pruneBatch || removed == 0 {
		t.Errorf("one fetch removed %d of %d expired entries, want 1 to %d", removed, planted, pruneBatch)
	}
	for i := range planted {
		h.clock.Advance(pruneEvery) // a directory is tidied at most once per pruneEvery
		if _, err := h.cache().GetOrFetch(t.Context(), testKey(fmt.Sprint("more", i)), h.fetchOK("u", lifetime)); err != nil {
			t.Fatal(err)
		}
	}
	if after := countJSON(t, dir) - 1 - planted; after >= left {
		t.Errorf("expired entries left after %d more fetches = %d, want fewer than %d", planted, after, left)
	}
}

// TestPruneAtMostOncePerInterval: processes fetching in quick succession do not each list a
// large directory: the first tidies it and leaves a mark, the next ones within pruneEvery do
// not; a mark from the future (a clock set back, a planted file) does not stop tidying.
func TestPruneAtMostOncePerInterval(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir)
	fetch := func(name string) {
		t.Helper()
		if _, err := h.cache().GetOrFetch(t.Context(), testKey(name), h.fetchOK("u", lifetime)); err != nil {
			t.Fatal(err)
		}
	}
	fetch("first") // tidies, marks
	plantEntries(t, dir, 5, t0.Add(-2*lifetime))
	fetch("soon after")
	if n := countJSON(t, dir); n != 2+5 {
		t.Errorf("a fetch within %v of the last tidying tidied: %d cache files, want %d", pruneEvery, n, 2+5)
	}
	h.clock.Advance(pruneEvery)
	fetch("later")
	if n := countJSON(t, dir); n != 3 {
		t.Errorf("a fetch %v after the last tidying did not tidy: %d cache files, want 3", pruneEvery, n)
	}
	plantEntries(t, dir, 5, t0.Add(-2*lifetime))
	h.clock.Advance(-time.Hour) // the mark is now in the future
	fetch("clock set back")
	if n := countJSON(t, dir); n != 4 {
		t.Errorf("a mark from the future stopped tidying: %d cache files, want 4", n)
	}
}

// BenchmarkColdFetchManyEntries is a plugin process's cold request (empty memory, no entry on
// disk for its key, so a fetch, a durable write and maybe a tidying) in an empty directory and
// in one of 20,000 entries, as on a long-lived node with many keys: when the directory is due
// for tidying (the worst case, once per pruneEvery) and when it was just tidied (a burst).
func BenchmarkColdFetchManyEntries(b *testing.B) {
	for _, n := range []int{0, 20000} {
		for _, due := range []bool{true, false} {
			b.Run(fmt.Sprintf("entries=%d/due=%v", n, due), func(b *testing.B) {
				dir := b.TempDir()
				plantEntries(b, dir, n, t0) // live: nothing to remove, but each one to look at
				h := newHarness(b, dir)
				fetch := h.fetchOK("u", lifetime)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					i++
					if due {
						h.clock.Advance(pruneEvery)
					}
					key := testKey(fmt.Sprint("cold", i))
					if r, err := h.cache().GetOrFetch(b.Context(), key, fetch); err != nil || r.Source != Fetched {
						b.Fatalf("GetOrFetch(%v) = %v, %v, want a fetch", key, r, err)
					}
				}
			})
		}
	}
}
