package replaytest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// Runs counts the runs of the binaries it watches. It is not safe for concurrent use.
type Runs struct {
	fd    int
	paths map[int32]string // watch descriptor → path
	opens map[string]int
}

// NewRuns returns a Runs watching nothing yet.
func NewRuns() (*Runs, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	return &Runs{fd: fd, paths: map[int32]string{}, opens: map[string]int{}}, nil
}

// Watch starts counting the runs of the binary at path (once however often it is called).
func (r *Runs) Watch(path string) error {
	for _, p := range r.paths {
		if p == path {
			return nil
		}
	}
	wd, err := unix.InotifyAddWatch(r.fd, path, unix.IN_OPEN)
	if err != nil {
		return fmt.Errorf("inotify: watch %s: %w", path, err)
	}
	r.paths[int32(wd)] = path
	return nil
}

// Take returns the runs of path since the last Reset or Take of it, and forgets them.
func (r *Runs) Take(path string) (int, error) {
	if err := r.drain(); err != nil {
		return 0, err
	}
	n := r.opens[path]
	delete(r.opens, path)
	return n, nil
}

// Reset forgets the runs so far.
func (r *Runs) Reset() error {
	err := r.drain()
	clear(r.opens)
	return err
}

// Close stops watching.
func (r *Runs) Close() error { return unix.Close(r.fd) }

// drain reads the pending events into the counts.
func (r *Runs) drain() error {
	var buf [64 * (unix.SizeofInotifyEvent + unix.NAME_MAX + 1)]byte
	for {
		n, err := unix.Read(r.fd, buf[:])
		if errors.Is(err, unix.EAGAIN) {
			return nil
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("inotify: read: %w", err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			size := int(binary.NativeEndian.Uint32(buf[off+12:]))
			off += unix.SizeofInotifyEvent + size
			if mask&unix.IN_Q_OVERFLOW != 0 {
				return errors.New("inotify: event queue overflow: runs were lost")
			}
			if p, ok := r.paths[wd]; ok && mask&unix.IN_OPEN != 0 {
				r.opens[p]++
			}
		}
	}
}

// Watch is Runs for a test: errors fail the test, and watching stops when it ends.
type Watch struct {
	t    testing.TB
	runs *Runs
}

// WatchRuns counts the runs of the binaries at paths for the rest of the test.
func WatchRuns(t testing.TB, paths ...string) *Watch {
	t.Helper()
	runs, err := NewRuns()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runs.Close() })
	for _, p := range paths {
		if err := runs.Watch(p); err != nil {
			t.Fatal(err)
		}
	}
	return &Watch{t: t, runs: runs}
}

// Take returns the runs of path since the last Take of it: 0 or 1 when taken after each run.
func (w *Watch) Take(path string) int {
	w.t.Helper()
	n, err := w.runs.Take(path)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}
