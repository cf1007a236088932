//go:build linux

package replay

import (
	"io/fs"
	"syscall"
)

// fileIdentity changes when the file is replaced or rewritten: device and inode, size,
// modification and status change times to the nanosecond.
func fileIdentity(fi fs.FileInfo) []byte {
	b := appendInt(nil, fi.Size())
	b = appendInt(b, fi.ModTime().UnixNano())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		b = appendInt(b, int64(st.Dev))
		b = appendInt(b, int64(st.Ino))
		b = appendInt(b, st.Ctim.Sec)
		b = appendInt(b, st.Ctim.Nsec)
	}
	return b
}
