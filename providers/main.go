package providers

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/pullkeys/pullkeys/internal/cmdline"
)

// Build information, stamped by the release build with
// -ldflags "-X github.com/pullkeys/pullkeys/providers.version=… -X …providers.commit=…".
var (
	version = "dev"
	commit  = ""
)

// Version returns the build's version and commit ("dev" and the VCS revision when unstamped).
func Version() (ver, rev string) {
	rev = commit
	if rev == "" {
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" {
					rev = s.Value
				}
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	return version, rev
}

// Plugin describes a credential provider binary for Main.
type Plugin struct {
	// Name is the binary's name, used in usage and error lines.
	Name string
	// Usage is a short description printed by --help.
	Usage string
	// Flags registers the provider's own flags. The kubelet passes them through the args of
	// the provider's entry in the CredentialProviderConfig. May be nil.
	Flags func(fs *flag.FlagSet)
	// Args takes the positional arguments, which a peer's kubelet config may pass (GKE's
	// `get-credentials`, the Azure plugin's cloud config path), before New; it returns an error
	// for those it refuses and may warn on log. Nil refuses every positional argument: the
	// request is read from stdin.
	Args func(args []string, log *slog.Logger) error
	// Ignored are flags accepted only so that an existing kubelet config entry (a peer's, or an
	// earlier pullkeys') keeps working where they mean nothing here: each one given earns a
	// one-line warning on stderr, never a failure.
	Ignored []IgnoredFlag
	// New builds the provider once flags are parsed. It should do no I/O that a cached answer
	// could make unnecessary: every pull waits on the plugin's start-up.
	New func(ctx context.Context, log *slog.Logger) (Provider, error)
}

// IgnoredFlag is a flag a plugin accepts and ignores, with the reason it means nothing here.
type IgnoredFlag struct {
	Name string
	// Bool is set for a flag that takes no value (--flag, --flag=true).
	Bool bool
	Why  string
}

// Main runs the plugin as a kubelet exec plugin and exits.
func Main(p Plugin) {
	os.Exit(Execute(context.Background(), p, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Execute is Main without the exit, for tests: it returns the exit status. Every binary
// shares its flags: --help, --version, -v (verbosity, logs on stderr) and --timeout, parsed
// by the one front-end of every pullkeys binary (internal/cmdline), flags and positional
// arguments in any order. Failures print one line, "<name>: <reason>", on stderr and nothing
// on stdout.
func Execute(ctx context.Context, p Plugin, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := cmdline.NewFlagSet(p.Name)
	verbosity := fs.Int("v", 0, "log verbosity on stderr (0: warnings and errors only; 4: protocol details; secrets are never logged)")
	timeout := fs.Duration("timeout", DefaultTimeout, "give up and fail after this long (the kubelet kills a plugin after 1m)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if p.Flags != nil {
		p.Flags(fs)
	}
	var ignored []IgnoredFlag
	for _, f := range p.Ignored {
		note := func(string) error { ignored = append(ignored, f); return nil }
		usage := "ignored: " + f.Why
		if f.Bool {
			fs.BoolFunc(f.Name, usage, note)
		} else {
			fs.Func(f.Name, usage, note)
		}
	}
	fail := func(err error) int {
		cmdline.Fail(stderr, p.Name, err)
		return 1
	}
	positional, err := cmdline.Parse(fs, args, stdout, func(w io.Writer) { usage(w, p, fs) })
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return fail(fmt.Errorf("%w (see --help)", err))
	}
	if *showVersion {
		ver, rev := Version()
		fmt.Fprintf(stdout, "%s %s (commit %s)\n", p.Name, ver, rev)
		return 0
	}
	if len(positional) > 0 && p.Args == nil {
		return fail(fmt.Errorf("unexpected argument %q: the request is read from stdin (see --help)", positional[0]))
	}
	if *timeout <= 0 {
		return fail(fmt.Errorf("--timeout must be positive, got %s", *timeout))
	}

	log := NewLogger(stderr, *verbosity)
	for _, f := range ignored {
		log.Warn("flag --"+f.Name+" ignored: "+f.Why, "flag", f.Name)
	}
	if len(positional) > 0 {
		if err := p.Args(positional, log); err != nil {
			return fail(err)
		}
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(WithLogger(ctx, log), *timeout)
	defer cancel()

	prov, err := p.New(ctx, log)
	if err != nil {
		return fail(err)
	}
	if err := Run(ctx, stdin, stdout, prov); err != nil {
		if errors.Is(err, context.Canceled) {
			err = fmt.Errorf("terminated by signal: %w", err)
		}
		return fail(err)
	}
	return 0
}

func usage(w io.Writer, p Plugin, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s [flags] < request.json\n\n", p.Name)
	if p.Usage != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(p.Usage))
	}
	fmt.Fprintf(w, "A kubelet image credential provider plugin: it reads a CredentialProviderRequest\n"+
		"(credentialprovider.kubelet.k8s.io v1, v1beta1 or v1alpha1) on stdin and writes the\n"+
		"CredentialProviderResponse on stdout. Try:\n\n"+
		"  echo '{\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1\",\"kind\":\"CredentialProviderRequest\",\"image\":\"example.io/app\"}' | %s\n\nFlags:\n", p.Name)
	cmdline.PrintDefaults(w, fs)
}

// OneLine folds a message onto one line, for the kubelet's log.
func OneLine(s string) string { return cmdline.OneLine(s) }
