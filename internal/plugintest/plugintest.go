// Package plugintest lets a test binary double as the credential provider plugins its tests
// exec, so that a test runs a real process over the real protocol without building one.
//
// A package's TestMain hands its fake plugin to Main. A test links the test binary into a
// temporary directory as Prefix+mode with BinDir (or Binary) and execs the link: run under
// that name, the binary is the fake plugin in that mode instead of the tests.
package plugintest

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/providers"
)

// Prefix starts the name of every link to the test binary: run as Prefix+mode, the binary is
// the fake plugin in that mode.
const Prefix = "fakeplugin-"

// Plugin is a fake plugin: it runs in mode with the process's arguments (without the program
// name) and standard streams, and returns the exit status.
type Plugin func(mode string, args []string, stdin io.Reader, stdout, stderr io.Writer) int

// Main is the whole of a TestMain. Run as Prefix+mode, the binary runs plugin in mode and
// exits with its status. Otherwise it runs the tests, with GORACE telling the plugins it
// starts not to sleep at exit: a binary built with -race sleeps a second at exit
// (atexit_sleep_ms) unless told otherwise, and the plugins are this binary.
func Main(m *testing.M, plugin Plugin) {
	if mode, ok := strings.CutPrefix(filepath.Base(os.Args[0]), Prefix); ok {
		os.Exit(plugin(mode, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	if gorace := os.Getenv("GORACE"); !strings.Contains(gorace, "atexit_sleep_ms") {
		if err := os.Setenv("GORACE", strings.TrimSpace(gorace+" atexit_sleep_ms=0")); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

// BinDir returns a new temporary directory holding the test binary linked as Prefix+mode for
// each of modes.
func BinDir(t testing.TB, modes ...string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, m := range modes {
		if err := os.Symlink(self, filepath.Join(dir, Prefix+m)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Binary returns the path of the test binary linked as Prefix+mode in a new temporary
// directory.
func Binary(t testing.TB, mode string) string {
	t.Helper()
	return filepath.Join(BinDir(t, mode), Prefix+mode)
}

// AuthFlag collects a fake plugin's --auth KEY=USER:PASSWORD flags, one credential per key: a
// later flag for a key replaces an earlier one. It is the auth map of a providers.Response.
type AuthFlag map[string]providers.AuthConfig

// String implements flag.Value.
func (a AuthFlag) String() string { return "" }

// Set adds the credential KEY=USER:PASSWORD; the password is all after the first colon.
func (a AuthFlag) Set(v string) error {
	key, cred, _ := strings.Cut(v, "=")
	user, pass, _ := strings.Cut(cred, ":")
	a[key] = providers.AuthConfig{Username: user, Password: pass}
	return nil
}
