package cache

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type badFileTest struct {
	name string
	// plant sets up the bad file; base is the entry's path without extension; outside is a
	// directory outside the cache directory.
	plant func(t *testing.T, key Key, base, outside string)
	// wantWarn: the line explaining why the file was not used is a warning, not a debug line.
	wantWarn bool
	// unwritable: the path cannot be replaced by a file, so nothing is rewritten.
	unwritable bool
}

// TestGetOrFetchBadCacheFile plants a bad file where a key's entry would be: it must be ignored
// (logged), the fetch must run and its entry be served and written in its place.
func TestGetOrFetchBadCacheFile(t *testing.T) {
	key := testKey("bad")
	tests := []badFileTest{
		{name: "empty", plant: func(t *testing.T, key Key, base, _ string) { write(t, base+".json", nil) }},
		{name: "truncated", plant: func(t *testing.T, key Key, base, _ string) {
			data := valid(t, key)
			write(t, base+".json", data[:len(data)/2])
		}},
		{name: "garbage", plant: func(t *testing.T, key Key, base, _ string) { write(t, base+".json", []byte("\x00\xff{not json")) }},
		{name: "trailing garbage", plant: func(t *testing.T, key Key, base, _ string) {
			write(t, base+".json", append(valid(t, key), "}"...))
		}},
		{name: "json of another shape", plant: func(t *testing.T, key Key, base, _ string) { write(t, base+".json", []byte(`[1,2]`)) }},
		{name: "other format version", plant: func(t *testing.T, key Key, base, _ string) {
			write(t, base+".json", bytes.Replace(valid(t, key), []byte(`"version":1`), []byte(`"version":2`), 1))
		}},
		{name: "no format version", plant: func(t *testing.T, key Key, base, _ string) {
			write(t, base+".json", bytes.Replace(valid(t, key), []byte(`"version":1,`), nil, 1))
		}},
		{name: "expires before fetched", plant: func(t *testing.T, key Key, base, _ string) {
			data, _ := encodeEntry(key.enc, newEntry("planted", t0, -time.Hour))
			write(t, base+".json", data)
		}},
		{name: "another key", plant: func(t *testing.T, key Key, base, _ string) { write(t, base+".json", valid(t, testKey("other"))) }},
		{name: "too large", plant: func(t *testing.T, key Key, base, _ string) {
			write(t, base+".json", append(bytes.Repeat([]byte(" "), maxFileSize), valid(t, key)...))
		}},
		{name: "symlink to a valid entry", plant: func(t *testing.T, key Key, base, outside string) {
			write(t, filepath.Join(outside, "target"), valid(t, key))
			if err := os.Symlink(filepath.Join(outside, "target"), base+".json"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "directory", plant: func(t *testing.T, key Key, base, _ string) {
			if err := os.Mkdir(base+".json", 0o700); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(base+".json", "x"), nil) // not empty: prune cannot remove it
		}, unwritable: true},
		{name: "symlinked lock file", plant: func(t *testing.T, key Key, base, outside string) {
			if err := os.Symlink(filepath.Join(outside, "planted-lock"), base+".lock"); err != nil {
				t.Fatal(err)
			}
		}, wantWarn: true},
	}
	tests = append(tests, unixBadFiles...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, outside := t.TempDir(), t.TempDir()
			h := newHarness(t, dir)
			base := filepath.Join(dir, key.hash())
			tt.plant(t, key, base, outside)
			before := snapshot(t, outside)

			// A guard, not a timed assertion: a request must not wait on a planted lock.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			got, err := h.cache().GetOrFetch(ctx, key, h.fetchOK("fetched", lifetime))

			want := &Result{Entry: h.entry("fetched", lifetime), Source: Fetched, FreshFor: lifetime / 2}
			if err != nil {
				t.Fatalf("GetOrFetch(%v) error: %v", key, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("GetOrFetch(%v) mismatch (-want +got):\n%s", key, diff)
			}
			level := slog.LevelDebug
			if tt.wantWarn {
				level = slog.LevelWarn
			}
			if h.logs.count(level) == 0 {
				t.Errorf("no %v line about the bad file; logs:\n%s", level, h.logs)
			}
			if !tt.unwritable {
				if diff := cmp.Diff(want.Entry, readBack(t, dir, key)); diff != "" {
					t.Errorf("cache file not rewritten (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(before, snapshot(t, outside)); diff != "" {
				t.Errorf("files outside the cache directory changed (-before +after):\n%s", diff)
			}
			// A new process now hits the disk, or fetches again when the path is unwritable.
			got, err = newHarness(t, dir).cache().GetOrFetch(t.Context(), key, h.fetchOK("again", lifetime))
			wantSource := Disk
			if tt.unwritable {
				wantSource = Fetched
			}
			if err != nil || got.Source != wantSource {
				t.Errorf("GetOrFetch(%v) in a new process = %v, %v, want source %v", key, got, err, wantSource)
			}
		})
	}
}

// valid returns the encoding of a fresh entry for key.
func valid(t *testing.T, key Key) []byte {
	t.Helper()
	data, err := encodeEntry(key.enc, newEntry("planted", t0, lifetime))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func write(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// snapshot returns the names and contents of the files in dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string)
	for _, e := range ents {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		m[e.Name()] = string(data)
	}
	return m
}

type dirTest struct {
	name string
	// dir returns Options.Dir, made under tmp.
	dir      func(t *testing.T, tmp string) string
	wantDisk bool
	wantMode os.FileMode // of the directory afterwards (permissions and sticky bit); 0: not checked
}

// TestNewDir checks which directories New accepts for the disk layer. A refused directory
// leaves a working memory-only cache and exactly one warning.
func TestNewDir(t *testing.T) {
	tests := []dirTest{
		{name: "created with mode 0700", dir: func(_ *testing.T, tmp string) string {
			return filepath.Join(tmp, "a", "b")
		}, wantDisk: true, wantMode: 0o700},
		{name: "uncreatable", dir: func(t *testing.T, tmp string) string {
			if err := os.WriteFile(filepath.Join(tmp, "file"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(tmp, "file", "cache")
		}},
		{name: "a file", dir: func(t *testing.T, tmp string) string {
			if err := os.WriteFile(filepath.Join(tmp, "file"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(tmp, "file")
		}},
		{name: "symlink to a directory", dir: func(t *testing.T, tmp string) string {
			real := filepath.Join(tmp, "real")
			if err := os.Mkdir(real, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(real, filepath.Join(tmp, "link")); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(tmp, "link")
		}},
	}
	tests = append(tests, unixDirs...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			dir := tt.dir(t, tmp)
			h := newHarness(t, dir)
			c := h.cache()

			if disk := c.dir != ""; disk != tt.wantDisk {
				t.Fatalf("New(Options{Dir: %q}) has disk = %v, want %v; logs:\n%s", dir, disk, tt.wantDisk, h.logs)
			}
			wantWarnings := 1
			if tt.wantDisk {
				wantWarnings = 0
			}
			key := testKey("dir")
			r, err := c.GetOrFetch(t.Context(), key, h.fetchOK("u", lifetime))
			if err != nil || r.Source != Fetched {
				t.Errorf("GetOrFetch(%v) = %v, %v, want source %v", key, r, err, Fetched)
			}
			if _, err := c.GetOrFetch(t.Context(), testKey("dir2"), h.fetchOK("u", lifetime)); err != nil {
				t.Errorf("GetOrFetch(%v) error: %v", testKey("dir2"), err)
			}
			if n := h.logs.count(slog.LevelWarn); n != wantWarnings {
				t.Errorf("warnings = %d, want %d; logs:\n%s", n, wantWarnings, h.logs)
			}
			if tt.wantMode != 0 {
				fi, err := os.Lstat(dir)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode() & (os.ModePerm | os.ModeSticky); got != tt.wantMode {
					t.Errorf("mode of the directory = %v, want %v", got, tt.wantMode)
				}
			}
			if !tt.wantDisk {
				filepath.WalkDir(tmp, func(path string, _ os.DirEntry, _ error) error {
					if strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".lock") {
						t.Errorf("memory-only cache wrote %s", path)
					}
					return nil
				})
				return
			}
			for name, want := range map[string]os.FileMode{
				fileOf(dir, key): 0o600, filepath.Join(dir, key.hash()+".lock"): 0o600,
			} {
				fi, err := os.Lstat(name)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != want {
					t.Errorf("mode of %s = %v, want %v", filepath.Base(name), got, want)
				}
			}
		})
	}
}

// TestWriteFailure makes the directory unusable after New: the fetched entry is still served.
func TestWriteFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	h := newHarness(t, dir)
	c := h.cache()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	key := testKey("write")
	r, err := c.GetOrFetch(t.Context(), key, h.fetchOK("u", lifetime))
	if err != nil || r.Source != Fetched {
		t.Fatalf("GetOrFetch(%v) = %v, %v, want source %v", key, r, err, Fetched)
	}
	if h.logs.count(slog.LevelWarn) == 0 {
		t.Errorf("no warning about the failed write; logs:\n%s", h.logs)
	}
	if r, err := c.GetOrFetch(t.Context(), key, h.fetchOK("u", lifetime)); err != nil || r.Source != Memory {
		t.Errorf("second GetOrFetch(%v) = %v, %v, want source %v", key, r, err, Memory)
	}
}

func FuzzDecodeEntry(f *testing.F) {
	valid, err := encodeEntry(testKey("fuzz").enc, newEntry("u", t0, lifetime))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add([]byte(`{"version":1,"key":"","auth":null,"fetchedAt":"2025-01-01T00:00:00Z","expiresAt":"2025-01-01T00:00:01+01:00"}`))
	f.Add([]byte(`{"version":1,"key":"3:abc","auth":{"r":{"username":"\u00ff","password":""}},"fetchedAt":"0001-01-01T00:00:00Z","expiresAt":"9999-12-31T23:59:59.999999999-23:59"}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, e, err := decodeEntry(data)
		if err != nil {
			return
		}
		again, err := encodeEntry(key, e)
		if err != nil {
			t.Fatalf("encodeEntry(decodeEntry(%q)) error: %v", data, err)
		}
		key2, e2, err := decodeEntry(again)
		if err != nil {
			t.Fatalf("decodeEntry(%q) (re-encoded from %q) error: %v", again, data, err)
		}
		if key2 != key {
			t.Errorf("round trip of %q: key = %q, want %q", data, key2, key)
		}
		if diff := cmp.Diff(e, e2); diff != "" {
			t.Errorf("round trip of %q: entry mismatch (-first +second):\n%s", data, diff)
		}
	})
}
