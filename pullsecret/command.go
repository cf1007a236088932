package pullsecret

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pullkeys/pullkeys/dockercfg"
	"github.com/pullkeys/pullkeys/internal/cmdline"
	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
)

// Exit statuses of Command.
const (
	ExitOK       = 0 // done; for check: a valid pull secret
	ExitProblems = 1 // the command failed; for check: the Secret has errors
	ExitUsage    = 2 // bad command line
)

// errUsage marks command-line errors, which exit with ExitUsage.
var errUsage = cmdline.ErrUsage

// Command runs the "pullkeys secret" command tree (args without "secret") and returns the
// exit status: ExitOK, ExitProblems or ExitUsage. The Secret goes to stdout, and nothing else
// does; errors, warnings and -v diagnostics go to stderr and never hold a secret.
//
//	pullkeys secret create NAME --docker-server S --docker-username U --docker-password P [--docker-email E]
//	pullkeys secret create NAME --from-docker-config FILE [--image IMAGE]...
//	pullkeys secret create NAME --from-provider BINARY IMAGE... [--provider-arg A]... [--provider-env N=V]...
//	pullkeys secret check FILE|- [--image IMAGE]... [--show-secrets] [-o text|json]
func Command(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return ExitUsage
	}
	var err error
	name := "pullkeys secret " + args[0]
	switch sub, rest := args[0], args[1:]; sub {
	case "create":
		err = create(ctx, rest, stdin, stdout, stderr)
	case "check":
		var ok bool
		ok, err = check(rest, stdin, stdout)
		if err == nil && !ok {
			return ExitProblems
		}
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && (rest[0] == "create" || rest[0] == "check") {
			return Command(ctx, []string{rest[0], "--help"}, stdin, stdout, stderr)
		}
		usage(stdout)
		return ExitOK
	default:
		name = "pullkeys secret"
		err = fmt.Errorf("%w: unknown command %q (want create or check; see pullkeys secret help)", errUsage, sub)
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, errUsage):
		cmdline.Fail(stderr, name, err)
		return ExitUsage
	}
	cmdline.Fail(stderr, name, err)
	return ExitProblems
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: pullkeys secret COMMAND [flags]

Make and check Kubernetes image pull secrets (type kubernetes.io/dockerconfigjson).

Commands:
  create NAME --docker-server S --docker-username U --docker-password P [--docker-email E]
                      the Secret kubectl create secret docker-registry makes, on stdout
  create NAME --from-docker-config FILE [--image IMAGE]...
                      a Secret with the credentials of a docker config (credential helpers asked)
  create NAME --from-provider BINARY IMAGE...
                      run a kubelet credential provider as the kubelet does and pack its
                      answer for the images into a Secret (e.g. to refresh an ECR pull secret)
  check FILE|-        explain what is wrong with a Secret (YAML or JSON), or list its
                      registries and which images each serves under the kubelet's rules

Exit status: 0 done (check: a valid pull secret), 1 failed (check: errors found), 2 bad usage.
Run "pullkeys secret create --help" or "pullkeys secret check --help" for the flags.
`)
}

// stringList is a repeatable flag.
type stringList = cmdline.StringList

// newFlagSet returns a flag set whose errors and help are handled by parseFlags.
func newFlagSet(name string) *flag.FlagSet { return cmdline.NewFlagSet(name) }

// parseFlags parses flags anywhere among the positional arguments (NAME first, flags after, as
// kubectl takes them; "--" ends the flags), printing help to stdout for --help.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, synopsis string) ([]string, error) {
	pos, err := cmdline.Parse(fs, args, stdout, func(w io.Writer) {
		fmt.Fprintf(w, "%s\nFlags:\n", strings.TrimSpace(synopsis)+"\n")
		cmdline.PrintDefaults(w, fs)
	})
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return nil, fmt.Errorf("%w (see --help)", err)
	}
	return pos, err
}

const createSynopsis = `
Usage:
  pullkeys secret create NAME --docker-server S --docker-username U --docker-password P [--docker-email E]
  pullkeys secret create NAME --from-docker-config FILE|DIR|- [--image IMAGE]...
  pullkeys secret create NAME --from-provider BINARY IMAGE... [--provider-arg ARG]... [--provider-env NAME=VALUE]...

Writes a kubernetes.io/dockerconfigjson Secret on stdout, as YAML (or -o json) byte for byte as
"kubectl create secret docker-registry --dry-run=client" prints it, ready for kubectl apply -f -.

--from-provider runs a kubelet image credential provider plugin as the kubelet does (the request
in --api-version on stdin, the answer decoded strictly) and packs the credentials of its answer
that the kubelet would use for each IMAGE. A key with a wildcard host is written as the image's
registry host. No matching credentials is an error.
`

// create runs "pullkeys secret create".
func create(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("pullkeys secret create")
	var (
		server, username, password, email string
		passwordStdin, noHelpers          bool
		fromConfig, fromProvider          string
		images, providerArgs, providerEnv stringList
		apiVersion, namespace, output     string
		timeout                           time.Duration
		verbosity                         int
	)
	fs.StringVar(&server, "docker-server", DefaultServer, "registry key of the entry (kubectl's default: Docker Hub)")
	fs.StringVar(&username, "docker-username", "", "user name for the registry")
	fs.StringVar(&password, "docker-password", "", "password for the registry (visible in the process list and shell history: prefer --docker-password-stdin)")
	fs.BoolVar(&passwordStdin, "docker-password-stdin", false, "read the password from stdin (one trailing line break removed)")
	fs.StringVar(&email, "docker-email", "", "email for the registry (optional, unused by the kubelet)")
	fs.StringVar(&fromConfig, "from-docker-config", "", "docker config file (config.json, .dockercfg), directory of them, or - for stdin")
	fs.BoolVar(&noHelpers, "no-credential-helpers", false, "with --from-docker-config: pass over registries served by credsStore or credHelpers instead of running the helper")
	fs.StringVar(&fromProvider, "from-provider", "", "kubelet image credential provider plugin to run (a path, or a name in $PATH); images follow NAME")
	fs.Var(&images, "image", "image the credentials are for (repeatable): with --from-docker-config, keep only the entries the kubelet would use for these images; with --from-provider, same as a positional IMAGE")
	fs.Var(&providerArgs, "provider-arg", "argument for the plugin, as in the kubelet config's args (repeatable)")
	fs.Var(&providerEnv, "provider-env", "NAME=VALUE for the plugin's environment, as in the kubelet config's env (repeatable)")
	fs.StringVar(&apiVersion, "api-version", "v1", "apiVersion of the request to the plugin: v1, v1beta1 or v1alpha1 (the provider's apiVersion in the kubelet config)")
	fs.DurationVar(&timeout, "timeout", kubelet.DefaultTimeout, "kill the plugin after this long (the kubelet's limit is 1m)")
	fs.StringVar(&namespace, "namespace", "", "namespace of the Secret (left out when empty, as kubectl does without -n)")
	fs.StringVar(&namespace, "n", "", "shorthand for --namespace")
	fs.StringVar(&output, "output", FormatYAML, "output format: yaml or json")
	fs.StringVar(&output, "o", FormatYAML, "shorthand for --output")
	fs.IntVar(&verbosity, "v", 0, "log verbosity on stderr (1: what the provider answered; never secrets)")
	pos, err := parseFlags(fs, args, stdout, createSynopsis)
	if err != nil {
		return err
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	usagef := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s (see --help)", errUsage, fmt.Sprintf(format, a...))
	}

	if len(pos) == 0 {
		return usagef("no NAME given")
	}
	name, rest := pos[0], pos[1:]
	if err := ValidateName(name, namespace); err != nil {
		return usagef("%s", err)
	}
	if output != FormatYAML && output != FormatJSON {
		return usagef("--output %q: want yaml or json", output)
	}
	byFlags := set["docker-username"] || set["docker-password"] || set["docker-password-stdin"] || set["docker-email"]
	sources := 0
	for _, b := range []bool{byFlags, fromConfig != "", fromProvider != ""} {
		if b {
			sources++
		}
	}
	switch {
	case sources == 0:
		return usagef("give --docker-username and --docker-password (with --docker-server), --from-docker-config FILE, or --from-provider BINARY IMAGE")
	case sources > 1:
		return usagef("give only one of --docker-username/--docker-password, --from-docker-config and --from-provider")
	case set["docker-server"] && !byFlags:
		return usagef("--docker-server goes with --docker-username and --docker-password")
	case fromProvider == "" && (set["provider-arg"] || set["provider-env"] || set["api-version"] || set["timeout"]):
		return usagef("--provider-arg, --provider-env, --api-version and --timeout go with --from-provider")
	case fromConfig == "" && set["no-credential-helpers"]:
		return usagef("--no-credential-helpers goes with --from-docker-config")
	case byFlags && len(images) > 0:
		return usagef("--image goes with --from-docker-config or --from-provider")
	case fromProvider == "" && len(rest) > 0:
		return usagef("unexpected argument %q: only --from-provider takes images after NAME", rest[0])
	case fromProvider != "" && len(rest)+len(images) == 0:
		return usagef("--from-provider needs an IMAGE after NAME: the image the credentials are for")
	}

	log := providers.NewLogger(stderr, verbosity)
	var auths []Auth
	switch {
	case byFlags:
		if passwordStdin {
			if set["docker-password"] {
				return usagef("give --docker-password or --docker-password-stdin, not both")
			}
			if password, err = readPassword(stdin); err != nil {
				return err
			}
		}
		if username == "" || password == "" || server == "" {
			return usagef("--docker-username, --docker-password and --docker-server must not be empty")
		}
		if err := ValidateServer(server); err != nil {
			return usagef("%s", err)
		}
		auths = []Auth{{Server: server, Username: username, Password: password, Email: email}}
	case fromConfig != "":
		configs, err := loadDockerConfig(fromConfig, stdin)
		if err != nil {
			return err
		}
		opts := DockerConfigOptions{Images: images, Logger: log}
		if !noHelpers {
			opts.Helper = &dockercfg.ExecHelper{Logger: log}
		}
		if auths, err = FromDockerConfig(ctx, configs, opts); err != nil {
			return err
		}
	default:
		if _, err := ParseAPIVersion(apiVersion); err != nil {
			return usagef("%s", err)
		}
		if timeout <= 0 {
			return usagef("--timeout must be positive")
		}
		opts := ProviderOptions{
			Binary: fromProvider, Args: providerArgs, Env: providerEnv,
			APIVersion: apiVersion, Timeout: timeout, Logger: log,
		}
		if auths, err = FromProvider(ctx, append(rest, images...), opts); err != nil {
			return err
		}
	}
	out, err := Create(name, namespace, auths, output)
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}

// readPassword reads a password from r as docker login --password-stdin does: all of it, less
// one trailing line break.
func readPassword(r io.Reader) (string, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	s := strings.TrimSuffix(string(data), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

// loadDockerConfig reads --from-docker-config: a file or directory (dockercfg.LoadPath), or
// stdin for "-".
func loadDockerConfig(path string, stdin io.Reader) ([]*dockercfg.Config, error) {
	if path != "-" {
		return dockercfg.LoadPath(path)
	}
	data, err := io.ReadAll(io.LimitReader(stdin, dockercfg.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read docker config from stdin: %w", err)
	}
	if len(data) > dockercfg.MaxFileBytes {
		return nil, fmt.Errorf("read docker config from stdin: %w: larger than %d bytes", dockercfg.ErrMalformed, dockercfg.MaxFileBytes)
	}
	cfg, err := dockercfg.Parse(data, "stdin")
	if err != nil {
		return nil, err
	}
	return []*dockercfg.Config{cfg}, nil
}

const checkSynopsis = `
Usage:
  pullkeys secret check FILE|- [--image IMAGE]... [--show-secrets] [-o text|json]

Reads one Secret (YAML or JSON, - for stdin) and explains what the API server and the kubelet
make of it as an image pull secret: not a Secret or a List, wrong type, missing key, base64 that
does not decode (and where), JSON that is not a docker config, an auths entry whose auth does
not decode or lacks the colon. For a good Secret it lists the registries in the order the
kubelet tries them, what each serves, and for each --image the entries the kubelet would use.
Passwords are masked unless --show-secrets. Exit status 0: a valid pull secret; 1: errors.
`

// check runs "pullkeys secret check"; ok is false when the Secret has errors.
func check(args []string, stdin io.Reader, stdout io.Writer) (ok bool, err error) {
	fs := newFlagSet("pullkeys secret check")
	var images stringList
	var showSecrets bool
	var output string
	fs.Var(&images, "image", "image to match against the Secret's entries by the kubelet's rules (repeatable)")
	fs.BoolVar(&showSecrets, "show-secrets", false, "show passwords instead of masking them")
	fs.StringVar(&output, "output", "text", "report format: text or json")
	fs.StringVar(&output, "o", "text", "shorthand for --output")
	pos, err := parseFlags(fs, args, stdout, checkSynopsis)
	if err != nil {
		return false, err
	}
	switch {
	case len(pos) != 1:
		return false, fmt.Errorf("%w: want one FILE (or - for stdin), got %d arguments (see --help)", errUsage, len(pos))
	case output != "text" && output != "json":
		return false, fmt.Errorf("%w: --output %q: want text or json (see --help)", errUsage, output)
	}
	source := pos[0]
	var data []byte
	if source == "-" {
		source = "stdin"
		data, err = io.ReadAll(io.LimitReader(stdin, 4*MaxSecretBytes+1))
	} else {
		data, err = readFile(source)
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", source, err)
	}
	r := Check(data, CheckOptions{Source: source, Images: images, ShowSecrets: showSecrets})
	if output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return false, err
		}
	} else if err := r.WriteText(stdout); err != nil {
		return false, err
	}
	return r.OK(), nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 4*MaxSecretBytes+1))
}
