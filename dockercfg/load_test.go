package dockercfg

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeFile writes data to dir/name with mode perm (exactly, whatever the umask) and returns
// the path.
func writeFile(t *testing.T, dir, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

// mountSecret lays out dir as the kubelet mounts a secret volume: the keys are symlinks
// into ..data, itself a symlink to a timestamped directory holding the files (mode 0644,
// the default of a secret volume).
func mountSecret(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	ts := "..2024_06_01_12_00_00.123456789"
	for name, data := range files {
		writeFile(t, filepath.Join(dir, ts), name, data, 0o644)
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func keysOf(cfgs ...*Config) []string {
	var keys []string
	for _, c := range cfgs {
		for _, e := range c.Entries {
			keys = append(keys, e.Key)
		}
	}
	return keys
}

func TestLoadFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix file modes")
	}
	data := readFixture(t, "demo/config.json")
	tests := []struct {
		name     string
		perm     os.FileMode
		wantWarn string
	}{
		{name: "0600 is quiet", perm: 0o600},
		{name: "0400 is quiet", perm: 0o400},
		{name: "0640 group readable", perm: 0o640, wantWarn: "file mode 0640 lets group or others read it; want 0600"},
		{name: "0644 world readable", perm: 0o644, wantWarn: "file mode 0644 lets group or others read it; want 0600"},
		{name: "0602 world writable", perm: 0o602, wantWarn: "file mode 0602 lets group or others read it; want 0600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "config.json", data, tt.perm)
			cfg, err := LoadFile(path)
			if err != nil {
				t.Fatalf("LoadFile(%s) error: %v", path, err)
			}
			var want []Warning
			if tt.wantWarn != "" {
				want = []Warning{{Problem: tt.wantWarn}}
			}
			if diff := cmp.Diff(want, cfg.Warnings); diff != "" {
				t.Errorf("LoadFile(%s) warnings (-want +got):\n%s", path, diff)
			}
			if got := keysOf(cfg); !cmp.Equal(got, []string{"*.corp.example.io", "registry.example.io"}) {
				t.Errorf("LoadFile(%s) keys = %q", path, got)
			}
		})
	}
}

func TestLoadPath(t *testing.T) {
	secretJSON := readFixture(t, "secret/.dockerconfigjson")
	secretCfg := readFixture(t, "secret/.dockercfg")
	demo := readFixture(t, "demo/config.json")
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir string) string // returns the --config path
		wantKeys []string
		wantErr  string // substring; the path is always checked to be named
		errIs    error
	}{
		{
			name:     "config.json file",
			setup:    func(t *testing.T, dir string) string { return writeFile(t, dir, "config.json", demo, 0o600) },
			wantKeys: []string{"*.corp.example.io", "registry.example.io"},
		},
		{
			name:     "legacy file under any name",
			setup:    func(t *testing.T, dir string) string { return writeFile(t, dir, "pull-secret", secretCfg, 0o600) },
			wantKeys: []string{"cfgonly.example.io", "secret.example.io"},
		},
		{
			name: "mounted secret directory with both keys: .dockerconfigjson first",
			setup: func(t *testing.T, dir string) string {
				mountSecret(t, dir, map[string][]byte{".dockerconfigjson": secretJSON, ".dockercfg": secretCfg})
				return dir
			},
			wantKeys: []string{"secret.example.io", "cfgonly.example.io", "secret.example.io"},
		},
		{
			name: "mounted kubernetes.io/dockercfg secret",
			setup: func(t *testing.T, dir string) string {
				mountSecret(t, dir, map[string][]byte{".dockercfg": secretCfg})
				return dir
			},
			wantKeys: []string{"cfgonly.example.io", "secret.example.io"},
		},
		{
			name: "a docker directory like $HOME/.docker",
			setup: func(t *testing.T, dir string) string {
				writeFile(t, dir, "config.json", demo, 0o600)
				writeFile(t, dir, "buildx/instances/default", []byte("{}"), 0o600)
				return dir
			},
			wantKeys: []string{"*.corp.example.io", "registry.example.io"},
		},
		{
			name:    "missing file",
			setup:   func(t *testing.T, dir string) string { return filepath.Join(dir, "nope.json") },
			wantErr: "no such file or directory",
			errIs:   fs.ErrNotExist,
		},
		{
			name:    "directory without any config",
			setup:   func(t *testing.T, dir string) string { writeFile(t, dir, "token", []byte("x"), 0o600); return dir },
			wantErr: "the directory holds none of [config.json .dockerconfigjson .dockercfg]",
			errIs:   ErrNoConfig,
		},
		{
			name: "malformed file in a directory",
			setup: func(t *testing.T, dir string) string {
				writeFile(t, dir, ".dockerconfigjson", []byte(`{"auths": {"a.io": {"password": "s3cr3t`), 0o600)
				return dir
			},
			wantErr: "invalid JSON",
			errIs:   ErrMalformed,
		},
		{
			name:    "malformed file",
			setup:   func(t *testing.T, dir string) string { return writeFile(t, dir, "c.json", []byte("s3cr3t"), 0o600) },
			wantErr: "invalid JSON at line 1, column 1",
			errIs:   ErrMalformed,
		},
		{
			name: "too large",
			setup: func(t *testing.T, dir string) string {
				return writeFile(t, dir, "c.json", bytes.Repeat([]byte(" "), MaxFileBytes+1), 0o600)
			},
			wantErr: "larger than",
			errIs:   ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.setup(t, t.TempDir())
			cfgs, err := LoadPath(path)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("LoadPath(%s) = %d configs, want an error", path, len(cfgs))
				}
				if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, tt.errIs) {
					t.Errorf("LoadPath(%s) error %q, want it to name the path, say %q and wrap %v", path, err, tt.wantErr, tt.errIs)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Errorf("LoadPath(%s) error %q quotes the content", path, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadPath(%s) error: %v", path, err)
			}
			if got := keysOf(cfgs...); !cmp.Equal(got, tt.wantKeys) {
				t.Errorf("LoadPath(%s) keys = %q, want %q", path, got, tt.wantKeys)
			}
		})
	}
}

func TestLoadFileUnreadable(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs a Unix user that file modes apply to")
	}
	path := writeFile(t, t.TempDir(), "config.json", readFixture(t, "demo/config.json"), 0o000)
	_, err := LoadFile(path)
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadFile(%s) error %v, want a permission error naming the file", path, err)
	}
}

func TestSearchPaths(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix paths")
	}
	got := SearchPaths("/var/lib/kubelet", "/wd", "/home/u", "/")
	want := []string{
		"/var/lib/kubelet/config.json", "/wd/config.json", "/home/u/.docker/config.json", "/.docker/config.json",
		"/var/lib/kubelet/.dockercfg", "/wd/.dockercfg", "/home/u/.dockercfg", "/.dockercfg",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SearchPaths() (-want +got):\n%s", diff)
	}
	got = SearchPaths("/var/lib/kubelet", "/wd", "", "/")
	want = []string{
		"/var/lib/kubelet/config.json", "/wd/config.json", "/.docker/config.json",
		"/var/lib/kubelet/.dockercfg", "/wd/.dockercfg", "/.dockercfg",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SearchPaths() without a home (-want +got):\n%s", diff)
	}
}

// searchDirs are the four directories of the search order, under one temporary directory.
type searchDirs struct{ kubelet, wd, home, root string }

func newSearchDirs(t *testing.T) searchDirs {
	base := t.TempDir()
	d := searchDirs{
		kubelet: filepath.Join(base, "var/lib/kubelet"),
		wd:      filepath.Join(base, "wd"),
		home:    filepath.Join(base, "home"),
		root:    filepath.Join(base, "root"),
	}
	for _, dir := range []string{d.kubelet, d.wd, d.home, d.root} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func (d searchDirs) paths() []string { return SearchPaths(d.kubelet, d.wd, d.home, d.root) }

// cfgFor returns a config.json (or legacy) document with one entry keyed by host.
func cfgFor(host string, legacy bool) []byte {
	entry := `"` + host + `":{"auth":"dTpw"}`
	if legacy {
		return []byte("{" + entry + "}")
	}
	return []byte(`{"auths":{` + entry + `}}`)
}

func TestSearch(t *testing.T) {
	tests := []struct {
		name      string
		files     func(d searchDirs) map[string][]byte // path → content
		wantFile  func(d searchDirs) string            // "" for none
		wantWarns []string                             // substrings of the warnings logged, in order
	}{
		{
			name: "kubelet root dir first",
			files: func(d searchDirs) map[string][]byte {
				return map[string][]byte{
					filepath.Join(d.kubelet, "config.json"):      cfgFor("kubelet.io", false),
					filepath.Join(d.wd, "config.json"):           cfgFor("wd.io", false),
					filepath.Join(d.home, ".docker/config.json"): cfgFor("home.io", false),
				}
			},
			wantFile: func(d searchDirs) string { return filepath.Join(d.kubelet, "config.json") },
		},
		{
			name: "working directory before home",
			files: func(d searchDirs) map[string][]byte {
				return map[string][]byte{
					filepath.Join(d.wd, "config.json"):           cfgFor("wd.io", false),
					filepath.Join(d.home, ".docker/config.json"): cfgFor("home.io", false),
				}
			},
			wantFile: func(d searchDirs) string { return filepath.Join(d.wd, "config.json") },
		},
		{
			name: "root's .docker last for config.json",
			files: func(d searchDirs) map[string][]byte {
				return map[string][]byte{filepath.Join(d.root, ".docker/config.json"): cfgFor("root.io", false)}
			},
			wantFile: func(d searchDirs) string { return filepath.Join(d.root, ".docker/config.json") },
		},
		{
			name: "any config.json before any .dockercfg",
			files: func(d searchDirs) map[string][]byte {
				return map[string][]byte{
					filepath.Join(d.kubelet, ".dockercfg"):       cfgFor("kubelet.io", true),
					filepath.Join(d.root, ".docker/config.json"): cfgFor("root.io", false),
				}
			},
			wantFile: func(d searchDirs) string { return filepath.Join(d.root, ".docker/config.json") },
		},
		{
			name: ".dockercfg in home itself, not home/.docker",
			files: func(d searchDirs) map[string][]byte {
				return map[string][]byte{
					filepath.Join(d.home, ".docker/.dockercfg"): cfgFor("wrong.io", true),
					filepath.Join(d.home, ".dockercfg"):         cfgFor("home.io", true),
				}
			},
			wantFile: func(d searchDirs) string { return filepath.Join(d.home, ".dockercfg") },
		},
		{
			name: "malformed file found by search is skipped with a warning",
			files: func(d searchDirs) map[string][]byte {
				return map[string][]byte{
					filepath.Join(d.kubelet, "config.json"): []byte(`{"auths": {"a.io": {"password": "s3cr3t"`),
					filepath.Join(d.wd, "config.json"):      cfgFor("wd.io", false),
				}
			},
			wantFile:  func(d searchDirs) string { return filepath.Join(d.wd, "config.json") },
			wantWarns: []string{"docker config skipped", "invalid JSON"},
		},
		{
			name: "a directory where a file should be is skipped with a warning",
			files: func(d searchDirs) map[string][]byte {
				return map[string][]byte{
					filepath.Join(d.kubelet, "config.json/x"): []byte("{}"),
					filepath.Join(d.home, ".dockercfg"):       cfgFor("home.io", true),
				}
			},
			wantFile:  func(d searchDirs) string { return filepath.Join(d.home, ".dockercfg") },
			wantWarns: []string{"docker config skipped", "is a directory"},
		},
		{
			name:      "nothing anywhere",
			files:     func(d searchDirs) map[string][]byte { return nil },
			wantFile:  func(d searchDirs) string { return "" },
			wantWarns: []string{"no docker config found"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newSearchDirs(t)
			for path, data := range tt.files(d) {
				writeFile(t, filepath.Dir(path), filepath.Base(path), data, 0o600)
			}
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
			cfg := Search(context.Background(), d.paths(), log)
			got := ""
			if cfg != nil {
				got = cfg.Origin
			}
			if want := tt.wantFile(d); got != want {
				t.Errorf("Search() found %q, want %q", got, want)
			}
			out := logs.String()
			rest := out
			for _, w := range tt.wantWarns {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("Search() logged %q, want %q (in order)", out, tt.wantWarns)
					break
				}
				rest = rest[i+len(w):]
			}
			if len(tt.wantWarns) == 0 && out != "" {
				t.Errorf("Search() logged %q, want nothing", out)
			}
			if strings.Contains(out, "s3cr3t") {
				t.Errorf("Search() logged %q, which quotes a file's content", out)
			}
		})
	}
}

func TestSearchSkipsUnreadable(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs a Unix user that file modes apply to")
	}
	d := newSearchDirs(t)
	writeFile(t, d.kubelet, "config.json", cfgFor("kubelet.io", false), 0o000)
	want := writeFile(t, d.wd, "config.json", cfgFor("wd.io", false), 0o600)
	var logs bytes.Buffer
	cfg := Search(context.Background(), d.paths(), slog.New(slog.NewTextHandler(&logs, nil)))
	if cfg == nil || cfg.Origin != want {
		t.Fatalf("Search() = %v, want %s", cfg, want)
	}
	if !strings.Contains(logs.String(), "permission denied") {
		t.Errorf("Search() logged %q, want a permission warning", logs.String())
	}
}

// Search must not need a logger.
func TestSearchNilLogger(t *testing.T) {
	d := newSearchDirs(t)
	if cfg := Search(context.Background(), d.paths(), nil); cfg != nil {
		t.Errorf("Search(empty dirs) = %v, want nil", cfg)
	}
}
