//go:build linux

package security

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// ecrRunner runs ecr-credential-provider against one fake with one environment: the
// environment is part of the cache key (it selects the node's AWS identity), so runs that
// should share cache entries must share it.
type ecrRunner struct {
	srv *ecrtest.Server
	env env
}

func newECRRunner(t *testing.T) *ecrRunner {
	srv := ecrtest.Start(t)
	return &ecrRunner{srv: srv, env: newEnv(t).with(srv.Env()...)}
}

// run runs the binary with --cache-dir=dir and checks that it answered with a token the fake
// issued for the registry.
func (r *ecrRunner) run(t *testing.T, dir string, p proc) outcome {
	t.Helper()
	p.env = r.env.with(p.env...).list()
	p.args = append([]string{"--cache-dir=" + dir, "--max-backoff=1ms"}, p.args...)
	p.stdin = strings.NewReader(request(providers.APIVersionV1, ecrImage, "", nil))
	o := run(t, binary(t, ecrBin), p)
	resp := answer(t, ecrBin+" --cache-dir="+dir, o)
	got := resp.Auth[ecrHost].Password
	issued := false
	for _, req := range r.srv.Requests(ecrtest.GetAuthorizationToken) {
		issued = issued || (req.Password != "" && req.Password == got)
	}
	if len(resp.Auth) != 1 || !issued {
		t.Errorf("%s --cache-dir=%s answered keys %v; want %s with a token the fake issued", ecrBin, dir, keysOf(resp.Auth), ecrHost)
	}
	return o
}

func (r *ecrRunner) calls() int { return r.srv.Calls(ecrtest.GetAuthorizationToken) }

// entries lists the cache files in dir (names ending in .json or .lock, or holding .tmp-).
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range des {
		if n := d.Name(); strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".lock") || strings.Contains(n, ".tmp-") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// warmCacheFiles runs the binary once in dir and returns the entry's file name without
// extension, as the cache names it (the hash of its key).
func warmCacheFiles(t *testing.T, r *ecrRunner, dir string) string {
	t.Helper()
	r.run(t, dir, proc{})
	names := entries(t, dir)
	if len(names) != 2 || !strings.HasSuffix(names[0], ".json") || !strings.HasSuffix(names[1], ".lock") {
		t.Fatalf("cache files after one run = %v, want <hash>.json and <hash>.lock", names)
	}
	return filepath.Join(dir, strings.TrimSuffix(names[0], ".json"))
}

func mode(t *testing.T, name string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

// TestCacheDir_Missing_CreatedPrivate: a --cache-dir that does not exist is created 0700, and
// its files are 0600 (the entry and its lock).
func TestCacheDir_Missing_CreatedPrivate(t *testing.T) {
	r := newECRRunner(t)
	dir := filepath.Join(t.TempDir(), "a", "b", "pullkeys")
	base := warmCacheFiles(t, r, dir)
	if m := mode(t, dir); m != os.ModeDir|0o700 {
		t.Errorf("mode of the created cache directory = %v, want drwx------", m)
	}
	for _, ext := range []string{".json", ".lock"} {
		if m := mode(t, base+ext); m != 0o600 {
			t.Errorf("mode of %s = %v, want -rw-------", filepath.Base(base+ext), m)
		}
	}
}

// TestCacheDir_OpenToOthers_LeftAloneAndRefused: an existing directory others can write to
// (where they could have planted tokens) is not chmod'ed (a --cache-dir=/tmp typo must not
// take /tmp's sticky bit and permissions away from its users) and not used: the plugin
// answers from memory, with a warning that says why (issue 20, 4.2).
func TestCacheDir_OpenToOthers_LeftAloneAndRefused(t *testing.T) {
	for _, tt := range []struct {
		name string
		mode os.FileMode
	}{
		{name: "shared like /tmp", mode: 0o777 | os.ModeSticky},
		{name: "world-writable", mode: 0o777},
		{name: "group-writable", mode: 0o770},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newECRRunner(t)
			dir := t.TempDir()
			if err := os.Chmod(dir, tt.mode); err != nil {
				t.Fatal(err)
			}
			o := r.run(t, dir, proc{})
			if m := mode(t, dir); m != os.ModeDir|tt.mode {
				t.Errorf("mode of the cache directory = %v, want %v, as it was", m, os.ModeDir|tt.mode)
			}
			if !strings.Contains(o.stderr, "writable by group or others") {
				t.Errorf("stderr = %q, want a warning that the directory is writable by others", o.stderr)
			}
			if names := entries(t, dir); len(names) != 0 {
				t.Errorf("files written into a directory open to others: %v", names)
			}
		})
	}
}

// TestCacheDir_FullOfGarbage_AnsweredAndRepaired: garbage in the entry's file (and junk
// beside it) is ignored, the token fetched and the file rewritten: the next run reads it.
func TestCacheDir_FullOfGarbage_AnsweredAndRepaired(t *testing.T) {
	r := newECRRunner(t)
	dir := t.TempDir()
	base := warmCacheFiles(t, r, dir)
	junk := map[string][]byte{
		filepath.Base(base) + ".json":              []byte("\x00\xff{garbage \"password\":"),
		strings.Repeat("0", 64) + ".json":          []byte("[1,2,3]"),
		strings.Repeat("f", 64) + ".json.tmp-1234": []byte("{\"version\":1,"),
		"not-a-cache-file":                         []byte("left alone"),
	}
	for name, data := range junk {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dueForTidying(t, dir)
	before := r.calls()
	r.run(t, dir, proc{})
	if r.calls() != before+1 {
		t.Errorf("ECR calls = %d, want %d: garbage must be ignored and the token fetched", r.calls(), before+1)
	}
	r.run(t, dir, proc{})
	if r.calls() != before+1 {
		t.Errorf("ECR calls after a repairing run = %d, want %d: the rewritten file must be read", r.calls(), before+1)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "not-a-cache-file")); err != nil || string(data) != "left alone" {
		t.Errorf("a file that is not the cache's was touched: %q, %v", data, err)
	}
	for _, n := range entries(t, dir) {
		if strings.Contains(n, ".tmp-") {
			t.Errorf("%s left behind after a fetch (prune removes what crashed writers leave)", n)
		}
	}
}

// dueForTidying makes the cache directory due for tidying, as a minute after the last run: the
// cache tidies a directory at most once a minute and keeps the time in its "pruned" file.
func dueForTidying(t *testing.T, dir string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, "pruned")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

// TestCacheDir_FileTruncatedMidWrite_AnsweredAndRepaired: an entry cut in half, as by a
// crash during a write that was not atomic, and a writer's temporary file: neither is read.
func TestCacheDir_FileTruncatedMidWrite_AnsweredAndRepaired(t *testing.T) {
	r := newECRRunner(t)
	dir := t.TempDir()
	base := warmCacheFiles(t, r, dir)
	data, err := os.ReadFile(base + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base+".json", data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base+".json.tmp-99", data[:len(data)/3], 0o600); err != nil {
		t.Fatal(err)
	}
	dueForTidying(t, dir)
	before := r.calls()
	r.run(t, dir, proc{})
	r.run(t, dir, proc{})
	if r.calls() != before+1 {
		t.Errorf("ECR calls = %d, want %d: one fetch to replace the truncated entry, then a disk hit", r.calls(), before+1)
	}
	if names := entries(t, dir); strings.Join(names, " ") != filepath.Base(base)+".json "+filepath.Base(base)+".lock" {
		t.Errorf("cache files = %v, want the entry and its lock only", names)
	}
}

// TestCacheDir_FilesSymlinkedOutside_NothingWrittenThrough: cache and lock files replaced by
// symlinks to files elsewhere (someone who can write the directory trying to make the plugin
// overwrite another file, or read a planted entry): they are not followed.
func TestCacheDir_FilesSymlinkedOutside_NothingWrittenThrough(t *testing.T) {
	r := newECRRunner(t)
	dir, outside := t.TempDir(), t.TempDir()
	base := warmCacheFiles(t, r, dir)
	valid, err := os.ReadFile(base + ".json")
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string][]byte{".json": valid, ".lock": []byte("precious")}
	for ext, data := range targets {
		target := filepath.Join(outside, "target"+ext)
		if err := os.WriteFile(target, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(base + ext); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, base+ext); err != nil {
			t.Fatal(err)
		}
	}
	before := r.calls()
	r.run(t, dir, proc{})
	if r.calls() != before+1 {
		t.Errorf("ECR calls = %d, want %d: a symlinked entry must not be read", r.calls(), before+1)
	}
	for ext, data := range targets {
		target := filepath.Join(outside, "target"+ext)
		got, err := os.ReadFile(target)
		if err != nil || !bytes.Equal(got, data) || mode(t, target) != 0o644 {
			t.Errorf("%s outside the cache directory changed (%v, %v)", filepath.Base(target), mode(t, target), err)
		}
	}
	if m := mode(t, base+".json"); m != 0o600 {
		t.Errorf("cache file after the run: mode %v, want a regular file -rw------- in place of the symlink", m)
	}
}

// TestCacheDir_Symlink_RefusedMemoryOnly: a --cache-dir that is a symlink is refused (it
// could point anywhere), with a warning; the answer is still right and nothing is written
// where the link points.
func TestCacheDir_Symlink_RefusedMemoryOnly(t *testing.T) {
	r := newECRRunner(t)
	target := t.TempDir()
	link := filepath.Join(t.TempDir(), "pullkeys")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	o := r.run(t, link, proc{})
	if !strings.Contains(o.stderr, "is a symlink") {
		t.Errorf("stderr = %q, want a warning that the cache directory is a symlink", o.stderr)
	}
	if names := entries(t, target); len(names) != 0 {
		t.Errorf("files written through the symlinked cache directory: %v", names)
	}
}

// TestCacheDir_OwnedByAnotherUser_RefusedMemoryOnly: a directory that another user owns could
// hold entries they planted: refused, with a warning, and nothing written into it.
func TestCacheDir_OwnedByAnotherUser_RefusedMemoryOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root can give a directory away; cache's TestNewDir covers the check")
	}
	r := newECRRunner(t)
	dir := filepath.Join(t.TempDir(), "theirs")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	o := r.run(t, dir, proc{})
	if !strings.Contains(o.stderr, "is owned by uid 65534") {
		t.Errorf("stderr = %q, want a warning naming the owner", o.stderr)
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Errorf("files written into a directory of another user: %v", names)
	}
}

// TestCacheDir_ReadOnly_AnsweredMemoryOnly: a cache directory the plugin cannot write. Root
// writes anywhere, so the binary runs as the user nobody, owning a directory of mode 0500.
func TestCacheDir_ReadOnly_AnsweredMemoryOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the binary as another user; cache's TestNewDir/read-only covers it")
	}
	const nobody = 65534
	r := newECRRunner(t)
	// Everything the binary touches must be reachable by nobody: t.TempDir is not (0700).
	top, err := os.MkdirTemp("", "pullkeys-readonly-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(top, "cache")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	o := r.run(t, dir, proc{
		dir:  top,
		env:  []string{"HOME=" + top, "AWS_CONFIG_FILE=" + filepath.Join(top, "absent"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(top, "absent")},
		cred: &syscall.Credential{Uid: nobody, Gid: nobody, NoSetGroups: true},
	})
	if !strings.Contains(o.stderr, "is not writable") {
		t.Errorf("stderr = %q, want a warning that the cache directory is not writable", o.stderr)
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Errorf("files in a read-only cache directory: %v", names)
	}
}
