package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/internal/testkit"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	lifetime = 12 * time.Hour // an ECR token's
	registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
	// secretMark is in every password and key part a test uses: no log line may contain it.
	secretMark = "s3cr3t"
)

var errFetch = errors.New("fake: rate limited")

// logRecorder is a slog.Handler that keeps what it is given.
type logRecorder struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	level slog.Level
	text  string // message and attributes
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, logRecord{rec.Level, b.String()})
	return nil
}

// count returns how many records were logged at level.
func (r *logRecorder) count(level slog.Level) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.recs {
		if rec.level == level {
			n++
		}
	}
	return n
}

func (r *logRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, rec := range r.recs {
		fmt.Fprintf(&b, "%v %s\n", rec.level, rec.text)
	}
	return b.String()
}

// harness is a fake clock, a log recorder and a counting fetch around Options.
type harness struct {
	t       testing.TB
	clock   *testkit.Clock
	logs    *logRecorder
	opts    Options
	fetches atomic.Int32
}

// newHarness returns a harness for a cache in dir ("" for memory only). At the end of the test
// it checks that no log line holds a password or a key part.
func newHarness(t testing.TB, dir string) *harness {
	h := &harness{t: t, clock: testkit.NewClock(t0), logs: &logRecorder{}}
	h.opts = Options{Dir: dir, Now: h.clock.Now, Logger: slog.New(h.logs), LockPoll: time.Millisecond}
	t.Cleanup(func() {
		if s := h.logs.String(); strings.Contains(s, secretMark) {
			t.Errorf("a log line holds a secret or a key part:\n%s", s)
		}
	})
	return h
}

func (h *harness) cache() *Cache { return New(h.opts) }

// entry returns an entry for user fetched at the harness's now.
func (h *harness) entry(user string, life time.Duration) *Entry {
	return newEntry(user, h.clock.Now(), life)
}

func newEntry(user string, fetchedAt time.Time, life time.Duration) *Entry {
	return &Entry{
		Auth:      map[string]Credentials{registry: {Username: user, Password: "pw-" + user + "-" + secretMark}},
		FetchedAt: fetchedAt,
		ExpiresAt: fetchedAt.Add(life),
	}
}

// fetchOK returns a fetch that counts its calls and returns an entry for user.
func (h *harness) fetchOK(user string, life time.Duration) func(context.Context) (*Entry, error) {
	return func(context.Context) (*Entry, error) {
		h.fetches.Add(1)
		return h.entry(user, life), nil
	}
}

// fetchErr returns a fetch that counts its calls and fails with errFetch.
func (h *harness) fetchErr() func(context.Context) (*Entry, error) {
	return func(context.Context) (*Entry, error) {
		h.fetches.Add(1)
		return nil, errFetch
	}
}

// testKey is a key whose parts hold secretMark, to catch key parts in logs.
func testKey(name string) Key { return NewKey("test", name, "part-"+secretMark) }

func fileOf(dir string, key Key) string { return filepath.Join(dir, key.hash()+".json") }

func exists(t testing.TB, name string) bool {
	t.Helper()
	_, err := os.Lstat(name)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// readBack decodes the cache file of key in dir.
func readBack(t testing.TB, dir string, key Key) *Entry {
	t.Helper()
	k, e, err := readEntry(fileOf(dir, key))
	if err != nil {
		t.Fatalf("readEntry(%v) error: %v", key, err)
	}
	if k != key.enc {
		t.Fatalf("readEntry(%v) key = %q, want %q", key, k, key.enc)
	}
	return e
}
