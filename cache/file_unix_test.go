//go:build unix

package cache

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

var unixBadFiles = []badFileTest{
	{name: "fifo", plant: func(t *testing.T, _ Key, base, _ string) {
		if err := syscall.Mkfifo(base+".json", 0o600); err != nil {
			t.Fatal(err)
		}
	}},
}

var unixDirs = []dirTest{
	{name: "read-only", dir: func(t *testing.T, tmp string) string {
		if os.Geteuid() == 0 {
			t.Skip("root writes to read-only directories")
		}
		if err := os.Chmod(tmp, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(tmp, 0o700) })
		return tmp
	}},
	{name: "owned by another user", dir: func(t *testing.T, tmp string) string {
		if os.Geteuid() != 0 {
			t.Skip("only root can give a directory away")
		}
		dir := filepath.Join(tmp, "theirs")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		return dir
	}},
}
