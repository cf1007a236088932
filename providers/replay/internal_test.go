package replay

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/cache"
)

func TestCacheDir(t *testing.T) {
	def := cache.DefaultDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "none", args: nil, want: def},
		{name: "double dash equals", args: []string{"--cache-dir=/c"}, want: "/c"},
		{name: "single dash equals", args: []string{"-cache-dir=/c"}, want: "/c"},
		{name: "separate value", args: []string{"--cache-dir", "/c"}, want: "/c"},
		{name: "last wins", args: []string{"--cache-dir=/a", "--cache-dir=/b"}, want: "/b"},
		{name: "empty disables", args: []string{"--cache-dir="}, want: ""},
		{name: "no disk", args: []string{"--cache-dir=/c", "--no-disk-cache"}, want: ""},
		{name: "no disk before", args: []string{"-no-disk-cache", "--cache-dir=/c"}, want: ""},
		{name: "no disk false", args: []string{"--no-disk-cache=false", "--cache-dir=/c"}, want: "/c"},
		{name: "no disk unparsable", args: []string{"--no-disk-cache=maybe", "--cache-dir=/c"}, want: ""},
		{name: "other flags", args: []string{"-v=2", "--role-arn=arn:x", "--cache-dir=/c", "--timeout=5s"}, want: "/c"},
		{name: "value missing", args: []string{"--cache-dir"}, want: ""},
		{name: "stops at a non-flag", args: []string{"extra", "--cache-dir=/c"}, want: def},
		{name: "stops at the terminator", args: []string{"--", "--cache-dir=/c"}, want: def},
		{name: "stops at a lone dash", args: []string{"-", "--cache-dir=/c"}, want: def},
		{name: "three dashes are not the flag", args: []string{"---cache-dir=/c"}, want: def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cacheDir(tt.args); got != tt.want {
				t.Errorf("cacheDir(%q) = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}

// fakeInfo is a FileInfo with a size and a modification time.
type fakeInfo struct {
	size  int64
	mtime time.Time
}

func (f fakeInfo) Name() string       { return "full" }
func (f fakeInfo) Size() int64        { return f.size }
func (f fakeInfo) Mode() fs.FileMode  { return 0o755 }
func (f fakeInfo) ModTime() time.Time { return f.mtime }
func (f fakeInfo) IsDir() bool        { return false }
func (f fakeInfo) Sys() any           { return nil }

// TestKeyDistinguishesEveryInput: each input, and the boundaries between them, change the key.
func TestKeyDistinguishesEveryInput(t *testing.T) {
	t1 := time.Unix(1700000000, 5)
	base := func() (fs.FileInfo, []string, []string, string, []byte) {
		return fakeInfo{100, t1}, []string{"--a", "b"}, []string{"A=1", "B=2"}, "/wd", []byte("{}")
	}
	want := Key(base())
	if got := Key(base()); got != want {
		t.Fatalf("Key is not a function of its inputs: %s, then %s", want, got)
	}
	if !isKey(want) {
		t.Fatalf("Key = %q, not a key", want)
	}
	changes := map[string]func(fi *fs.FileInfo, args, env *[]string, cwd *string, req *[]byte){
		"binary size":       func(fi *fs.FileInfo, _, _ *[]string, _ *string, _ *[]byte) { *fi = fakeInfo{101, t1} },
		"binary time":       func(fi *fs.FileInfo, _, _ *[]string, _ *string, _ *[]byte) { *fi = fakeInfo{100, t1.Add(1)} },
		"argument":          func(_ *fs.FileInfo, a, _ *[]string, _ *string, _ *[]byte) { *a = []string{"--a", "c"} },
		"argument boundary": func(_ *fs.FileInfo, a, _ *[]string, _ *string, _ *[]byte) { *a = []string{"--ab"} },
		"argument to env": func(_ *fs.FileInfo, a, e *[]string, _ *string, _ *[]byte) {
			*a, *e = []string{"--a"}, []string{"b", "A=1", "B=2"}
		},
		"environment order":   func(_ *fs.FileInfo, _, e *[]string, _ *string, _ *[]byte) { *e = []string{"B=2", "A=1"} },
		"environment value":   func(_ *fs.FileInfo, _, e *[]string, _ *string, _ *[]byte) { *e = []string{"A=1", "B=3"} },
		"working directory":   func(_ *fs.FileInfo, _, _ *[]string, c *string, _ *[]byte) { *c = "/other" },
		"request":             func(_ *fs.FileInfo, _, _ *[]string, _ *string, r *[]byte) { *r = []byte("{ }") },
		"request to cwd":      func(_ *fs.FileInfo, _, _ *[]string, c *string, r *[]byte) { *c, *r = "/wd{", []byte("}") },
		"no arguments at all": func(_ *fs.FileInfo, a, _ *[]string, _ *string, _ *[]byte) { *a = nil },
	}
	for name, change := range changes {
		fi, args, env, cwd, req := base()
		change(&fi, &args, &env, &cwd, &req)
		if got := Key(fi, args, env, cwd, req); got == want {
			t.Errorf("%s: key unchanged", name)
		}
	}

	// What systemd sets anew at each start of the kubelet does not change the key.
	fi, args, env, cwd, req := base()
	restarted := append([]string{"INVOCATION_ID=0123abcd", "JOURNAL_STREAM=8:12345"}, env...)
	restarted = append(restarted, "SYSTEMD_EXEC_PID=4242")
	if got := Key(fi, args, restarted, cwd, req); got != want {
		t.Errorf("Key with systemd's per-start variables = %s, want %s as without them", got, want)
	}
}

func TestPruneRemovesOldAnswers(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	files := map[string]time.Duration{ // name: age
		"new.json":            time.Hour,
		"old.json":            maxAge + time.Minute,
		"old.json.tmp-123":    maxAge + time.Minute,
		"unrelated.txt":       maxAge + time.Minute,
		"recent.json.tmp-456": time.Minute,
	}
	for name, age := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	prune(dir, now)
	for name := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		gone := err != nil
		wantGone := name == "old.json" || name == "old.json.tmp-123"
		if gone != wantGone {
			t.Errorf("after prune, %s gone = %v, want %v", name, gone, wantGone)
		}
	}
}
