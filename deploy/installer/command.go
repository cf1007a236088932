package installer

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/pullkeys/pullkeys/internal/cmdline"
	"github.com/pullkeys/pullkeys/providers"
)

// Name is the command's name.
const Name = "pullkeys-installer"

// DefaultFrom is where the image keeps the binaries.
const DefaultFrom = "/pullkeys/bin"

// Exit statuses of Main.
const (
	ExitOK    = 0
	ExitError = 1 // nothing or only part was installed
	ExitUsage = 2 // bad command line
)

const usageText = `Usage: pullkeys-installer --bin-dir=DIR [--config=FILE... --config-dir=DIR]
                          [--pull-secret=DIR --pull-secret-dir=DIR] [--wait [--resync=D]]

Copies the pullkeys binaries into the kubelet's --image-credential-provider-bin-dir, and
CredentialProviderConfig files and a mounted docker-registry pull secret into host directories,
each atomically (temporary file, sync, rename) and only when it changed. Every config is checked
with the kubelet's rules, and every provider it names must have its binary, before anything is
written: the kubelet refuses to start otherwise. It does not change the kubelet's flags or
restart it (see docs/install.md).

Each file is reported on stdout as "installed", "unchanged" or "removed"; errors go to stderr.
Exit status: 0 done, 1 failed (nothing, or only the binaries, installed), 2 bad command line.

Flags:
`

// Main is the pullkeys-installer command: it parses args, installs, and with --wait stays
// running until ctx is done, installing again every --resync. It returns the exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, stdout, stderr, nil, nil)
}

// modeFlag is an octal file mode flag.
type modeFlag fs.FileMode

func (m *modeFlag) String() string { return fmt.Sprintf("%#o", fs.FileMode(*m)) }
func (m *modeFlag) Set(v string) error {
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil || n > 0o777 {
		return fmt.Errorf("%q is not an octal permission such as 0644", v)
	}
	*m = modeFlag(n)
	return nil
}

// run is Main with the resync ticks injectable (nil: a ticker of --resync) and a hook called,
// with --wait, after the first install and each resync pass that succeeded (for tests; may be
// nil).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ticks <-chan time.Time, afterPass func()) int {
	var (
		opts        Options
		binaries    string
		configs     cmdline.StringList
		configMode  = modeFlag(DefaultConfigMode)
		wait        bool
		resync      time.Duration
		verbosity   int
		showVersion bool
	)
	fs := cmdline.NewFlagSet(Name)
	fs.StringVar(&opts.From, "from", DefaultFrom, "directory holding the binaries to install")
	fs.StringVar(&binaries, "binaries", "", "comma-separated names of the binaries to install (default: every executable file in --from)")
	fs.StringVar(&opts.CacheDir, "cache-dir", "", "the plugins' cache directory, as mounted: the answers directory an earlier pullkeys kept there is removed")
	fs.StringVar(&opts.BinDir, "bin-dir", "", "the kubelet's --image-credential-provider-bin-dir, as mounted (required)")
	fs.Var(&configs, "config", "a CredentialProviderConfig file to install into --config-dir under its base name (repeatable)")
	fs.StringVar(&opts.ConfigDir, "config-dir", "", "directory that receives --config files")
	fs.Var(&configMode, "config-mode", "permissions of the installed configs (0600 when their env holds secrets)")
	fs.StringVar(&opts.PullSecret, "pull-secret", "", "directory of a mounted kubernetes.io/dockerconfigjson or dockercfg Secret; its .dockerconfigjson and .dockercfg are synced into --pull-secret-dir")
	fs.StringVar(&opts.PullSecretDir, "pull-secret-dir", "", "directory that receives the pull secret's files, mode 0600 (point dockercfg-credential-provider --config at it)")
	fs.BoolVar(&wait, "wait", false, "after installing, keep running until terminated (the main container of a DaemonSet)")
	fs.DurationVar(&resync, "resync", 0, "with --wait, install again this often, so that an updated ConfigMap or Secret reaches the node (0: never)")
	fs.IntVar(&verbosity, "v", 0, "log verbosity on stderr (1: every decision)")
	fs.BoolVar(&showVersion, "version", false, "print the version and exit")

	fail := func(code int, err error) int {
		cmdline.Fail(stderr, Name, err)
		return code
	}
	pos, err := cmdline.Parse(fs, args, stdout, func(w io.Writer) {
		fmt.Fprint(w, usageText)
		cmdline.PrintDefaults(w, fs)
	})
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return fail(ExitUsage, fmt.Errorf("%w (see --help)", err))
	}
	if showVersion {
		ver, rev := providers.Version()
		fmt.Fprintf(stdout, "%s %s (commit %s)\n", Name, ver, rev)
		return ExitOK
	}
	if len(pos) > 0 {
		return fail(ExitUsage, fmt.Errorf("unexpected argument %q (see --help)", pos[0]))
	}
	if resync < 0 || (resync > 0 && !wait) {
		return fail(ExitUsage, errors.New("--resync needs --wait and a positive duration"))
	}
	if binaries != "" {
		opts.Binaries = strings.Split(binaries, ",")
	}
	opts.Configs = configs
	opts.ConfigMode = fs2mode(configMode)
	opts.Logger = providers.NewLogger(stderr, verbosity)
	if err := opts.check(); err != nil {
		return fail(ExitUsage, fmt.Errorf("%w (see --help)", err))
	}

	files, err := Install(ctx, opts)
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	if err != nil {
		return fail(ExitError, err)
	}
	if !wait {
		return ExitOK
	}
	if afterPass != nil {
		afterPass()
	}

	if ticks == nil && resync > 0 {
		t := time.NewTicker(resync)
		defer t.Stop()
		ticks = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ExitOK
		case <-ticks:
			files, err := Install(ctx, opts)
			if ctx.Err() != nil {
				return ExitOK
			}
			for _, f := range files {
				if f.Action != Unchanged {
					fmt.Fprintln(stdout, f)
				}
			}
			if err != nil {
				// Exit, so that the pod restarts and the failure shows; what is installed stays.
				return fail(ExitError, err)
			}
			if afterPass != nil {
				afterPass()
			}
		}
	}
}

func fs2mode(m modeFlag) fs.FileMode { return fs.FileMode(m) }
