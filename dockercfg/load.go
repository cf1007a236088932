package dockercfg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/pullkeys/pullkeys/providers"
)

// MaxFileBytes is the largest docker config file read. Real ones are a few KiB.
const MaxFileBytes = 1 << 20

// ErrNoConfig: a directory given as a config holds none of the file names this package reads.
var ErrNoConfig = errors.New("no docker config file")

// File names, as docker and Kubernetes use them.
const (
	// ConfigJSONName is docker's current config file, in $HOME/.docker.
	ConfigJSONName = "config.json"
	// DockercfgName is docker's legacy config file, in $HOME, and the key of a
	// kubernetes.io/dockercfg secret.
	DockercfgName = ".dockercfg"
	// DockerConfigJSONName is the key of a kubernetes.io/dockerconfigjson secret, the file
	// name a mounted secret of that type has.
	DockerConfigJSONName = ".dockerconfigjson"
)

// dirFiles are the files read from a directory given as a config, in order of precedence.
var dirFiles = []string{ConfigJSONName, DockerConfigJSONName, DockercfgName}

// LoadFile reads and parses one docker config file (either shape, see Parse). A file mode
// that lets group or others read or write the file earns a warning. Errors name the file and
// the problem, never the content. A path that is not a regular file (a FIFO, a device, a
// socket) is refused at once, without blocking.
func LoadFile(path string) (*Config, error) { return loadFile(context.Background(), path) }

// loadFile is LoadFile that stops waiting for the read when ctx is done.
func loadFile(ctx context.Context, path string) (*Config, error) {
	// Stat first: opening a socket fails and opening a FIFO blocks, with no word on why. The
	// open below does not block either (O_NONBLOCK), and fstat checks what was opened.
	if info, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, pathProblem(err))
	} else if err := regularFile(info); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, pathProblem(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, pathProblem(err))
	}
	if err := regularFile(info); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	data, err := readWithin(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, pathProblem(err))
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("read %s: %w: larger than %d bytes", path, ErrMalformed, MaxFileBytes)
	}
	cfg, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		cfg.Warnings = append([]Warning{{Problem: fmt.Sprintf("file mode %04o lets group or others read it; want 0600", perm)}}, cfg.Warnings...)
	}
	return cfg, nil
}

// ErrNotRegular: a docker config path is neither a regular file nor a directory.
var ErrNotRegular = errors.New("not a regular file")

// regularFile refuses what is not a regular file, naming what it is.
func regularFile(info fs.FileInfo) error {
	mode := info.Mode()
	switch {
	case mode.IsRegular():
		return nil
	case mode.IsDir():
		return errors.New("is a directory")
	case mode&fs.ModeNamedPipe != 0:
		return fmt.Errorf("%w: a FIFO", ErrNotRegular)
	case mode&fs.ModeSocket != 0:
		return fmt.Errorf("%w: a socket", ErrNotRegular)
	case mode&fs.ModeDevice != 0:
		return fmt.Errorf("%w: a device", ErrNotRegular)
	}
	return fmt.Errorf("%w: mode %v", ErrNotRegular, mode.Type())
}

// readWithin reads up to MaxFileBytes+1 bytes of f, giving up when ctx is done: a regular
// file on a hung network or FUSE mount can block a read, and the kubelet's deadline is final.
// A read abandoned that way ends when f is closed or the process exits.
func readWithin(ctx context.Context, f *os.File) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// LoadPath loads what a --config flag names: a file (see LoadFile), or a directory, from which
// config.json, .dockerconfigjson (a mounted kubernetes.io/dockerconfigjson secret) and
// .dockercfg (a mounted kubernetes.io/dockercfg secret) are read, in that order, whichever
// exist. A directory with none of them is an error wrapping ErrNoConfig.
func LoadPath(path string) ([]*Config, error) { return loadPath(context.Background(), path) }

// loadPath is LoadPath that stops waiting for a read when ctx is done.
func loadPath(ctx context.Context, path string) ([]*Config, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, pathProblem(err))
	}
	if !info.IsDir() {
		cfg, err := loadFile(ctx, path)
		if err != nil {
			return nil, err
		}
		return []*Config{cfg}, nil
	}
	var configs []*Config
	for _, name := range dirFiles {
		cfg, err := loadFile(ctx, filepath.Join(path, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		configs = append(configs, cfg)
	}
	if len(configs) == 0 {
		return nil, fmt.Errorf("read %s: %w: the directory holds none of %v", path, ErrNoConfig, dirFiles)
	}
	return configs, nil
}

// Search finds the first docker config in the kubelet's search order (see SearchPaths) that
// can be read and parsed. Files that do not exist are passed over silently, files that cannot
// be read or parsed with a warning on log. It returns nil when there is none.
func Search(ctx context.Context, paths []string, log *slog.Logger) *Config {
	log = providers.OrDiscard(log)
	for _, path := range paths {
		cfg, err := loadFile(ctx, path)
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
			log.Log(ctx, providers.V(4), "no docker config here", "file", path)
			continue
		case err != nil:
			log.Warn("docker config skipped", "file", path, "problem", err.Error())
			continue
		}
		log.Log(ctx, providers.V(2), "docker config found by search", "file", path, "format", cfg.Format.String())
		return cfg
	}
	log.Warn("no docker config found", "searched", paths)
	return nil
}

// SearchPaths returns the kubelet's search order for docker config files: config.json in the
// kubelet root directory, the working directory, home/.docker and root/.docker; then
// .dockercfg in the kubelet root directory, the working directory, home and root. An empty
// home (no $HOME) is left out; root is "/" on a node.
func SearchPaths(kubeletRootDir, workingDir, home, root string) []string {
	var paths []string
	add := func(dir, name string) {
		if dir != "" {
			paths = append(paths, filepath.Join(dir, name))
		}
	}
	for _, dir := range []string{kubeletRootDir, workingDir, joinIf(home, ".docker"), joinIf(root, ".docker")} {
		add(dir, ConfigJSONName)
	}
	for _, dir := range []string{kubeletRootDir, workingDir, home, root} {
		add(dir, DockercfgName)
	}
	return paths
}

func joinIf(dir, name string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, name)
}

// pathProblem strips the path from an *fs.PathError (the caller names the file once).
func pathProblem(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
