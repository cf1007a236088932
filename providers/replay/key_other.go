//go:build !linux

package replay

import "io/fs"

// fileIdentity changes when the file is rewritten: its size and modification time.
func fileIdentity(fi fs.FileInfo) []byte {
	return appendInt(appendInt(nil, fi.Size()), fi.ModTime().UnixNano())
}
