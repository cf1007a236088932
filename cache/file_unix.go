//go:build unix

package cache

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// noFollow makes opening a symlink fail and opening a FIFO not block.
const noFollow = unix.O_NOFOLLOW | unix.O_NONBLOCK

// checkDir refuses a directory owned by another user or writable by group or others (who
// could plant entries and lock files in it) and one this process cannot write to. It never
// changes the directory's mode: a --cache-dir=/tmp typo must not lock other users out of /tmp.
func checkDir(dir string, fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is owned by uid %d, not %d", dir, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others (mode %v): refusing it, since they could plant entries; use a directory only its owner can write to (chmod go-w), or another --cache-dir", dir, fi.Mode()&(fs.ModePerm|fs.ModeSticky))
	}
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	return nil
}

// checkOwned refuses a cache or lock file that another user owns or that group or others may
// write: it may have been planted while the directory was open to others.
func checkOwned(fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: owned by uid %d, not %d", errForeign, st.Uid, os.Geteuid())
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w: mode %v lets group or others write it", errForeign, perm)
	}
	return nil
}
