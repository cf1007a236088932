package installer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pullkeys/pullkeys/dockercfg"
	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
)

// Modes of the installed files.
const (
	BinaryMode        fs.FileMode = 0o755
	DefaultConfigMode fs.FileMode = 0o644
	PullSecretMode    fs.FileMode = 0o600
)

// PullSecretKeys are the keys of a kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg
// Secret, and so the file names of a mounted one: the files that are synced from
// Options.PullSecret to Options.PullSecretDir.
var PullSecretKeys = []string{".dockerconfigjson", ".dockercfg"}

// Options says what to install where. Directories that do not exist are created (mode 0755,
// 0700 for PullSecretDir).
type Options struct {
	// From is the directory holding the binaries, in the image /pullkeys/bin.
	From string
	// Binaries names the files of From to install. Empty means every regular file in From with
	// an execute bit whose name does not start with '.'.
	Binaries []string
	// BinDir is the kubelet's --image-credential-provider-bin-dir, as seen by the installer.
	// Required.
	BinDir string
	// CacheDir is the plugins' cache directory as seen by the installer, optional: the answers
	// subdirectory an earlier pullkeys kept there is removed.
	CacheDir string

	// Configs are CredentialProviderConfig files, installed into ConfigDir under their base
	// names. They are validated together, as the kubelet validates the files of a config
	// directory.
	Configs []string
	// ConfigDir receives Configs; required with Configs.
	ConfigDir string
	// ConfigMode is the mode of the installed configs; 0 means DefaultConfigMode. Use 0600 for
	// configs whose env holds secrets.
	ConfigMode fs.FileMode

	// PullSecret is a directory holding a mounted docker-registry Secret (.dockerconfigjson or
	// .dockercfg), to be served by dockercfg-credential-provider --config=<PullSecretDir>.
	// Optional.
	PullSecret string
	// PullSecretDir receives the Secret's files at mode 0600; required with PullSecret.
	PullSecretDir string

	// Logger gets a debug line per decision; nil discards.
	Logger *slog.Logger
}

// Action is what Install did with a file.
type Action string

// The actions of Install.
const (
	Installed Action = "installed" // written (new or changed)
	Unchanged Action = "unchanged" // already there with the same content and mode: not touched
	Removed   Action = "removed"   // a pull secret key the Secret no longer has
)

// File is one file Install dealt with.
type File struct {
	Path   string      `json:"path"`
	Action Action      `json:"action"`
	Mode   fs.FileMode `json:"mode"`
	Size   int64       `json:"size"`
	// SHA256 is the hex digest of the content; empty for pull secrets, whose digest is not
	// reported.
	SHA256 string `json:"sha256,omitempty"`
}

// String formats the file as one line: "installed /host/bin/x (123 bytes, mode 0755, sha256 …)".
func (f File) String() string {
	if f.Action == Removed {
		return fmt.Sprintf("%s %s", f.Action, f.Path)
	}
	s := fmt.Sprintf("%s %s (%d bytes, mode %#o", f.Action, f.Path, f.Size, f.Mode.Perm())
	if f.SHA256 != "" {
		s += ", sha256 " + f.SHA256
	}
	return s + ")"
}

// Sentinel errors of Install.
var (
	ErrUsage             = errors.New("invalid options")
	ErrNoBinaries        = errors.New("no binaries to install")
	ErrInvalidConfig     = errors.New("credential provider config refused")
	ErrInvalidPullSecret = errors.New("pull secret refused")
)

// tmpMarker is part of the names of temporary files, so that leftovers of an interrupted run
// can be recognised and removed.
const tmpMarker = ".pullkeys-installer-tmp-"

// Install installs the binaries, configs and pull secret of opts (see the package
// documentation for the order and the checks) and returns what it did with each file, in
// order. Each file is replaced atomically; on error, the files already installed stay.
func Install(ctx context.Context, opts Options) ([]File, error) {
	log := providers.OrDiscard(opts.Logger)
	if err := opts.check(); err != nil {
		return nil, err
	}
	configMode := opts.ConfigMode
	if configMode == 0 {
		configMode = DefaultConfigMode
	}

	// 1. Read and check everything before writing anything.
	bins, err := opts.binaries()
	if err != nil {
		return nil, err
	}
	configs, cfg, err := readConfigs(opts.Configs)
	if err != nil {
		return nil, err
	}
	if err := checkProviders(cfg, bins, opts.BinDir); err != nil {
		return nil, err
	}
	secrets, err := readPullSecret(opts.PullSecret, log)
	if err != nil {
		return nil, err
	}

	var done []File
	step := func(f File, err error) error {
		if err != nil {
			return err
		}
		log.Log(ctx, providers.V(1), "installer: "+string(f.Action), "path", f.Path, "size", f.Size, "mode", fmt.Sprintf("%#o", f.Mode.Perm()))
		done = append(done, f)
		return ctx.Err()
	}

	// 2. Binaries.
	if err := os.MkdirAll(opts.BinDir, 0o755); err != nil {
		return nil, fmt.Errorf("create bin dir: %w", err)
	}
	for _, name := range bins {
		if err := step(installPath(filepath.Join(opts.From, name), filepath.Join(opts.BinDir, name), BinaryMode)); err != nil {
			return done, err
		}
	}

	for _, path := range opts.leftovers(bins) {
		if err := os.RemoveAll(path); err != nil {
			return done, fmt.Errorf("remove %s, left by an earlier pullkeys: %w", path, err)
		}
		if err := step(File{Path: path, Action: Removed}, nil); err != nil {
			return done, err
		}
	}

	// 3. The kubelet's start-up check against the bin dir as it now is.
	if len(configs) > 0 {
		if probs := kubelet.CheckBinaries(cfg, opts.BinDir).Errors(); len(probs) > 0 {
			return done, fmt.Errorf("%w: %s", ErrInvalidConfig, joinProblems(probs))
		}
	}

	// 4. Configs, then the pull secret.
	if len(configs) > 0 {
		if err := os.MkdirAll(opts.ConfigDir, 0o755); err != nil {
			return done, fmt.Errorf("create config dir: %w", err)
		}
	}
	for _, c := range configs {
		if err := step(installBytes(c.data, filepath.Join(opts.ConfigDir, filepath.Base(c.path)), configMode, false)); err != nil {
			return done, err
		}
	}
	if opts.PullSecret != "" {
		if err := os.MkdirAll(opts.PullSecretDir, 0o700); err != nil {
			return done, fmt.Errorf("create pull secret dir: %w", err)
		}
		// Also when it existed: only root may list the pull secret's directory.
		if err := os.Chmod(opts.PullSecretDir, 0o700); err != nil {
			return done, fmt.Errorf("restrict pull secret dir: %w", err)
		}
		for _, key := range PullSecretKeys {
			dst := filepath.Join(opts.PullSecretDir, key)
			data, ok := secrets[key]
			if ok {
				if err := step(installBytes(data, dst, PullSecretMode, true)); err != nil {
					return done, err
				}
				continue
			}
			removed, err := removeIfExists(dst)
			if err != nil {
				return done, err
			}
			if removed {
				if err := step(File{Path: dst, Action: Removed}, nil); err != nil {
					return done, err
				}
			}
		}
	}
	return done, nil
}

func (o *Options) check() error {
	switch {
	case o.BinDir == "":
		return fmt.Errorf("%w: the bin dir is required", ErrUsage)
	case o.From == "":
		return fmt.Errorf("%w: the directory of the binaries to install is required", ErrUsage)
	case len(o.Configs) > 0 && o.ConfigDir == "":
		return fmt.Errorf("%w: configs given without a config dir", ErrUsage)
	case o.ConfigDir != "" && len(o.Configs) == 0:
		return fmt.Errorf("%w: a config dir given without configs", ErrUsage)
	case (o.PullSecret == "") != (o.PullSecretDir == ""):
		return fmt.Errorf("%w: a pull secret and a pull secret dir go together", ErrUsage)
	case o.ConfigMode&^fs.ModePerm != 0:
		return fmt.Errorf("%w: config mode %v is not a permission", ErrUsage, o.ConfigMode)
	}
	for _, b := range o.Binaries {
		if b == "" || b != filepath.Base(b) || b == "." || b == ".." {
			return fmt.Errorf("%w: binary name %q is not a plain file name", ErrUsage, b)
		}
	}
	seen := map[string]string{}
	for _, c := range o.Configs {
		base := filepath.Base(c)
		if prev, dup := seen[base]; dup {
			return fmt.Errorf("%w: configs %s and %s would both be installed as %s", ErrUsage, prev, c, base)
		}
		seen[base] = c
	}
	return nil
}

// binaries lists the names to install from o.From.
func (o *Options) binaries() ([]string, error) {
	if len(o.Binaries) > 0 {
		for _, b := range o.Binaries {
			info, err := os.Stat(filepath.Join(o.From, b))
			if err != nil {
				return nil, fmt.Errorf("binary %s: %w", b, err)
			}
			if !info.Mode().IsRegular() {
				return nil, fmt.Errorf("binary %s: %s is not a regular file", b, filepath.Join(o.From, b))
			}
		}
		return o.Binaries, nil
	}
	entries, err := os.ReadDir(o.From)
	if err != nil {
		return nil, fmt.Errorf("list binaries: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := os.Stat(filepath.Join(o.From, e.Name())) // follows symbolic links
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			continue
		}
		names = append(names, e.Name())
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: %s holds no executable file", ErrNoBinaries, o.From)
	}
	return names, nil
}

// leftovers lists what pullkeys releases that shipped two files per plugin left beside the
// binaries being installed (<name>-full, <name>-full.exe for <name>.exe) and in the plugins'
// cache directory (answers/, copies of answers kept for the front binaries), for removal.
func (o *Options) leftovers(bins []string) []string {
	var paths []string
	for _, name := range bins {
		ext := filepath.Ext(name)
		full := strings.TrimSuffix(name, ext) + "-full" + ext
		if slices.Contains(bins, full) {
			continue
		}
		if info, err := os.Lstat(filepath.Join(o.BinDir, full)); err == nil && !info.IsDir() {
			paths = append(paths, filepath.Join(o.BinDir, full))
		}
	}
	if o.CacheDir != "" {
		if info, err := os.Lstat(filepath.Join(o.CacheDir, "answers")); err == nil && info.IsDir() {
			paths = append(paths, filepath.Join(o.CacheDir, "answers"))
		}
	}
	return paths
}

type configFile struct {
	path string
	data []byte
}

// readConfigs reads and validates the configs as the kubelet reads a config directory: each
// decoded strictly, then all providers validated together. The bytes validated are the bytes
// installed.
func readConfigs(paths []string) ([]configFile, *kubelet.Config, error) {
	cfg := &kubelet.Config{}
	var files []configFile
	var problems kubelet.Problems
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s", ErrInvalidConfig, err)
		}
		provs, apiVersion, probs := kubelet.DecodeConfig(data)
		for i := range probs {
			probs[i].File = path
		}
		problems = append(problems, probs...)
		for i, p := range provs {
			cfg.Providers = append(cfg.Providers, kubelet.Provider{CredentialProvider: p, File: path, Index: i, ConfigAPIVersion: apiVersion})
		}
		cfg.Files = append(cfg.Files, path)
		files = append(files, configFile{path: path, data: data})
	}
	if len(paths) == 0 {
		return nil, cfg, nil
	}
	if len(problems.Errors()) == 0 {
		problems = append(problems, kubelet.Validate(cfg)...)
	}
	if errs := problems.Errors(); len(errs) > 0 {
		return nil, nil, fmt.Errorf("%w: %s", ErrInvalidConfig, joinProblems(errs))
	}
	return files, cfg, nil
}

// checkProviders checks, before anything is written, that every provider of cfg will have its
// binary: one being installed, or one already in binDir.
func checkProviders(cfg *kubelet.Config, bins []string, binDir string) error {
	var missing []string
	for _, p := range cfg.Providers {
		if slices.Contains(bins, p.Name) {
			continue
		}
		if _, err := kubelet.FindBinary(binDir, p.Name); err != nil {
			missing = append(missing, fmt.Sprintf("%s: providers[%d] %q: not among the binaries to install and %v", p.File, p.Index, p.Name, err))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: the kubelet would refuse to start: %s", ErrInvalidConfig, strings.Join(missing, "; "))
	}
	return nil
}

// readPullSecret reads the keys of a mounted docker-registry Secret and checks that each
// parses as a docker config. Errors name the file, never the content.
func readPullSecret(dir string, log *slog.Logger) (map[string][]byte, error) {
	if dir == "" {
		return nil, nil
	}
	if info, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidPullSecret, err)
	} else if !info.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory (the mount of a Secret)", ErrInvalidPullSecret, dir)
	}
	out := map[string][]byte{}
	for _, key := range PullSecretKeys {
		path := filepath.Join(dir, key)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s", ErrInvalidPullSecret, err)
		}
		cfg, err := dockercfg.Parse(data, path)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidPullSecret, err)
		}
		for _, w := range cfg.Warnings {
			log.Warn("installer: pull secret", "file", path, "warning", w.String())
		}
		out[key] = data
	}
	return out, nil
}

// installPath installs the file at src as dst with mode, streaming it.
func installPath(src, dst string, mode fs.FileMode) (File, error) {
	sum, size, err := hashFile(src)
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", src, err)
	}
	open := func() (io.ReadCloser, error) { return os.Open(src) }
	return install(open, sum, size, dst, mode, false)
}

// installBytes installs data as dst with mode. For a secret, no digest is reported.
func installBytes(data []byte, dst string, mode fs.FileMode, secret bool) (File, error) {
	sum := sha256.Sum256(data)
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return install(open, hex.EncodeToString(sum[:]), int64(len(data)), dst, mode, secret)
}

func install(open func() (io.ReadCloser, error), sum string, size int64, dst string, mode fs.FileMode, secret bool) (File, error) {
	f := File{Path: dst, Mode: mode, Size: size, SHA256: sum}
	if secret {
		f.SHA256 = ""
	}
	removeStale(dst)
	if same(dst, sum, size, mode) {
		f.Action = Unchanged
		return f, nil
	}
	if err := writeAtomic(open, sum, dst, mode); err != nil {
		return f, err
	}
	f.Action = Installed
	return f, nil
}

// same reports whether dst is a regular file (not a symbolic link) with the given mode, size
// and content.
func same(dst, sum string, size int64, mode fs.FileMode) bool {
	info, err := os.Lstat(dst)
	if err != nil || !info.Mode().IsRegular() || info.Mode().Perm() != mode || info.Size() != size {
		return false
	}
	got, _, err := hashFile(dst)
	return err == nil && got == sum
}

// writeAtomic writes the content from open to a temporary file next to dst, checks its digest,
// sets mode, syncs, renames it over dst and syncs the directory.
func writeAtomic(open func() (io.ReadCloser, error), sum, dst string, mode fs.FileMode) (err error) {
	dir := filepath.Dir(dst)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dst)+tmpMarker+"*")
	if err != nil {
		return fmt.Errorf("install %s: %w", dst, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("install %s: %w", dst, err)
		}
	}()
	src, err := open()
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), src)
	src.Close()
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return errors.New("the source changed while it was being copied")
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	return syncDir(dir)
}

// removeStale removes the temporary files an interrupted run left for dst.
func removeStale(dst string) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), "."+globEscape(filepath.Base(dst))+tmpMarker+"*"))
	for _, m := range matches {
		os.Remove(m)
	}
}

func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}

func removeIfExists(path string) (bool, error) {
	err := os.Remove(path)
	switch {
	case err == nil:
		return true, syncDir(filepath.Dir(path))
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("remove %s: %w", path, err)
	}
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func joinProblems(ps kubelet.Problems) string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "; ")
}
