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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pullkeys/pullkeys/providers/replay"
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
	// New builds the provider once flags are parsed. It should do no I/O that a cached answer
	// could make unnecessary: every pull waits on the plugin's start-up.
	New func(ctx context.Context, log *slog.Logger) (Provider, error)
}

// Main runs the plugin as a kubelet exec plugin and exits.
func Main(p Plugin) {
	os.Exit(Execute(context.Background(), p, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Execute is Main without the exit, for tests: it returns the exit status. Every binary
// shares its flags: --help, --version, -v (verbosity, logs on stderr) and --timeout.
// Failures print one line, "<name>: <reason>", on stderr and nothing on stdout.
func Execute(ctx context.Context, p Plugin, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	verbosity := fs.Int("v", 0, "log verbosity on stderr (0: warnings and errors only; 4: protocol details; secrets are never logged)")
	timeout := fs.Duration("timeout", DefaultTimeout, "give up and fail after this long (the kubelet kills a plugin after 1m)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if p.Flags != nil {
		p.Flags(fs)
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "%s: %s\n", p.Name, OneLine(err.Error()))
		return 1
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, p, fs)
			return 0
		}
		return fail(fmt.Errorf("%w (see --help)", err))
	}
	if *showVersion {
		ver, rev := Version()
		fmt.Fprintf(stdout, "%s %s (commit %s)\n", p.Name, ver, rev)
		return 0
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected argument %q: the request is read from stdin (see --help)", fs.Arg(0)))
	}
	if *timeout <= 0 {
		return fail(fmt.Errorf("--timeout must be positive, got %s", *timeout))
	}

	logOut := &countingWriter{w: stderr}
	log := NewLogger(logOut, *verbosity)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(WithLogger(ctx, log), *timeout)
	defer cancel()

	prov, err := p.New(ctx, log)
	if err != nil {
		return fail(err)
	}
	data, err := readRequest(stdin)
	if err != nil {
		return fail(err)
	}
	ctx = replay.WithRecorder(ctx)
	a, err := answer(ctx, data, stdout, prov)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			err = fmt.Errorf("terminated by signal: %w", err)
		}
		return fail(err)
	}
	// Keep the answer for the front binary to replay (providers/replay), unless it was asked
	// for logs or wrote any (a warning), which a replay would not repeat, or the request
	// carries a service account token, which is new on every request.
	if *verbosity == 0 && logOut.n.Load() == 0 && a.req.ServiceAccountToken == "" &&
		len(a.req.ServiceAccountAnnotations) == 0 {
		d := time.Duration(-1)
		if a.resp.CacheDuration != nil {
			d = a.resp.CacheDuration.Duration
		}
		if err := replay.Save(ctx, args, data, a.out, d); err != nil {
			log.Log(ctx, V(1), "answer not saved for replay", "err", err)
		}
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
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.w.Write(p)
}

// OneLine folds a message onto one line, for the kubelet's log.
func OneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
