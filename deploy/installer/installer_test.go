package installer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const validConfig = `apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: dockercfg-credential-provider
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    matchImages: ["registry.example.io"]
    defaultCacheDuration: 5m
    args: ["--config=/etc/kubernetes/image-credential-provider/pull-secret"]
    env:
      - name: SOME_TOKEN
        value: env-value-that-must-never-be-printed
`

// secretPassword is the password in the test pull secrets; it must never be printed.
const secretPassword = "s3cr3t-pull-password"

var validSecret = `{"auths":{"registry.example.io":{"username":"robot","password":"` + secretPassword + `"}}}`

// layout is a fake node and image: From holds the image's binaries, Host the host directories.
type layout struct {
	From, BinDir, ConfigSrc, ConfigDir, SecretSrc, SecretDir string
}

func newLayout(t *testing.T) layout {
	t.Helper()
	root := t.TempDir()
	l := layout{
		From:      filepath.Join(root, "image", "bin"),
		BinDir:    filepath.Join(root, "host", "bin"),
		ConfigSrc: filepath.Join(root, "configmap"),
		ConfigDir: filepath.Join(root, "host"),
		SecretSrc: filepath.Join(root, "secret"),
		SecretDir: filepath.Join(root, "host", "pull-secret"),
	}
	for _, d := range []string{l.From, l.ConfigSrc, l.SecretSrc} {
		mkdir(t, d)
	}
	write(t, filepath.Join(l.From, "dockercfg-credential-provider"), "#!/bin/sh\necho dockercfg\n", 0o755)
	write(t, filepath.Join(l.From, "ecr-credential-provider"), "#!/bin/sh\necho ecr\n", 0o755)
	write(t, filepath.Join(l.From, "README"), "not a binary", 0o644)
	write(t, filepath.Join(l.From, ".hidden"), "#!/bin/sh\n", 0o755)
	write(t, filepath.Join(l.ConfigSrc, "config.yaml"), validConfig, 0o644)
	write(t, filepath.Join(l.SecretSrc, ".dockerconfigjson"), validSecret, 0o644)
	return l
}

func (l layout) options() Options {
	return Options{
		From:          l.From,
		BinDir:        l.BinDir,
		Configs:       []string{filepath.Join(l.ConfigSrc, "config.yaml")},
		ConfigDir:     l.ConfigDir,
		PullSecret:    l.SecretSrc,
		PullSecretDir: l.SecretDir,
	}
}

func TestInstall(t *testing.T) {
	l := newLayout(t)
	files, err := Install(context.Background(), l.options())
	if err != nil {
		t.Fatalf("Install() = %v", err)
	}
	want := []struct {
		path   string
		action Action
		mode   fs.FileMode
		from   string
	}{
		{filepath.Join(l.BinDir, "dockercfg-credential-provider"), Installed, 0o755, filepath.Join(l.From, "dockercfg-credential-provider")},
		{filepath.Join(l.BinDir, "ecr-credential-provider"), Installed, 0o755, filepath.Join(l.From, "ecr-credential-provider")},
		{filepath.Join(l.ConfigDir, "config.yaml"), Installed, 0o644, filepath.Join(l.ConfigSrc, "config.yaml")},
		{filepath.Join(l.SecretDir, ".dockerconfigjson"), Installed, 0o600, filepath.Join(l.SecretSrc, ".dockerconfigjson")},
	}
	if len(files) != len(want) {
		t.Fatalf("Install() reported %d files, want %d: %v", len(files), len(want), files)
	}
	for i, w := range want {
		if files[i].Path != w.path || files[i].Action != w.action || files[i].Mode != w.mode {
			t.Errorf("Install() file %d = %s, want %s %s mode %#o", i, files[i], w.action, w.path, w.mode)
		}
		info, err := os.Stat(w.path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != w.mode {
			t.Errorf("%s: mode %#o, want %#o", w.path, info.Mode().Perm(), w.mode)
		}
		if got, src := read(t, w.path), read(t, w.from); got != src {
			t.Errorf("%s: content differs from %s", w.path, w.from)
		}
	}
	if files[3].SHA256 != "" {
		t.Errorf("Install() reported the digest of the pull secret: %s", files[3])
	}
	if info := stat(t, l.SecretDir); info.Mode().Perm() != 0o700 {
		t.Errorf("pull secret dir: mode %#o, want 0700", info.Mode().Perm())
	}
	for _, name := range []string{"README", ".hidden"} {
		if _, err := os.Stat(filepath.Join(l.BinDir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was installed: only executable files not starting with '.' are binaries", name)
		}
	}
	assertNoTemp(t, l.BinDir, l.ConfigDir, l.SecretDir)
}

func TestInstallIsIdempotent(t *testing.T) {
	l := newLayout(t)
	if _, err := Install(context.Background(), l.options()); err != nil {
		t.Fatal(err)
	}
	before := map[string]fs.FileInfo{}
	for _, p := range installedPaths(l) {
		before[p] = stat(t, p)
	}
	files, err := Install(context.Background(), l.options())
	if err != nil {
		t.Fatalf("second Install() = %v", err)
	}
	for _, f := range files {
		if f.Action != Unchanged {
			t.Errorf("second Install(): %s, want unchanged", f)
		}
		after := stat(t, f.Path)
		if !os.SameFile(before[f.Path], after) || !after.ModTime().Equal(before[f.Path].ModTime()) {
			t.Errorf("second Install() replaced %s, which had not changed", f.Path)
		}
	}
}

func TestInstallReplaces(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, l layout) string // returns the target that must be installed again
	}{
		{name: "changed source", change: func(t *testing.T, l layout) string {
			write(t, filepath.Join(l.From, "ecr-credential-provider"), "#!/bin/sh\necho ecr v2\n", 0o755)
			return filepath.Join(l.BinDir, "ecr-credential-provider")
		}},
		{name: "target edited on the node", change: func(t *testing.T, l layout) string {
			write(t, filepath.Join(l.ConfigDir, "config.yaml"), "edited", 0o644)
			return filepath.Join(l.ConfigDir, "config.yaml")
		}},
		{name: "target mode drifted", change: func(t *testing.T, l layout) string {
			p := filepath.Join(l.BinDir, "dockercfg-credential-provider")
			if err := os.Chmod(p, 0o700); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{name: "pull secret dir opened to others", change: func(t *testing.T, l layout) string {
			if err := os.Chmod(l.SecretDir, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if info := stat(t, l.SecretDir); info.Mode().Perm() != 0o700 {
					t.Errorf("pull secret dir: mode %#o after Install, want 0700", info.Mode().Perm())
				}
			})
			return ""
		}},
		{name: "pull secret readable by others", change: func(t *testing.T, l layout) string {
			p := filepath.Join(l.SecretDir, ".dockerconfigjson")
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{name: "target is a symbolic link", change: func(t *testing.T, l layout) string {
			p := filepath.Join(l.BinDir, "ecr-credential-provider")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(l.From, "ecr-credential-provider"), p); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{name: "target removed", change: func(t *testing.T, l layout) string {
			p := filepath.Join(l.BinDir, "ecr-credential-provider")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(t)
			if _, err := Install(context.Background(), l.options()); err != nil {
				t.Fatal(err)
			}
			target := tt.change(t, l)
			files, err := Install(context.Background(), l.options())
			if err != nil {
				t.Fatalf("Install() = %v", err)
			}
			for _, f := range files {
				wantAction := Unchanged
				if f.Path == target {
					wantAction = Installed
				}
				if f.Action != wantAction {
					t.Errorf("Install(): %s, want %s", f, wantAction)
				}
				info, err := os.Lstat(f.Path)
				if err != nil {
					t.Fatal(err)
				}
				if !info.Mode().IsRegular() || info.Mode().Perm() != f.Mode {
					t.Errorf("%s: mode %v, want a regular file with %#o", f.Path, info.Mode(), f.Mode)
				}
			}
		})
	}
}

// TestInstallReplacesAtomically shows the rename: a process that had the old binary open (a
// plugin being exec'd) keeps reading the old content, and the path has the new content in full.
func TestInstallReplacesAtomically(t *testing.T) {
	l := newLayout(t)
	opts := l.options()
	if _, err := Install(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(l.BinDir, "ecr-credential-provider")
	old, err := os.Open(target)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	newContent := strings.Repeat("new binary ", 100000)
	write(t, filepath.Join(l.From, "ecr-credential-provider"), newContent, 0o755)
	if _, err := Install(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	oldContent, err := io.ReadAll(old)
	if err != nil {
		t.Fatal(err)
	}
	if string(oldContent) != "#!/bin/sh\necho ecr\n" {
		t.Errorf("the open file changed under its reader: the target was written in place")
	}
	if got := read(t, target); got != newContent {
		t.Errorf("%s: %d bytes, want the new %d", target, len(got), len(newContent))
	}
}

func TestInstallRemovesLeftoverTemporaryFiles(t *testing.T) {
	l := newLayout(t)
	mkdir(t, l.BinDir)
	stale := filepath.Join(l.BinDir, ".ecr-credential-provider"+tmpMarker+"12345")
	write(t, stale, "half a binary", 0o600)
	unrelated := filepath.Join(l.BinDir, ".other-file")
	write(t, unrelated, "keep me", 0o600)
	if _, err := Install(context.Background(), l.options()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Install() left %s", stale)
	}
	if _, err := os.Stat(unrelated); err != nil {
		t.Errorf("Install() removed %s, which is not its own: %v", unrelated, err)
	}
}

func TestInstallRefusesBadConfigs(t *testing.T) {
	tests := []struct {
		name    string
		configs map[string]string // file name → content
		wantIn  string            // in the error
	}{
		{
			name:    "unknown field",
			configs: map[string]string{"config.yaml": strings.Replace(validConfig, "matchImages", "matchImage", 1)},
			wantIn:  "matchImage",
		},
		{
			name:    "no defaultCacheDuration",
			configs: map[string]string{"config.yaml": strings.Replace(validConfig, "    defaultCacheDuration: 5m\n", "", 1)},
			wantIn:  "defaultCacheDuration",
		},
		{
			name:    "matchImages entry that does not parse",
			configs: map[string]string{"config.yaml": strings.Replace(validConfig, `["registry.example.io"]`, `["%zz"]`, 1)},
			wantIn:  "matchImages[0]",
		},
		{
			name:    "provider without a binary",
			configs: map[string]string{"config.yaml": strings.Replace(validConfig, "name: dockercfg-credential-provider", "name: acr-credential-provider", 1)},
			wantIn:  `"acr-credential-provider"`,
		},
		{
			name:    "the same provider in two files",
			configs: map[string]string{"10-a.yaml": validConfig, "20-b.yaml": validConfig},
			wantIn:  "Duplicate value",
		},
		{
			name:    "not a config",
			configs: map[string]string{"config.yaml": "apiVersion: v1\nkind: ConfigMap\n"},
			wantIn:  "kind",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(t)
			opts := l.options()
			opts.Configs = nil
			for name, content := range tt.configs {
				p := filepath.Join(l.ConfigSrc, name)
				write(t, p, content, 0o644)
				opts.Configs = append(opts.Configs, p)
			}
			files, err := Install(context.Background(), opts)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Install() = %v, want %v", err, ErrInvalidConfig)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("Install() = %q, want it to name %s", err, tt.wantIn)
			}
			if strings.Contains(err.Error(), "env-value-that-must-never-be-printed") {
				t.Errorf("Install() error quotes an env value: %q", err)
			}
			if len(files) > 0 {
				t.Errorf("Install() wrote %v before refusing the config", files)
			}
			if _, err := os.Stat(l.BinDir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Install() created %s before refusing the config", l.BinDir)
			}
		})
	}
}

func TestInstallAcceptsProviderAlreadyOnTheNode(t *testing.T) {
	l := newLayout(t)
	mkdir(t, l.BinDir)
	write(t, filepath.Join(l.BinDir, "acr-credential-provider"), "#!/bin/sh\n", 0o755)
	opts := l.options()
	p := filepath.Join(l.ConfigSrc, "config.yaml")
	write(t, p, validConfig+`  - name: acr-credential-provider
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    matchImages: ["*.azurecr.io"]
    defaultCacheDuration: 5m
`, 0o644)
	if _, err := Install(context.Background(), opts); err != nil {
		t.Fatalf("Install() = %v, want the node's own acr-credential-provider to satisfy the config", err)
	}
}

func TestInstallPullSecret(t *testing.T) {
	t.Run("malformed", func(t *testing.T) {
		l := newLayout(t)
		write(t, filepath.Join(l.SecretSrc, ".dockerconfigjson"), `{"auths": "`+secretPassword, 0o644)
		files, err := Install(context.Background(), l.options())
		if !errors.Is(err, ErrInvalidPullSecret) {
			t.Fatalf("Install() = %v, want %v", err, ErrInvalidPullSecret)
		}
		if strings.Contains(err.Error(), secretPassword) {
			t.Errorf("Install() error quotes the pull secret: %q", err)
		}
		if len(files) > 0 {
			t.Errorf("Install() wrote %v before refusing the pull secret", files)
		}
	})
	t.Run("key removed from the Secret", func(t *testing.T) {
		l := newLayout(t)
		if _, err := Install(context.Background(), l.options()); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(l.SecretSrc, ".dockerconfigjson")); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(l.SecretSrc, ".dockercfg"), `{"registry.example.io":{"auth":"cm9ib3Q6cGFzcw=="}}`, 0o644)
		files, err := Install(context.Background(), l.options())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]Action{}
		for _, f := range files {
			got[filepath.Base(f.Path)] = f.Action
		}
		want := map[string]Action{
			"dockercfg-credential-provider": Unchanged, "ecr-credential-provider": Unchanged, "config.yaml": Unchanged,
			".dockercfg": Installed, ".dockerconfigjson": Removed,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Install() actions (-want +got):\n%s", diff)
		}
		if _, err := os.Stat(filepath.Join(l.SecretDir, ".dockerconfigjson")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf(".dockerconfigjson is still on the node")
		}
	})
	t.Run("mounted Secret layout", func(t *testing.T) {
		// The kubelet mounts a Secret as symbolic links into a ..data directory.
		l := newLayout(t)
		if err := os.Remove(filepath.Join(l.SecretSrc, ".dockerconfigjson")); err != nil {
			t.Fatal(err)
		}
		ts := filepath.Join(l.SecretSrc, "..2025_01_01_00_00_00.000000001")
		mkdir(t, ts)
		write(t, filepath.Join(ts, ".dockerconfigjson"), validSecret, 0o644)
		if err := os.Symlink(filepath.Base(ts), filepath.Join(l.SecretSrc, "..data")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("..data/.dockerconfigjson", filepath.Join(l.SecretSrc, ".dockerconfigjson")); err != nil {
			t.Fatal(err)
		}
		if _, err := Install(context.Background(), l.options()); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(l.SecretDir, ".dockerconfigjson")
		if info, err := os.Lstat(p); err != nil {
			t.Fatal(err)
		} else if !info.Mode().IsRegular() || read(t, p) != validSecret {
			t.Errorf("%s: %v: want a regular file with the Secret's content", p, info.Mode())
		}
	})
}

func TestInstallRefusesBadOptions(t *testing.T) {
	l := newLayout(t)
	tests := []struct {
		name   string
		modify func(*Options)
		want   error
	}{
		{name: "no bin dir", modify: func(o *Options) { o.BinDir = "" }, want: ErrUsage},
		{name: "no from", modify: func(o *Options) { o.From = "" }, want: ErrUsage},
		{name: "configs without config dir", modify: func(o *Options) { o.ConfigDir = "" }, want: ErrUsage},
		{name: "config dir without configs", modify: func(o *Options) { o.Configs = nil }, want: ErrUsage},
		{name: "pull secret without its dir", modify: func(o *Options) { o.PullSecretDir = "" }, want: ErrUsage},
		{name: "pull secret dir without a secret", modify: func(o *Options) { o.PullSecret = "" }, want: ErrUsage},
		{name: "binary name with a slash", modify: func(o *Options) { o.Binaries = []string{"../etc/passwd"} }, want: ErrUsage},
		{name: "two configs with one base name", modify: func(o *Options) { o.Configs = []string{"/a/config.yaml", "/b/config.yaml"} }, want: ErrUsage},
		{name: "config mode with a type", modify: func(o *Options) { o.ConfigMode = fs.ModeDir | 0o644 }, want: ErrUsage},
		{name: "unknown binary", modify: func(o *Options) { o.Binaries = []string{"nope"} }, want: fs.ErrNotExist},
		{name: "no executable in from", modify: func(o *Options) { o.From = l.ConfigSrc }, want: ErrNoBinaries},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := l.options()
			tt.modify(&opts)
			if _, err := Install(context.Background(), opts); !errors.Is(err, tt.want) {
				t.Errorf("Install(%+v) = %v, want %v", opts, err, tt.want)
			}
		})
	}
}

func TestInstallSelectedBinaries(t *testing.T) {
	l := newLayout(t)
	opts := l.options()
	opts.Binaries = []string{"dockercfg-credential-provider"}
	if _, err := Install(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(l.BinDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"dockercfg-credential-provider"}, names); diff != "" {
		t.Errorf("bin dir (-want +got):\n%s", diff)
	}
}

// TestInstallRemovesTwoFileLeftovers: releases that shipped each plugin as a front and a
// <name>-full left the -full files in the bin dir and saved answers in the cache directory's
// answers/; installing one file per plugin removes them and reports each removal, and leaves
// everything else alone.
func TestInstallRemovesTwoFileLeftovers(t *testing.T) {
	tests := []struct {
		name        string
		binDir      []string // files in the bin dir before the install
		cacheDir    bool     // give the installer the cache directory
		wantRemoved []string // relative to the layout's root, in order
		wantKept    []string
	}{
		{name: "the -full of an installed plugin", binDir: []string{"ecr-credential-provider", "ecr-credential-provider-full"}, cacheDir: true,
			wantRemoved: []string{"host/bin/ecr-credential-provider-full", "cache/answers"}},
		{name: "the -full of a plugin not installed is left alone", binDir: []string{"gcr-credential-provider", "gcr-credential-provider-full"},
			wantKept: []string{"host/bin/gcr-credential-provider-full", "cache/answers"}},
		{name: "no cache directory given: answers left alone", binDir: []string{"dockercfg-credential-provider-full"},
			wantRemoved: []string{"host/bin/dockercfg-credential-provider-full"}, wantKept: []string{"cache/answers/x"}},
		{name: "nothing left over", cacheDir: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(t)
			root := filepath.Dir(filepath.Dir(l.BinDir))
			mkdir(t, l.BinDir)
			for _, f := range tt.binDir {
				write(t, filepath.Join(l.BinDir, f), "#!/bin/sh\necho old\n", 0o755)
			}
			mkdir(t, filepath.Join(root, "cache", "answers"))
			write(t, filepath.Join(root, "cache", "answers", "x"), "an old answer", 0o600)
			opts := l.options()
			opts.Configs, opts.ConfigDir, opts.PullSecret, opts.PullSecretDir = nil, "", "", ""
			if tt.cacheDir {
				opts.CacheDir = filepath.Join(root, "cache")
			}
			files, err := Install(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			var removed []string
			for _, f := range files {
				if f.Action == Removed {
					rel, _ := filepath.Rel(root, f.Path)
					removed = append(removed, rel)
				}
			}
			if diff := cmp.Diff(tt.wantRemoved, removed); diff != "" {
				t.Errorf("removed (-want +got):\n%s", diff)
			}
			for _, rel := range tt.wantRemoved {
				if _, err := os.Lstat(filepath.Join(root, rel)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s still there after the install (%v)", rel, err)
				}
			}
			for _, rel := range tt.wantKept {
				if _, err := os.Lstat(filepath.Join(root, rel)); err != nil {
					t.Errorf("%s: %v, want it kept", rel, err)
				}
			}
		})
	}
}

func TestMainCommandLine(t *testing.T) {
	l := newLayout(t)
	base := []string{"--from=" + l.From, "--bin-dir=" + l.BinDir}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{name: "help", args: []string{"--help"}, wantCode: ExitOK, wantStdout: "Usage: pullkeys-installer"},
		{name: "version", args: []string{"--version"}, wantCode: ExitOK, wantStdout: "pullkeys-installer "},
		{name: "no bin dir", args: []string{"--from=" + l.From}, wantCode: ExitUsage, wantStderr: "bin dir is required"},
		{name: "unknown flag", args: append(base, "--bin=x"), wantCode: ExitUsage, wantStderr: "flag provided but not defined"},
		{name: "argument", args: append(base, "extra"), wantCode: ExitUsage, wantStderr: `unexpected argument "extra"`},
		{name: "bad config mode", args: append(base, "--config-mode=rw"), wantCode: ExitUsage, wantStderr: "octal permission"},
		{name: "resync without wait", args: append(base, "--resync=1m"), wantCode: ExitUsage, wantStderr: "--resync needs --wait"},
		{name: "install", args: append(base, "--config="+filepath.Join(l.ConfigSrc, "config.yaml"), "--config-dir="+l.ConfigDir, "--config-mode=0600"), wantCode: ExitOK, wantStdout: "installed " + filepath.Join(l.ConfigDir, "config.yaml") + " ("},
		{name: "install again", args: append(base, "--binaries=ecr-credential-provider"), wantCode: ExitOK, wantStdout: "unchanged " + filepath.Join(l.BinDir, "ecr-credential-provider")},
		{name: "Secret without keys", args: append(base, "--pull-secret="+l.ConfigSrc, "--pull-secret-dir="+l.SecretDir), wantCode: ExitOK},
		{name: "missing pull secret dir", args: append(base, "--pull-secret=/does/not/exist", "--pull-secret-dir="+l.SecretDir), wantCode: ExitError, wantStderr: "pull secret refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("Main(%q) = %d, want %d; stderr: %s", tt.args, code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("Main(%q) stdout = %q, want %q in it", tt.args, stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("Main(%q) stderr = %q, want %q in it", tt.args, stderr.String(), tt.wantStderr)
			}
			if tt.wantCode != ExitOK && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("Main(%q) stderr = %q, want one line", tt.args, stderr.String())
			}
		})
	}
	if info := stat(t, filepath.Join(l.ConfigDir, "config.yaml")); info.Mode().Perm() != 0o600 {
		t.Errorf("--config-mode=0600 installed the config with mode %#o", info.Mode().Perm())
	}
}

// TestMainWaitResync drives --wait --resync with a hand-made tick channel, and waits for the
// end of each pass on the afterPass hook.
func TestMainWaitResync(t *testing.T) {
	l := newLayout(t)
	args := []string{"--from=" + l.From, "--bin-dir=" + l.BinDir,
		"--config=" + filepath.Join(l.ConfigSrc, "config.yaml"), "--config-dir=" + l.ConfigDir,
		"--pull-secret=" + l.SecretSrc, "--pull-secret-dir=" + l.SecretDir, "--wait", "--resync=1h"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ticks := make(chan time.Time)
	passed := make(chan struct{})
	var stdout, stderr bytes.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, args, &stdout, &stderr, ticks, func() { passed <- struct{}{} }) }()
	pass := func() {
		t.Helper()
		ticks <- time.Time{}
		select {
		case <-passed:
		case code := <-done:
			t.Fatalf("run() = %d during a resync pass; stderr: %s", code, stderr.String())
		}
	}

	<-passed // the first install
	pass()   // nothing changed
	updated := strings.Replace(validConfig, "defaultCacheDuration: 5m", "defaultCacheDuration: 10m", 1)
	write(t, filepath.Join(l.ConfigSrc, "config.yaml"), updated, 0o644)
	pass()
	if got := read(t, filepath.Join(l.ConfigDir, "config.yaml")); got != updated {
		t.Errorf("resync did not install the updated config")
	}

	// A config that breaks later is not installed, and the command exits with an error so that
	// the pod restarts and the failure shows.
	write(t, filepath.Join(l.ConfigSrc, "config.yaml"), "kind: nonsense", 0o644)
	ticks <- time.Time{}
	if code := <-done; code != ExitError {
		t.Fatalf("run() = %d after a bad config, want %d", code, ExitError)
	}
	if got := read(t, filepath.Join(l.ConfigDir, "config.yaml")); got != updated {
		t.Errorf("a refused config replaced the installed one")
	}
	out := stdout.String()
	if n := strings.Count(out, "installed "+filepath.Join(l.ConfigDir, "config.yaml")); n != 2 {
		t.Errorf("stdout reports the config installed %d times, want 2:\n%s", n, out)
	}
	if strings.Count(out, "unchanged") != 0 {
		t.Errorf("stdout repeats unchanged files on resync:\n%s", out)
	}
	if !strings.Contains(stderr.String(), "credential provider config refused") {
		t.Errorf("stderr = %q, want the refusal", stderr.String())
	}
	if strings.Contains(out+stderr.String(), secretPassword) || strings.Contains(out+stderr.String(), "env-value-that-must-never-be-printed") {
		t.Errorf("output holds a secret:\n%s\n%s", out, stderr.String())
	}
}

func TestMainWaitStopsOnCancel(t *testing.T) {
	l := newLayout(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr bytes.Buffer
	installed := make(chan struct{})
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"--from=" + l.From, "--bin-dir=" + l.BinDir, "--wait"}, &stdout, &stderr, nil, func() { close(installed) })
	}()
	select {
	case <-installed:
	case code := <-done:
		t.Fatalf("Main(--wait) = %d before waiting; stderr: %s", code, stderr.String())
	}
	cancel()
	if code := <-done; code != ExitOK {
		t.Fatalf("Main(--wait) after termination = %d, want %d; stderr: %s", code, ExitOK, stderr.String())
	}
}

func installedPaths(l layout) []string {
	return []string{
		filepath.Join(l.BinDir, "dockercfg-credential-provider"),
		filepath.Join(l.BinDir, "ecr-credential-provider"),
		filepath.Join(l.ConfigDir, "config.yaml"),
		filepath.Join(l.SecretDir, ".dockerconfigjson"),
	}
}

func assertNoTemp(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.Contains(e.Name(), tmpMarker) {
				t.Errorf("temporary file %s left in %s", e.Name(), d)
			}
		}
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func stat(t *testing.T, path string) fs.FileInfo {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info
}
