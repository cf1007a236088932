package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"debug/pe"
	"errors"
	"fmt"
	"go/version"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// moduleRoot is the repository's root, seen from this package's directory.
const moduleRoot = "../.."

// slowTests turns on the expensive variant of TestRelease: every platform, and the second
// build from a cold build cache.
func slowTests() bool { return os.Getenv("PULLKEYS_SLOW_TESTS") == "1" }

// TestRelease builds a release twice and compares the bytes.
//
// What it proves by default: with the same Go toolchain on the same machine, two builds of the
// same sources give byte-identical archives and SHA256SUMS, even when the second build runs
// from a copy of the tree at another path (so -trimpath is doing its job for the final link and
// no absolute path reaches the binaries). The two builds share the Go build cache, so packages
// compiled for the first are reused by the second: it does not prove that a cold compile gives
// the same objects. Both builds run from snapshots of the working tree taken before the first
// build, so edits made meanwhile (the tree is shared) cannot make them differ.
//
// With PULLKEYS_SLOW_TESTS=1 it builds all three platforms, and the second build uses its own,
// empty GOCACHE: every package is compiled again from the copy at the other path, which proves
// the whole build is independent of the cache and of the checkout's location. That takes
// several minutes on two cores:
//
//	PULLKEYS_SLOW_TESTS=1 go test -timeout=30m -run=TestRelease ./hack/release
//
// Neither variant proves reproducibility across Go toolchains, operating systems of the builder
// or machines; the release notes should name the toolchain (printed by every run).
func TestRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release twice; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	ctx := context.Background()
	base := t.TempDir()
	srcA := snapshot(t, filepath.Join(base, "a"))
	srcB := snapshot(t, filepath.Join(base, "b", "another", "checkout"))

	platforms := []string{"linux/amd64"}
	var coldCache []string
	if slowTests() {
		platforms = Platforms
		coldCache = []string{"GOCACHE=" + filepath.Join(base, "gocache")}
	}
	opts := Options{
		Dir:       srcA,
		Out:       filepath.Join(base, "dist-a"),
		Version:   "v1.2.3-test",
		Commit:    strings.Repeat("0123456789", 4),
		Platforms: platforms,
	}
	start := time.Now()
	artsA, err := Release(ctx, opts)
	if err != nil {
		t.Fatalf("Release(%s) = %v", srcA, err)
	}
	t.Logf("first build: %s", time.Since(start).Round(time.Second))

	optsB := opts
	optsB.Dir, optsB.Out, optsB.Env = srcB, filepath.Join(base, "dist-b"), coldCache
	start = time.Now()
	artsB, err := Release(ctx, optsB)
	if err != nil {
		t.Fatalf("Release(%s) = %v", srcB, err)
	}
	t.Logf("second build: %s", time.Since(start).Round(time.Second))

	t.Run("identical bytes", func(t *testing.T) {
		if len(artsA) != len(artsB) {
			t.Fatalf("Release gave %d and %d archives", len(artsA), len(artsB))
		}
		for i := range artsA {
			a, b := readFile(t, artsA[i].Path), readFile(t, artsB[i].Path)
			if !bytes.Equal(a, b) {
				t.Errorf("%s differs between the builds (sha256 %s vs %s): %s", filepath.Base(artsA[i].Path), artsA[i].SHA256, artsB[i].SHA256, firstDifference(t, artsA[i].Path, artsB[i].Path))
			}
		}
		sumsA, sumsB := readFile(t, filepath.Join(opts.Out, "SHA256SUMS")), readFile(t, filepath.Join(optsB.Out, "SHA256SUMS"))
		if diff := cmp.Diff(string(sumsA), string(sumsB)); diff != "" {
			t.Errorf("SHA256SUMS differ (-a +b):\n%s", diff)
		}
	})

	t.Run("SHA256SUMS", func(t *testing.T) {
		sums := readFile(t, filepath.Join(opts.Out, "SHA256SUMS"))
		got := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(sums))
		for sc.Scan() {
			sum, name, ok := strings.Cut(sc.Text(), "  ")
			if !ok || len(sum) != 64 {
				t.Fatalf("SHA256SUMS line %q is not in sha256sum format", sc.Text())
			}
			got[name] = sum
		}
		want := map[string]string{}
		for _, a := range artsA {
			want[filepath.Base(a.Path)] = fmt.Sprintf("%x", sha256.Sum256(readFile(t, a.Path)))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("SHA256SUMS does not match the archives (-want +got):\n%s", diff)
		}
	})

	for _, a := range artsA {
		t.Run("archive "+a.Platform, func(t *testing.T) {
			goos, goarch, _ := strings.Cut(a.Platform, "/")
			wantName := fmt.Sprintf("pullkeys_1.2.3-test_%s_%s", goos, goarch)
			var files map[string]archived
			if goos == "windows" {
				wantName += ".zip"
				files = readZip(t, a.Path)
			} else {
				wantName += ".tar.gz"
				files = readTarGz(t, a.Path)
			}
			if got := filepath.Base(a.Path); got != wantName {
				t.Errorf("archive name = %q, want %q", got, wantName)
			}
			var wantFiles []string
			for _, b := range Binaries {
				if goos == "windows" {
					b += ".exe"
				}
				wantFiles = append(wantFiles, b)
			}
			slices.Sort(wantFiles)
			var gotFiles []string
			for name := range files {
				gotFiles = append(gotFiles, name)
			}
			slices.Sort(gotFiles)
			if diff := cmp.Diff(wantFiles, gotFiles); diff != "" {
				t.Fatalf("archive entries (-want +got):\n%s", diff)
			}
			for name, f := range files {
				if f.mode.Perm() != 0o755 || !f.modTime.Equal(epoch) {
					t.Errorf("%s: mode %v, time %v; want 0755 and %v", name, f.mode, f.modTime, epoch)
				}
				if goos == "windows" {
					checkPE(t, name, f.data, goarch)
				} else {
					checkStaticELF(t, name, f.data, goarch)
				}
			}
			if a.Platform == runtime.GOOS+"/"+runtime.GOARCH {
				checkVersion(t, files, opts)
			}
		})
	}
}

// checkStaticELF checks that a Linux binary is for goarch and static: no interpreter, no
// dynamic section, no shared libraries.
func checkStaticELF(t *testing.T, name string, data []byte, goarch string) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: not an ELF file: %v", name, err)
	}
	wantMachine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
	if f.Machine != wantMachine {
		t.Errorf("%s: machine %v, want %v", name, f.Machine, wantMachine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: has a %v program header: not a static binary", name, p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s: imports shared libraries %v", name, libs)
	}
	if f.Section(".symtab") != nil || f.Section(".debug_info") != nil {
		t.Errorf("%s: has a symbol table or DWARF: -s -w missing", name)
	}
}

// checkPE checks that a Windows binary is a PE for goarch.
func checkPE(t *testing.T, name string, data []byte, goarch string) {
	t.Helper()
	f, err := pe.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: not a PE file: %v", name, err)
	}
	if goarch == "amd64" && f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 {
		t.Errorf("%s: machine %#x, want amd64", name, f.Machine)
	}
}

// checkVersion extracts the host platform's archive and runs each of its binaries with
// --version: the version and commit given to Release are stamped.
func checkVersion(t *testing.T, files map[string]archived, opts Options) {
	t.Helper()
	dir := t.TempDir()
	for name, f := range files {
		if err := os.WriteFile(filepath.Join(dir, name), f.data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path := filepath.Join(dir, name)
		args := []string{"--version"}
		if name == "pullkeys" {
			args = []string{"version"}
		}
		out, err := exec.Command(path, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, args[0], err, out)
		}
		if !strings.Contains(string(out), opts.Version) || !strings.Contains(string(out), opts.Commit) {
			t.Errorf("%s %s = %q, want version %s and commit %s", name, args[0], out, opts.Version, opts.Commit)
		}
	}
}

func TestReleaseRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want error
	}{
		{name: "version with a space", opts: Options{Version: "v1 -X evil=1"}, want: ErrBadVersion},
		{name: "version with a slash", opts: Options{Version: "v1/../../x"}, want: ErrBadVersion},
		{name: "empty version", opts: Options{Version: ""}, want: ErrBadVersion},
		{name: "commit not hex", opts: Options{Version: "v1", Commit: "main"}, want: ErrBadCommit},
		{name: "commit with flags", opts: Options{Version: "v1", Commit: "abcd -X x=y"}, want: ErrBadCommit},
		{name: "platform without arch", opts: Options{Version: "v1", Platforms: []string{"linux"}}, want: ErrBadPlatform},
		{name: "platform with two slashes", opts: Options{Version: "v1", Platforms: []string{"linux/arm/v7"}}, want: ErrBadPlatform},
		{name: "empty platform", opts: Options{Version: "v1", Platforms: []string{""}}, want: ErrBadPlatform},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Out = filepath.Join(t.TempDir(), "dist")
			_, err := Release(context.Background(), tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Release(%+v) = %v, want %v", tt.opts, err, tt.want)
			}
			if _, err := os.Stat(tt.opts.Out); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Release wrote %s before rejecting its input", tt.opts.Out)
			}
		})
	}
}

func TestReleaseAcceptsMakefileValues(t *testing.T) {
	// What the Makefile passes: git describe --tags --always --dirty and git rev-parse HEAD.
	for _, v := range []string{"v0.1.0", "v0.1.0-3-g164953f-dirty", "164953f", "dev", "1.2.3+build.5"} {
		if !versionRE.MatchString(v) {
			t.Errorf("version %q is refused", v)
		}
	}
	for _, c := range []string{"", "164953f8b0c0a4d1e2f3a4b5c6d7e8f9a0b1c2d3", "164953f-dirty"} {
		if !commitRE.MatchString(c) {
			t.Errorf("commit %q is refused", c)
		}
	}
}

func TestBuildEnvPinsTheBuild(t *testing.T) {
	t.Setenv("GOAMD64", "v3")
	t.Setenv("GOFLAGS", "-race")
	t.Setenv("GOEXPERIMENT", "boringcrypto")
	env := buildEnv(Options{Env: []string{"CGO_ENABLED=1", "GOCACHE=/tmp/x"}}, "linux", "amd64")
	got := map[string]string{}
	for _, kv := range env { // later entries win, as in os/exec
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	want := map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "amd64", "GOFLAGS": "", "GOEXPERIMENT": "", "GOAMD64": "v1", "GOARM64": "v8.0", "GOCACHE": "/tmp/x"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("buildEnv: %s=%q, want %q", k, got[k], v)
		}
	}
}

func TestLDFlags(t *testing.T) {
	got := LDFlags("v1.0.0", "abcd")
	for _, want := range []string{"-s", "-w", "-buildid=", "-X github.com/pullkeys/pullkeys/providers.version=v1.0.0", "-X github.com/pullkeys/pullkeys/providers.commit=abcd"} {
		if !strings.Contains(got, want) {
			t.Errorf("LDFlags(%q, %q) = %q, want it to contain %q", "v1.0.0", "abcd", got, want)
		}
	}
}

func TestArchivesAreDeterministic(t *testing.T) {
	files := map[string][]byte{"b-tool": []byte("second"), "a-tool": bytes.Repeat([]byte("first "), 1000), "c.exe": {0, 1, 2}}
	tests := []struct {
		name string
		pack func(map[string][]byte) ([]byte, error)
		read func(*testing.T, string) map[string]archived
	}{
		{name: "tar.gz", pack: tarGz, read: readTarGz},
		{name: "zip", pack: zipArchive, read: readZip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, err := tt.pack(files)
			if err != nil {
				t.Fatal(err)
			}
			second, err := tt.pack(files)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, second) {
				t.Fatalf("%s of the same files gave different bytes", tt.name)
			}
			path := filepath.Join(t.TempDir(), "archive")
			if err := os.WriteFile(path, first, 0o644); err != nil {
				t.Fatal(err)
			}
			got := tt.read(t, path)
			for name, data := range files {
				f, ok := got[name]
				switch {
				case !ok:
					t.Errorf("%s: entry %s missing", tt.name, name)
				case !bytes.Equal(f.data, data):
					t.Errorf("%s: entry %s has other content", tt.name, name)
				case f.mode.Perm() != 0o755 || !f.modTime.Equal(epoch):
					t.Errorf("%s: entry %s: mode %v, time %v; want 0755 and %v", tt.name, name, f.mode, f.modTime, epoch)
				}
			}
			if len(got) != len(files) {
				t.Errorf("%s: %d entries, want %d", tt.name, len(got), len(files))
			}
		})
	}
}

func TestTarHeaders(t *testing.T) {
	data, err := tarGz(map[string][]byte{"z": nil, "a": []byte("x"), "m": []byte("y")})
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.Equal(epoch) {
		t.Errorf("gzip header: name %q, time %v; want no name and %v", gz.Name, gz.ModTime, epoch)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || h.Typeflag != tar.TypeReg {
			t.Errorf("entry %s: uid %d gid %d uname %q gname %q type %c; want a plain file without owner", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.Typeflag)
		}
	}
	if diff := cmp.Diff([]string{"a", "m", "z"}, names); diff != "" {
		t.Errorf("tar entries not sorted (-want +got):\n%s", diff)
	}
}

func TestSHA256SumsFormat(t *testing.T) {
	arts := []Artifact{
		{Path: "dist/pullkeys_1_windows_amd64.zip", SHA256: strings.Repeat("b", 64)},
		{Path: "dist/pullkeys_1_linux_amd64.tar.gz", SHA256: strings.Repeat("a", 64)},
	}
	want := strings.Repeat("a", 64) + "  pullkeys_1_linux_amd64.tar.gz\n" + strings.Repeat("b", 64) + "  pullkeys_1_windows_amd64.zip\n"
	if got := string(sha256Sums(arts)); got != want {
		t.Errorf("sha256Sums() =\n%s\nwant\n%s", got, want)
	}
}

// TestDockerfile keeps the image build in line with the release: it runs this tool for the
// target platform, with a Go at least as new as go.mod asks for, into a static base image.
func TestDockerfile(t *testing.T) {
	dockerfile := string(readFile(t, filepath.Join(moduleRoot, "Dockerfile")))
	gomod := string(readFile(t, filepath.Join(moduleRoot, "go.mod")))

	m := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindStringSubmatch(dockerfile)
	if m == nil {
		t.Fatal("Dockerfile: no ARG GO_VERSION=<version>")
	}
	goMod := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(gomod)
	if goMod == nil {
		t.Fatal("go.mod: no go directive")
	}
	if version.Compare("go"+m[1], "go"+goMod[1]) < 0 {
		t.Errorf("Dockerfile GO_VERSION %s is older than go.mod's go %s", m[1], goMod[1])
	}
	if tc := regexp.MustCompile(`(?m)^toolchain (\S+)$`).FindStringSubmatch(gomod); tc != nil && "go"+m[1] != tc[1] {
		t.Errorf("Dockerfile GO_VERSION %s is not go.mod's toolchain %s", m[1], tc[1])
	}
	for _, want := range []string{
		"go run ./hack/release",
		`-platforms "linux/${arch}"`,
		"CGO_ENABLED=0",
		"-trimpath",
		"./cmd/pullkeys-installer",
	} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("Dockerfile does not contain %q", want)
		}
	}
	froms := regexp.MustCompile(`(?m)^FROM\s+(?:--platform=\S+\s+)?(\S+)`).FindAllStringSubmatch(dockerfile, -1)
	if len(froms) == 0 {
		t.Fatal("Dockerfile: no FROM")
	}
	final := froms[len(froms)-1][1]
	if final != "scratch" && !strings.HasPrefix(final, "gcr.io/distroless/static") {
		t.Errorf("Dockerfile: final stage FROM %s, want scratch or gcr.io/distroless/static", final)
	}

	ignore := string(readFile(t, filepath.Join(moduleRoot, ".dockerignore")))
	for _, line := range strings.Split(ignore, "\n") {
		line = strings.TrimSpace(line)
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "hack", "providers", "deploy"} {
			if line == needed || line == "/"+needed || line == needed+"/" {
				t.Errorf(".dockerignore excludes %s, which the image build needs", needed)
			}
		}
	}
}

type archived struct {
	data    []byte
	mode    fs.FileMode
	modTime time.Time
}

func readTarGz(t *testing.T, path string) map[string]archived {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tr := tar.NewReader(gz)
	out := map[string]archived{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out[h.Name] = archived{data: data, mode: h.FileInfo().Mode(), modTime: h.ModTime}
	}
}

func readZip(t *testing.T, path string) map[string]archived {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer zr.Close()
	out := map[string]archived{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("%s: %s: %v", path, f.Name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %s: %v", path, f.Name, err)
		}
		out[f.Name] = archived{data: data, mode: f.Mode(), modTime: f.Modified.UTC()}
	}
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// firstDifference names the first archive entry whose content differs, to help find what
// broke reproducibility.
func firstDifference(t *testing.T, a, b string) string {
	read := readTarGz
	if strings.HasSuffix(a, ".zip") {
		read = readZip
	}
	fa, fb := read(t, a), read(t, b)
	for name, x := range fa {
		y, ok := fb[name]
		if !ok {
			return "entry " + name + " missing from the second"
		}
		if !bytes.Equal(x.data, y.data) {
			for i := range min(len(x.data), len(y.data)) {
				if x.data[i] != y.data[i] {
					return fmt.Sprintf("entry %s first differs at byte %d (sizes %d and %d)", name, i, len(x.data), len(y.data))
				}
			}
			return fmt.Sprintf("entry %s: sizes %d and %d", name, len(x.data), len(y.data))
		}
	}
	return "entries equal, archive metadata differs"
}

// snapshot copies the module's sources (without VCS data, build outputs and nested modules)
// to dst and returns dst.
func snapshot(t *testing.T, dst string) string {
	t.Helper()
	root, err := filepath.Abs(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel == "." {
				return os.MkdirAll(dst, 0o755)
			}
			name := d.Name()
			if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || rel == "dist" || rel == "bin" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module (e2e): not part of the release
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatalf("snapshot of %s: %v", root, err)
	}
	return dst
}
