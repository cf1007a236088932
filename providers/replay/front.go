package replay

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pullkeys/pullkeys/cache"
)

// FullSuffix is appended to a front's name to name its full plugin.
const FullSuffix = "-full"

// MaxRequestBytes is the most the front reads of a request; the full plugin
// (providers.MaxRequestBytes) refuses more, and the front hands it one byte over so that it
// does.
const MaxRequestBytes = 1 << 20

// FullPath returns the full plugin of the front binary exe named name: name-full (with
// exe's extension, .exe on Windows) in exe's directory.
func FullPath(exe, name string) string {
	return filepath.Join(filepath.Dir(exe), name+FullSuffix+filepath.Ext(exe))
}

// Main is the main function of a front binary named name (see the package documentation).
// It replays a saved answer when there is one and otherwise runs the full plugin in its
// place, which then answers and exits as if the kubelet had started it.
func Main(name string) {
	os.Exit(front(name, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// front is Main without the exit. It returns only when it has replayed an answer (0), failed
// (1, with one line on stderr and nothing on stdout), or, where the full plugin cannot replace
// the process, when the full plugin has exited (its status).
func front(name string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "%s: %s\n", name, fmt.Sprintf(format, a...))
		return 1
	}
	request, err := io.ReadAll(io.LimitReader(stdin, MaxRequestBytes+1))
	if err != nil {
		return fail("read request: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fail("cannot find this binary's directory: %v", err)
	}
	full := FullPath(exe, name)
	fi, err := os.Stat(full)
	if err != nil {
		return fail("cannot run the full plugin: %v (install %s next to %s)", err, filepath.Base(full), filepath.Base(exe))
	}
	env := os.Environ()
	if dir := cacheDir(args); dir != "" {
		cwd, _ := os.Getwd()
		if out, ok := Lookup(dir, Key(fi, args, env, cwd, request), time.Now()); ok {
			if _, err := stdout.Write(out); err != nil {
				return fail("write response: %v", err)
			}
			return 0
		}
	}
	code, err := runFull(full, args, env, request, stdout, stderr)
	if err != nil {
		return fail("run the full plugin %s: %v", full, err)
	}
	return code
}

// selfKey is the Key of this process's invocation: what the front computed for it before it
// ran this process.
func selfKey(args []string, request []byte) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return "", err
	}
	cwd, _ := os.Getwd()
	return Key(fi, args, os.Environ(), cwd, request), nil
}

// cacheDir returns the cache directory args select, as the shared flags read them
// (cache.Options.AddFlags: --cache-dir, --no-disk-cache), or "" for none. It reads the
// arguments as the flag package does up to the first non-flag, but without knowing the
// provider's own flags: it takes "-x y" as two flags. Where that misreads, the front only
// looks in another directory, where no answer for these arguments can be (the key holds
// them), and runs the full plugin.
func cacheDir(args []string) string {
	dir, noDisk := cache.DefaultDir(), false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			break
		}
		name := strings.TrimPrefix(a[1:], "-")
		name, value, hasValue := strings.Cut(name, "=")
		switch name {
		case "cache-dir":
			if !hasValue {
				if i+1 == len(args) {
					return ""
				}
				i++
				value = args[i]
			}
			dir = value
		case "no-disk-cache":
			b, err := true, error(nil)
			if hasValue {
				b, err = strconv.ParseBool(value)
			}
			if err != nil {
				return ""
			}
			noDisk = b
		}
	}
	if noDisk {
		return ""
	}
	return dir
}

// LookupSelf is Lookup for this process's own invocation with args and request: the answer a
// front would replay for this binary run that way. Tests of full plugins use it.
func LookupSelf(dir string, args []string, request []byte, now time.Time) ([]byte, bool) {
	key, err := selfKey(args, request)
	if err != nil {
		return nil, false
	}
	return Lookup(dir, key, now)
}
