//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// execWatch counts the opens of the full plugins' binaries with inotify: executing a file
// opens it (IN_OPEN), and nothing else in a run opens a full plugin's binary (the front only
// stats it), so a front run that opened its full plugin did not replay. Watching changes
// neither the file nor its status change time, which the replay key holds. Runs are checked
// one at a time (single invocations, start-up runs) or one burst at a time, so the counts are
// the run's.
type execWatch struct {
	fd    int
	paths map[int32]string // watch descriptor → path
	opens map[string]int
}

func newExecWatch() (*execWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	return &execWatch{fd: fd, paths: map[int32]string{}, opens: map[string]int{}}, nil
}

// add watches path (once).
func (w *execWatch) add(path string) error {
	for _, p := range w.paths {
		if p == path {
			return nil
		}
	}
	wd, err := unix.InotifyAddWatch(w.fd, path, unix.IN_OPEN)
	if err != nil {
		return fmt.Errorf("inotify: watch %s: %w", path, err)
	}
	w.paths[int32(wd)] = path
	return nil
}

// drain reads the pending events into the counts.
func (w *execWatch) drain() error {
	var buf [64 * unix.SizeofInotifyEvent]byte
	for {
		n, err := unix.Read(w.fd, buf[:])
		if errors.Is(err, unix.EAGAIN) {
			return nil
		}
		if err == unix.EINTR {
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
				return errors.New("inotify: event queue overflow: opens of the full plugins were lost")
			}
			if mask&unix.IN_OPEN != 0 {
				if p, ok := w.paths[wd]; ok {
					w.opens[p]++
				}
			}
		}
	}
}

// reset forgets the opens so far.
func (w *execWatch) reset() error {
	err := w.drain()
	clear(w.opens)
	return err
}

// take returns the opens of path since the last reset or take of it, and forgets them.
func (w *execWatch) take(path string) (int, error) {
	if err := w.drain(); err != nil {
		return 0, err
	}
	n := w.opens[path]
	delete(w.opens, path)
	return n, nil
}

func (w *execWatch) close() { unix.Close(w.fd) }
