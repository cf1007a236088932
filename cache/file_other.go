//go:build !unix

package cache

import "io/fs"

// Outside unix the disk layer is best effort: no symlink refusal on open, no ownership check.
const noFollow = 0

func checkDir(string, fs.FileInfo) error { return nil }

func checkOwned(fs.FileInfo) error { return nil }
