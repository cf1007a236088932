package cache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The fault rows of the cache: a refresh that does not end (a slow cloud API, a lock held by a
// slow or stuck process) while a usable stale entry exists. The caller's deadline is the
// plugin's, which Run enforces strictly (an answer after it is dropped), so stale-if-error
// helps only if the stale entry is handed back before that deadline.

// reserveAllBut makes the cache keep back all but d of the time left, so that a test can
// give its caller a long deadline (no race with the clock) and still see the refresh give up
// quickly.
func reserveAllBut(d time.Duration) func(time.Duration) time.Duration {
	return func(left time.Duration) time.Duration { return left - d }
}

// staleHarness returns a harness whose cache (on a directory) holds an entry for key that
// is past its fresh time but far from expiry: usable as stale.
func staleHarness(t *testing.T) (*harness, Key, *Entry) {
	t.Helper()
	h := newHarness(t, t.TempDir())
	key := testKey("stale-fault")
	first := h.entry("first", lifetime)
	if _, err := h.cache().GetOrFetch(t.Context(), key, func(context.Context) (*Entry, error) { return first, nil }); err != nil {
		t.Fatalf("GetOrFetch(%v) to warm the cache: %v", key, err)
	}
	h.clock.Advance(7 * time.Hour) // past the half-life, five hours before expiry
	return h, key, first
}

func TestGetOrFetch_SlowFetchWithStaleEntry_ServesStaleBeforeDeadline(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "same process"
		if restart {
			name = "new process"
		}
		t.Run(name, func(t *testing.T) {
			h, key, first := staleHarness(t)
			c := h.cache()
			if !restart {
				// Warm the memory of this cache too.
				if r, err := c.GetOrFetch(t.Context(), key, h.fetchErr()); err != nil || r.Source != Stale {
					t.Fatalf("GetOrFetch(%v) with a failing fetch = %v, %v, want a stale entry", key, r, err)
				}
			}
			c.reserve = reserveAllBut(20 * time.Millisecond)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			hung := func(ctx context.Context) (*Entry, error) { // a cloud API that never answers
				<-ctx.Done()
				return nil, ctx.Err()
			}

			got, err := c.GetOrFetch(ctx, key, hung)

			if ctx.Err() != nil {
				t.Fatalf("GetOrFetch(%v) with a hung fetch returned after the caller's deadline", key)
			}
			if err != nil {
				t.Fatalf("GetOrFetch(%v) with a hung fetch and a stale entry error: %v, want the stale entry", key, err)
			}
			if diff := cmp.Diff(&Result{Entry: first, Source: Stale}, got); diff != "" {
				t.Errorf("GetOrFetch(%v) mismatch (-want +got):\n%s", key, diff)
			}
		})
	}
}

func TestGetOrFetch_LockHeldByStuckProcessWithStaleEntry_ServesStaleBeforeDeadline(t *testing.T) {
	h, key, first := staleHarness(t)
	l := newLock(h.opts.Dir + "/" + key.hash())
	if ok, err := l.TryLock(); !ok {
		t.Fatalf("take the lock of %v as a stuck process would: %v", key, err)
	}
	defer l.Unlock()
	c := h.cache()
	c.reserve = reserveAllBut(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	got, err := c.GetOrFetch(ctx, key, h.fetchOK("second", lifetime))

	if ctx.Err() != nil {
		t.Fatalf("GetOrFetch(%v) behind a stuck lock holder returned after the caller's deadline", key)
	}
	if err != nil {
		t.Fatalf("GetOrFetch(%v) behind a stuck lock holder error: %v, want the stale entry", key, err)
	}
	if diff := cmp.Diff(&Result{Entry: first, Source: Stale}, got); diff != "" {
		t.Errorf("GetOrFetch(%v) mismatch (-want +got):\n%s", key, diff)
	}
	if n := h.fetches.Load(); n != 0 {
		t.Errorf("fetches = %d while another process holds the lock, want 0", n)
	}
}

// TestGetOrFetch_SlowFetchWithoutStaleEntry_GetsWholeDeadline: with nothing to fall back on,
// nothing is kept back: the fetch runs until the caller's own deadline.
func TestGetOrFetch_SlowFetchWithoutStaleEntry_GetsWholeDeadline(t *testing.T) {
	h := newHarness(t, t.TempDir())
	c := h.cache()
	c.reserve = func(time.Duration) time.Duration {
		t.Error("reserve asked for with no stale entry to serve")
		return 0
	}
	key := testKey("no-stale")
	deadline := time.Now().Add(time.Minute)
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	defer cancel()
	var got time.Time
	_, err := c.GetOrFetch(ctx, key, func(ctx context.Context) (*Entry, error) {
		got, _ = ctx.Deadline()
		return nil, errFetch
	})
	if !errors.Is(err, errFetch) {
		t.Errorf("GetOrFetch(%v) error = %v, want %v", key, err, errFetch)
	}
	if !got.Equal(deadline) {
		t.Errorf("fetch deadline = %v, want the caller's %v", got, deadline)
	}
}

func TestStaleReserve(t *testing.T) {
	for _, tt := range []struct {
		left, want time.Duration
	}{
		{left: 50 * time.Second, want: 5 * time.Second},
		{left: 8 * time.Second, want: 2 * time.Second},
		{left: time.Second, want: 250 * time.Millisecond},
		{left: 0, want: 0},
		{left: -time.Second, want: 0},
	} {
		if got := staleReserve(tt.left); got != tt.want {
			t.Errorf("staleReserve(%v) = %v, want %v", tt.left, got, tt.want)
		}
	}
}
