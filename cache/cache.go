package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Credentials is one username/password pair.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Entry is what a fetch produces and what is stored. Entries returned by the cache are shared
// between callers and must not be modified.
type Entry struct {
	Auth      map[string]Credentials // registry key -> credentials
	Data      []byte                 // opaque payload for providers whose answer is a document (a docker config), not credentials
	FetchedAt time.Time              // zero in a fetched entry means now
	ExpiresAt time.Time              // when the token stops working
}

// Source tells where a Result's entry came from.
type Source int

const (
	Memory  Source = iota + 1 // this process's memory
	Disk                      // the cache directory, written by this or another process
	Fetched                   // the fetch function, just now
	Stale                     // memory or disk, past its fresh time, because the fetch failed
)

func (s Source) String() string {
	switch s {
	case Memory:
		return "memory"
	case Disk:
		return "disk"
	case Fetched:
		return "fetched"
	case Stale:
		return "stale"
	}
	return "Source(" + strconv.Itoa(int(s)) + ")"
}

// Result is a usable entry and how long the kubelet may cache it.
type Result struct {
	Entry  *Entry
	Source Source
	// FreshFor is the time left until the entry stops being fresh, 0 when Stale: the
	// providers hand it to the kubelet as the response's cacheDuration.
	FreshFor time.Duration
}

// ErrInvalidEntry is returned by GetOrFetch when the fetch returns a nil entry, one that
// expires at or before it was fetched, or one already expired.
var ErrInvalidEntry = errors.New("cache: invalid entry")

// Cache is a token cache in memory and, optionally, in a directory shared with other
// processes. It is safe for concurrent use.
type Cache struct {
	dir      string // "" when memory only
	fraction float64
	margin   time.Duration
	maxLife  time.Duration // 0: no cap
	now      func() time.Time
	log      *slog.Logger
	poll     time.Duration
	// reserve is how much of the caller's time left is kept back from the lock wait and the
	// fetch when a stale entry could be served instead (staleReserve; tests replace it).
	reserve func(left time.Duration) time.Duration

	flights singleflight.Group
	mu      sync.Mutex
	mem     map[string]*Entry // by Key.enc
}

// New returns a cache configured by opts. It never fails: when opts.Dir cannot be used (it
// cannot be created, is a symlink, is owned by another user or is not writable) the cache
// logs one warning and keeps entries in memory only.
func New(opts Options) *Cache {
	c := &Cache{
		fraction: opts.FreshFraction,
		margin:   opts.StaleMargin,
		maxLife:  max(opts.MaxLifetime, 0),
		now:      opts.Now,
		log:      opts.Logger,
		poll:     opts.LockPoll,
		reserve:  staleReserve,
		mem:      make(map[string]*Entry),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if !(c.fraction > 0 && c.fraction <= 1) {
		if c.fraction != 0 {
			c.log.Warn("cache: fresh fraction not in (0, 1], using the default",
				"fraction", c.fraction, "default", DefaultFreshFraction)
		}
		c.fraction = DefaultFreshFraction
	}
	if c.margin == 0 {
		c.margin = DefaultStaleMargin
	} else if c.margin < 0 {
		c.margin = 0
	}
	if c.poll <= 0 {
		c.poll = DefaultLockPoll
	}
	if opts.Dir != "" && !opts.NoDisk {
		if err := PrepareDir(opts.Dir); err != nil {
			c.log.Warn("cache: disk cache disabled, caching in memory only", "err", err)
		} else {
			c.dir = opts.Dir
		}
	}
	return c
}

// GetOrFetch returns a usable entry for key: a fresh one from memory or disk, else the result
// of fetch, else (when fetch fails) the previous entry while it has more than StaleMargin
// left. Concurrent callers for one key, in this process and in others sharing the directory,
// wait for a single fetch. fetch runs with the ctx of the caller that started it; each caller
// stops waiting when its own ctx is done.
func (c *Cache) GetOrFetch(ctx context.Context, key Key, fetch func(ctx context.Context) (*Entry, error)) (*Result, error) {
	if r := c.freshResult(c.memGet(key), Memory, c.now()); r != nil {
		return r, nil
	}
	ch := c.flights.DoChan(key.enc, func() (any, error) {
		r, err := c.load(ctx, key, fetch)
		if err == nil && r.Source == Fetched {
			c.tidy()
		}
		return r, err
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("cache: get %v: %w", key, ctx.Err())
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		r := *res.Val.(*Result) // a copy per caller
		return &r, nil
	}
}

// load does GetOrFetch's work past the memory hit, once at a time per key in this process.
// Across processes the key's file lock is held while fetching; processes that waited for it
// find the winner's entry on disk.
func (c *Cache) load(ctx context.Context, key Key, fetch func(context.Context) (*Entry, error)) (*Result, error) {
	var old *Entry // the latest unexpired entry seen, for stale-if-error
	// check returns a Result for a fresh e, keeps an unexpired one in old and drops an
	// expired one.
	check := func(e *Entry, src Source, drop func()) *Result {
		now := c.now()
		switch {
		case e == nil:
		case !now.Before(e.ExpiresAt):
			if drop != nil {
				drop()
			}
		case now.Before(c.freshUntil(e)):
			return c.freshResult(e, src, now)
		case old == nil || e.ExpiresAt.After(old.ExpiresAt):
			old = e
		}
		return nil
	}
	// work is the context of the lock wait and the fetch: ctx, or, once there is a stale
	// entry to fall back on, ctx with an earlier deadline, so that a refresh that does not end
	// (a hung API, a stuck lock holder) still leaves time to answer with the stale entry. The
	// caller's own deadline is final: an answer after it is no answer.
	work, cancel, reserved := ctx, context.CancelFunc(func() {}), false
	defer func() { cancel() }()
	reserveIfStale := func() {
		if old == nil || reserved {
			return
		}
		reserved = true
		if deadline, ok := ctx.Deadline(); ok {
			work, cancel = context.WithDeadline(ctx, deadline.Add(-c.reserve(time.Until(deadline))))
		}
	}
	if r := check(c.memGet(key), Memory, func() { c.memDelete(key) }); r != nil {
		return r, nil // another flight just filled memory
	}
	base := ""
	if c.dir != "" {
		base = filepath.Join(c.dir, key.hash())
		// A plugin process starts cold in memory, usually warm on disk: read without the lock.
		// Expired files are removed under the lock only, not to race with a writer.
		if r := check(c.read(key, base), Disk, nil); r != nil {
			c.memPut(key, r.Entry)
			return r, nil
		}
		reserveIfStale()
		unlock, err := c.lock(work, key, base)
		switch {
		case err == nil:
			defer unlock()
			// Another process may have fetched while this one waited.
			if r := check(c.read(key, base), Disk, func() { os.Remove(base + ".json") }); r != nil {
				c.memPut(key, r.Entry)
				return r, nil
			}
		case work.Err() != nil:
			return c.stale(key, old, fmt.Errorf("cache: wait for lock of %v: %w", key, err))
		default:
			c.log.Warn("cache: fetching without the file lock", "key", key, "err", err)
		}
	}
	reserveIfStale()
	e, err := c.fetch(work, key, fetch)
	if err != nil {
		return c.stale(key, old, err)
	}
	c.log.Debug("cache: fetched", "key", key, "expiresAt", e.ExpiresAt)
	c.memPut(key, e)
	if base != "" {
		if err := c.write(key, base, e); err != nil {
			c.log.Warn("cache: write failed, entry cached in memory only", "key", key, "err", err)
		}
	}
	r := c.freshResult(e, Fetched, c.now())
	if r == nil { // valid but already past its fresh time: usable, not cacheable
		return &Result{Entry: e, Source: Fetched}, nil
	}
	return r, nil
}

// Bounds of staleReserve.
const (
	staleReserveFraction = 4               // a quarter of the time left
	staleReserveMax      = 5 * time.Second // and never more than this
)

// staleReserve returns how much of the time left before the caller's deadline is kept back
// from a refresh when a stale entry could be served instead: a quarter, at most five seconds.
// With the plugins' 50s deadline a hung API is abandoned after 45s and the stale entry
// answered, well before the kubelet's one-minute kill.
func staleReserve(left time.Duration) time.Duration {
	if left <= 0 {
		return 0
	}
	return min(left/staleReserveFraction, staleReserveMax)
}

// fetch calls f and checks its entry.
func (c *Cache) fetch(ctx context.Context, key Key, f func(context.Context) (*Entry, error)) (*Entry, error) {
	e, err := f(ctx)
	if err != nil {
		return nil, fmt.Errorf("cache: fetch %v: %w", key, err)
	}
	now := c.now()
	if e != nil && e.FetchedAt.IsZero() {
		cp := *e
		cp.FetchedAt = now
		e = &cp
	}
	if e != nil && c.maxLife > 0 && e.ExpiresAt.After(e.FetchedAt.Add(c.maxLife)) {
		cp := *e
		cp.ExpiresAt = e.FetchedAt.Add(c.maxLife)
		e = &cp
	}
	switch {
	case e == nil:
		return nil, fmt.Errorf("%w from fetch of %v: nil", ErrInvalidEntry, key)
	case !e.ExpiresAt.After(e.FetchedAt):
		return nil, fmt.Errorf("%w from fetch of %v: expires at or before fetched at", ErrInvalidEntry, key)
	case !now.Before(e.ExpiresAt):
		return nil, fmt.Errorf("%w from fetch of %v: already expired", ErrInvalidEntry, key)
	}
	return e, nil
}

// stale serves old after a failed refresh while it has more than StaleMargin left.
func (c *Cache) stale(key Key, old *Entry, err error) (*Result, error) {
	if old == nil || !c.now().Before(old.ExpiresAt.Add(-c.margin)) {
		return nil, err
	}
	c.log.Warn("cache: refresh failed, serving the previous entry", "key", key, "expiresAt", old.ExpiresAt, "err", err)
	return &Result{Entry: old, Source: Stale}, nil
}

func (c *Cache) freshUntil(e *Entry) time.Time {
	return e.FetchedAt.Add(time.Duration(c.fraction * float64(e.ExpiresAt.Sub(e.FetchedAt))))
}

// freshResult returns a Result for e if it is fresh at now, else nil.
func (c *Cache) freshResult(e *Entry, src Source, now time.Time) *Result {
	if e == nil || !now.Before(c.freshUntil(e)) {
		return nil
	}
	return &Result{Entry: e, Source: src, FreshFor: c.freshUntil(e).Sub(now)}
}

// Delete forgets key's entry, in memory and on disk.
func (c *Cache) Delete(key Key) error {
	c.memDelete(key)
	if c.dir == "" {
		return nil
	}
	if err := os.Remove(filepath.Join(c.dir, key.hash()+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cache: delete %v: %w", key, err)
	}
	return nil
}

// read returns the entry stored for key under base, or nil when there is none or the file is
// unusable: not a regular file, unreadable, owned by another user or writable by others (a
// warning: it may have been planted), not an entry of this format version, an entry for
// another key, or fetched in the future (with a lifetime cap). Such a file is overwritten by
// the next fetch. An entry that claims a longer lifetime than the cap is cut to it.
func (c *Cache) read(key Key, base string) *Entry {
	k, e, err := readEntry(base + ".json")
	if err == nil && k != key.enc {
		err = fmt.Errorf("%s.json: holds another key", base)
	}
	if err == nil && c.maxLife > 0 && e.FetchedAt.After(c.now()) {
		err = fmt.Errorf("%w: %s.json: fetched in the future", errForeign, base)
	}
	if err != nil {
		switch {
		case errors.Is(err, errForeign):
			c.log.Warn("cache: refusing a cache file that may have been planted; the next fetch replaces it", "key", key, "err", err)
		case !errors.Is(err, fs.ErrNotExist):
			c.log.Debug("cache: ignoring cache file", "key", key, "err", err)
		}
		return nil
	}
	if c.maxLife > 0 && e.ExpiresAt.After(e.FetchedAt.Add(c.maxLife)) {
		c.log.Warn("cache: cache file claims a longer lifetime than its source issues; cut to the longest", "key", key,
			"expiresAt", e.ExpiresAt, "maxLifetime", c.maxLife)
		e.ExpiresAt = e.FetchedAt.Add(c.maxLife)
	}
	return e
}

// write stores e for key under base.
func (c *Cache) write(key Key, base string, e *Entry) error {
	data, err := encodeEntry(key.enc, e)
	if err != nil {
		return err
	}
	return writeFile(base+".json", data)
}

// lock takes the lock of the entry at base, polling until ctx is done, and returns its unlock.
// A lock file that another user owns or may write is removed first (with a warning), not
// waited for.
func (c *Cache) lock(ctx context.Context, key Key, base string) (func(), error) {
	if removed, err := clearForeignLock(base); err != nil {
		return nil, fmt.Errorf("remove a lock file that may have been planted: %w", err)
	} else if removed {
		c.log.Warn("cache: removed a lock file that may have been planted (another user owns it or may write it)", "key", key)
	}
	for {
		l := newLock(base)
		if _, err := l.TryLockContext(ctx, c.poll); err != nil {
			return nil, err
		}
		if current(l) {
			return func() { l.Unlock() }, nil
		}
		l.Unlock()
	}
}

// prune evicts expired entries: from memory, and from disk together with their lock files,
// each under its key's lock (busy keys are skipped). On disk it also removes files that hold
// no usable entry for their name and temporary files left by writers that died. Files whose
// names are not cache file names are left alone. It runs after each fetch, which is rare, and
// looks at the files of at most pruneBatch keys on disk, chosen at random, so that a request
// in a directory of many thousand entries does not pay for tidying all of them.
func (c *Cache) prune() {
	now := c.now()
	c.pruneMemory(now)
	if c.dir == "" {
		return
	}
	names, err := readDirNames(c.dir)
	if err != nil {
		c.log.Debug("cache: prune", "err", err)
		return
	}
	byHash := make(map[string][]string)
	for _, name := range names {
		if h, _, _ := strings.Cut(name, "."); isHash(h) {
			byHash[h] = append(byHash[h], name)
		}
	}
	n := 0
	for h, names := range byHash { // random order
		if n++; n > pruneBatch {
			break
		}
		base := filepath.Join(c.dir, h)
		l := newLock(base)
		if ok, _ := l.TryLock(); !ok || !current(l) {
			l.Unlock()
			continue
		}
		k, e, err := readEntry(base + ".json")
		drop := err != nil || !now.Before(e.ExpiresAt) || (Key{k}).hash() != h
		for _, n := range names {
			if strings.HasPrefix(n, h+".json"+tmpInfix) || drop && n == h+".json" {
				os.Remove(filepath.Join(c.dir, n))
			}
		}
		if drop {
			os.Remove(base + ".lock")
		}
		l.Unlock()
	}
}

// readDirNames lists dir's names unsorted: cheaper than os.ReadDir in a large directory.
func readDirNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// pruneBatch bounds how many keys' files one prune looks at.
const pruneBatch = 64

// pruneEvery is how often the directory is tidied at most: a fetch within pruneEvery of the
// last tidying (by the time in pruneMark, written by whichever process tidied) does not list
// the directory again. Listing 20,000 entries takes tens of milliseconds.
const pruneEvery = time.Minute

// pruneMark is the file in the cache directory that holds when it was last tidied.
const pruneMark = "pruned"

// tidy is prune after a fetch: memory always, the directory at most once per pruneEvery.
func (c *Cache) tidy() {
	now := c.now()
	if c.dir != "" && c.prunedSince(now.Add(-pruneEvery), now) {
		c.pruneMemory(now)
		return
	}
	if c.dir != "" {
		if err := writeMark(filepath.Join(c.dir, pruneMark), now); err != nil {
			c.log.Debug("cache: mark tidying", "err", err)
		}
	}
	c.prune()
}

// writeMark replaces the file name with the time t, not durably (a mark lost in a crash costs
// one more tidying): a temporary file renamed over it, which replaces a symlink instead of
// following it.
func writeMark(name string, t time.Time) error {
	f, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+tmpInfix+"*")
	if err != nil {
		return err
	}
	_, err = f.WriteString(t.UTC().Format(time.RFC3339Nano))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// prunedSince reports whether pruneMark says the directory was tidied after since and not
// after now (a mark from the future, from a clock set back or planted, does not count).
func (c *Cache) prunedSince(since, now time.Time) bool {
	f, err := os.OpenFile(filepath.Join(c.dir, pruneMark), os.O_RDONLY|noFollow, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || checkOwned(fi) != nil {
		return false
	}
	buf := make([]byte, 64)
	n, _ := io.ReadFull(f, buf)
	t, err := time.Parse(time.RFC3339Nano, string(buf[:n]))
	return err == nil && t.After(since) && !t.After(now)
}

// pruneMemory evicts the entries expired at now from memory.
func (c *Cache) pruneMemory(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.mem {
		if !now.Before(e.ExpiresAt) {
			delete(c.mem, k)
		}
	}
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

func (c *Cache) memGet(key Key) *Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mem[key.enc]
}

func (c *Cache) memPut(key Key, e *Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mem[key.enc] = e
}

func (c *Cache) memDelete(key Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.mem, key.enc)
}

// GetOrFetchOwnError is GetOrFetch, except that when this call ran fetch and it failed with
// nothing stale to serve, the error is fetch's own, not wrapped in the cache's context: the
// providers' errors then read the same whether or not a cache sits in between.
func (c *Cache) GetOrFetchOwnError(ctx context.Context, key Key, fetch func(ctx context.Context) (*Entry, error)) (*Result, error) {
	var (
		mu       sync.Mutex // the fetch may outlive this call when ctx ends first
		fetchErr error
	)
	r, err := c.GetOrFetch(ctx, key, func(ctx context.Context) (*Entry, error) {
		e, err := fetch(ctx)
		mu.Lock()
		fetchErr = err
		mu.Unlock()
		return e, err
	})
	if err != nil {
		mu.Lock()
		defer mu.Unlock()
		if fetchErr != nil && errors.Is(err, fetchErr) {
			return nil, fetchErr
		}
	}
	return r, err
}
