// Command release builds the pullkeys binaries for every release platform and packs them into
// reproducible archives with SHA-256 checksums:
//
//	go run ./hack/release -version v0.1.0 -commit "$(git rev-parse HEAD)" -out dist
//
// It writes, for each platform, pullkeys_<version>_<goos>_<goarch>.tar.gz (.zip for Windows,
// whose binaries end in .exe, the name the kubelet looks up there), holding the binaries at the
// top level (one file per plugin), and SHA256SUMS over the archives, in the format of
// sha256sum -c.
//
// # Reproducible
//
// Two runs for the same commit, version and Go toolchain give identical bytes, wherever the
// tree is checked out and whatever the build cache holds:
//
//   - the binaries are static (CGO_ENABLED=0), built with -trimpath (no file system paths),
//     -buildvcs=false (no VCS stamp: the commit comes from -commit, so a tarball of the source
//     builds the same bytes as a checkout), -ldflags "-s -w -buildid=" (no symbol table, no
//     DWARF, no build ID), and the version and commit given by flags;
//   - the Go environment that changes code generation is pinned (GOAMD64=v1, GOARM64=v8.0,
//     GOEXPERIMENT, GOFLAGS and CGO flags cleared), so a builder's shell cannot leak into the
//     release;
//   - archive entries are sorted, with a fixed time (2000-01-01), mode 0755 and no owner; the
//     gzip header has the same fixed time and no name.
//
// What is not pinned is the Go toolchain itself: another Go release compiles other bytes. The
// toolchain is printed at the start of every run; use the same one (the Dockerfile's GO_VERSION)
// to reproduce a release.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Binaries are the commands shipped in every archive, each built from ./cmd/<name>.
var Binaries = []string{"acr-credential-provider", "dockercfg-credential-provider", "ecr-credential-provider", "gcr-credential-provider", "pullkeys"}

// Platforms are the release targets (GOOS/GOARCH): the kubelet runs on all three.
var Platforms = []string{"linux/amd64", "linux/arm64", "windows/amd64"}

// epoch is the modification time of every archive entry and of the gzip header.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Options says what to build.
type Options struct {
	// Dir is the module root to build from; "" is the working directory.
	Dir string
	// Out is the directory the archives and SHA256SUMS are written to; it is created.
	Out string
	// Version is stamped into the binaries (providers.version) and names the archives
	// (a leading "v" is dropped from the name). Letters, digits and ".-+_" only.
	Version string
	// Commit is stamped into the binaries (providers.commit): a hex revision, possibly
	// followed by "-dirty"; may be empty.
	Commit string
	// Platforms are GOOS/GOARCH pairs; nil means Platforms.
	Platforms []string
	// Binaries are the commands to build; nil means Binaries.
	Binaries []string
	// Env is added to the go command's environment (GOCACHE for a cold build, say). The
	// variables that make the build reproducible are set after it and cannot be overridden.
	Env []string
	// Log receives one line per archive; nil discards.
	Log io.Writer
}

// Artifact is one archive written by Release.
type Artifact struct {
	Platform string // GOOS/GOARCH
	Path     string // the archive's path
	SHA256   string // hex
	Size     int64
}

// Sentinel errors of Release.
var (
	ErrBadVersion  = errors.New("version must be letters, digits and .-+_ only")
	ErrBadCommit   = errors.New("commit must be a hex revision, optionally followed by -dirty")
	ErrBadPlatform = errors.New("platform must be GOOS/GOARCH")
)

var (
	versionRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]*$`)
	commitRE  = regexp.MustCompile(`^([0-9a-f]{4,64}(-dirty)?)?$`)
)

func main() {
	opts := Options{Log: os.Stdout}
	var platforms string
	flag.StringVar(&opts.Version, "version", "dev", "version stamped into the binaries and the archive names")
	flag.StringVar(&opts.Commit, "commit", "", "commit stamped into the binaries (hex, optionally with -dirty)")
	flag.StringVar(&opts.Out, "out", "dist", "output directory")
	flag.StringVar(&platforms, "platforms", strings.Join(Platforms, ","), "comma-separated GOOS/GOARCH list")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "release: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	opts.Platforms = strings.Split(platforms, ",")
	if _, err := Release(context.Background(), opts); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

// Release builds every binary for every platform, writes one archive per platform and
// SHA256SUMS into opts.Out, and returns the archives in platform order.
func Release(ctx context.Context, opts Options) ([]Artifact, error) {
	if !versionRE.MatchString(opts.Version) {
		return nil, fmt.Errorf("%w: %q", ErrBadVersion, opts.Version)
	}
	if !commitRE.MatchString(opts.Commit) {
		return nil, fmt.Errorf("%w: %q", ErrBadCommit, opts.Commit)
	}
	platforms := opts.Platforms
	if platforms == nil {
		platforms = Platforms
	}
	bins := opts.Binaries
	if bins == nil {
		bins = Binaries
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	for _, p := range platforms {
		if goos, goarch, ok := strings.Cut(p, "/"); !ok || goos == "" || goarch == "" || strings.Contains(goarch, "/") {
			return nil, fmt.Errorf("%w: %q", ErrBadPlatform, p)
		}
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	if v, err := goVersion(ctx, opts); err == nil {
		fmt.Fprintf(log, "release: %s, version %s, commit %s\n", v, opts.Version, opts.Commit)
	}

	var arts []Artifact
	for _, p := range platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		files, err := build(ctx, opts, bins, goos, goarch)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("pullkeys_%s_%s_%s", strings.TrimPrefix(opts.Version, "v"), goos, goarch)
		var archive []byte
		if goos == "windows" {
			name += ".zip"
			archive, err = zipArchive(files)
		} else {
			name += ".tar.gz"
			archive, err = tarGz(files)
		}
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w", name, err)
		}
		path := filepath.Join(opts.Out, name)
		if err := os.WriteFile(path, archive, 0o644); err != nil {
			return nil, err
		}
		a := Artifact{Platform: p, Path: path, SHA256: fmt.Sprintf("%x", sha256.Sum256(archive)), Size: int64(len(archive))}
		arts = append(arts, a)
		fmt.Fprintf(log, "release: %s (%d bytes, sha256 %s)\n", path, a.Size, a.SHA256)
	}
	if err := os.WriteFile(filepath.Join(opts.Out, "SHA256SUMS"), sha256Sums(arts), 0o644); err != nil {
		return nil, err
	}
	return arts, nil
}

// sha256Sums formats the checksums as sha256sum does, sorted by file name.
func sha256Sums(arts []Artifact) []byte {
	lines := make([]string, len(arts))
	for i, a := range arts {
		lines[i] = fmt.Sprintf("%s  %s\n", a.SHA256, filepath.Base(a.Path))
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][66:] < lines[j][66:] })
	return []byte(strings.Join(lines, ""))
}

// buildEnv is the go command's environment: the caller's, then opts.Env, then what the
// release pins (later entries win in os/exec).
func buildEnv(opts Options, goos, goarch string) []string {
	env := append(os.Environ(), opts.Env...)
	return append(env,
		"CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch,
		"GOFLAGS=", "GOEXPERIMENT=", "GOAMD64=v1", "GOARM64=v8.0", "GO386=sse2", "GOARM=7",
		"CGO_CFLAGS=", "CGO_LDFLAGS=",
	)
}

// LDFlags are the linker flags of a release build.
func LDFlags(version, commit string) string {
	return fmt.Sprintf("-s -w -buildid= -X github.com/pullkeys/pullkeys/providers.version=%s -X github.com/pullkeys/pullkeys/providers.commit=%s", version, commit)
}

// build compiles every binary for one platform in one go command and returns their contents
// by file name (with .exe on Windows).
func build(ctx context.Context, opts Options, bins []string, goos, goarch string) (map[string][]byte, error) {
	tmp, err := os.MkdirTemp("", "pullkeys-release-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags", LDFlags(opts.Version, opts.Commit), "-o", tmp + string(filepath.Separator)}
	for _, b := range bins {
		args = append(args, "./cmd/"+b)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = opts.Dir
	cmd.Env = buildEnv(opts, goos, goarch)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("build for %s/%s: %w\n%s", goos, goarch, err, strings.TrimSpace(stderr.String()))
	}
	files := make(map[string][]byte, len(bins))
	for _, b := range bins {
		name := b
		if goos == "windows" {
			name += ".exe"
		}
		data, err := os.ReadFile(filepath.Join(tmp, name))
		if err != nil {
			return nil, fmt.Errorf("build for %s/%s: %w", goos, goarch, err)
		}
		files[name] = data
	}
	return files, nil
}

func goVersion(ctx context.Context, opts Options) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(), opts.Env...)
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

func sortedNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// tarGz packs files into a gzip-compressed tar with fixed metadata: entries sorted by name,
// mode 0755, no owner, the epoch as time, a gzip header without name and with the epoch.
func tarGz(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	gz.ModTime = epoch
	tw := tar.NewWriter(gz)
	for _, name := range sortedNames(files) {
		hdr := &tar.Header{Name: name, Mode: 0o755, Size: int64(len(files[name])), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// zipArchive packs files into a zip with fixed metadata, as tarGz does.
func zipArchive(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range sortedNames(files) {
		hdr := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: epoch}
		hdr.SetMode(0o755)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(w, bytes.NewReader(files[name])); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
