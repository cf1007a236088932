//go:build unix

package replay

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// noFollow makes opening a symlink fail and opening a FIFO not block.
const noFollow = syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// privateModes: directories must be closed to group and others.
const privateModes = true

// checkOwner refuses a file owned by another user, who could plant an answer.
func checkOwner(fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is owned by uid %d, not %d", fi.Name(), st.Uid, os.Geteuid())
	}
	return nil
}
