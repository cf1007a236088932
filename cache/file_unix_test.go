//go:build unix

package cache

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gofrs/flock"
)

var unixBadFiles = []badFileTest{
	{name: "fifo", plant: func(t *testing.T, _ Key, base, _ string) {
		if err := syscall.Mkfifo(base+".json", 0o600); err != nil {
			t.Fatal(err)
		}
	}},
	// Planted by another user while the directory was open to others: refused and replaced.
	{name: "valid entry owned by another user", plant: func(t *testing.T, key Key, base, _ string) {
		write(t, base+".json", valid(t, key))
		giveAway(t, base+".json")
	}, wantWarn: true},
	{name: "valid entry writable by group", plant: func(t *testing.T, key Key, base, _ string) {
		write(t, base+".json", valid(t, key))
		chmod(t, base+".json", 0o620)
	}, wantWarn: true},
	{name: "valid entry writable by others", plant: func(t *testing.T, key Key, base, _ string) {
		write(t, base+".json", valid(t, key))
		chmod(t, base+".json", 0o602)
	}, wantWarn: true},
	// A planted lock file held by its planter must not make the request wait for it.
	{name: "held lock file owned by another user", plant: func(t *testing.T, _ Key, base, _ string) {
		write(t, base+".lock", nil)
		giveAway(t, base+".lock")
		hold(t, base+".lock")
	}, wantWarn: true},
	{name: "held lock file writable by others", plant: func(t *testing.T, _ Key, base, _ string) {
		write(t, base+".lock", nil)
		chmod(t, base+".lock", 0o666)
		hold(t, base+".lock")
	}, wantWarn: true},
}

// giveAway makes name owned by nobody (65534), as if another user had planted it.
func giveAway(t *testing.T, name string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("only root can give a file away")
	}
	if err := os.Chown(name, 65534, 65534); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, name string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(name, mode); err != nil {
		t.Fatal(err)
	}
}

// hold takes an exclusive flock on name through its own open file, as a process that planted
// it would, until the test ends.
func hold(t *testing.T, name string) {
	t.Helper()
	l := flock.New(name, flock.SetFlag(os.O_RDONLY))
	if ok, err := l.TryLock(); !ok {
		t.Fatalf("TryLock(%s) = %v", name, err)
	}
	t.Cleanup(func() { l.Unlock() })
}

var unixDirs = []dirTest{
	// A directory pullkeys did not create is never chmod'ed: one others can write to (where
	// they could have planted entries) is refused and left as it was.
	{name: "existing mode 0755 accepted and left alone", dir: func(t *testing.T, tmp string) string {
		chmod(t, tmp, 0o755)
		return tmp
	}, wantDisk: true, wantMode: 0o755},
	{name: "existing group-writable refused and left alone", dir: func(t *testing.T, tmp string) string {
		chmod(t, tmp, 0o775)
		return tmp
	}, wantMode: 0o775},
	{name: "shared like /tmp (1777) refused and left alone", dir: func(t *testing.T, tmp string) string {
		chmod(t, tmp, 0o777|os.ModeSticky)
		return tmp
	}, wantMode: 0o777 | os.ModeSticky},
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
