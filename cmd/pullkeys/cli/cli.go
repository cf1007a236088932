package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pullkeys/pullkeys/internal/cmdline"
	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/providers/keyring"
	"github.com/pullkeys/pullkeys/pullsecret"
)

// Exit statuses of Run.
const (
	ExitOK       = 0 // nothing wrong
	ExitProblems = 1 // the config has errors, a plugin failed or its answer is unusable
	ExitUsage    = 2 // bad command line
)

// Name is the command's name in messages.
const Name = "pullkeys"

// errUsage marks command-line errors, which exit with ExitUsage.
var errUsage = cmdline.ErrUsage

// Options are the seams of Run that tests replace.
type Options struct {
	// Environ is the environment plugins inherit; nil means os.Environ.
	Environ func() []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Run runs the pullkeys command line (args without the program name) and returns the exit
// status: ExitOK, ExitProblems or ExitUsage.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunWith(ctx, Options{}, args, stdin, stdout, stderr)
}

// RunWith is Run with replaced seams.
func RunWith(ctx context.Context, opts Options, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &command{opts: opts, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		c.usage(stderr)
		return ExitUsage
	}
	var err error
	switch sub, rest := args[0], args[1:]; sub {
	case "validate":
		err = c.validate(rest)
	case "check":
		err = c.check(ctx, rest)
	case "request":
		err = c.request(rest)
	case "prepull":
		err = c.prepull(ctx, rest)
	case "images":
		err = c.images(rest)
	case "secret":
		return pullsecret.Command(ctx, rest, stdin, stdout, stderr)
	case "version", "--version", "-version":
		ver, rev := providers.Version()
		fmt.Fprintf(stdout, "%s %s (commit %s)\n", Name, ver, rev)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "" {
			return RunWith(ctx, opts, []string{rest[0], "--help"}, stdin, stdout, stderr)
		}
		c.usage(stdout)
	default:
		err = fmt.Errorf("%w: unknown command %q (see %s help)", errUsage, sub, Name)
	}
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, errProblems):
		return ExitProblems
	case errors.Is(err, errUsage):
		cmdline.Fail(stderr, Name, err)
		return ExitUsage
	default:
		cmdline.Fail(stderr, Name, err)
		return ExitProblems
	}
}

// errProblems means the findings were printed and the exit status is ExitProblems.
var errProblems = errors.New("problems found")

type command struct {
	opts   Options
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func (c *command) usage(w io.Writer) {
	fmt.Fprintf(w, `Usage: %[1]s <command> [flags] [arguments]

%[1]s does what the kubelet does with image credential provider plugins, and shows it.

Commands:
  validate --config FILE|DIR [--bin-dir DIR]
        check a CredentialProviderConfig with the kubelet's rules
  check --config FILE|DIR --bin-dir DIR [flags] IMAGE...
        for each image, run the matching plugins as the kubelet does and show the credentials
        the kubelet would hand to the container runtime, the pull policy, and whether a pod
        without credentials may use the image when it is already on the node
  prepull [--config FILE|DIR --bin-dir DIR] [--pull-secret FILE] [flags] (IMAGE... | --images FILE)
        pull images into the node's runtime through CRI with the node's credentials, as the
        kubelet would; report present / pulled / failed per image; --check pulls nothing
  images [--root-dir DIR] [IMAGE...]
        read the kubelet's image pull records: which credentials pulled each image
  request [--api-version v1|v1beta1|v1alpha1] IMAGE
        print the request the kubelet would send, for "%[1]s request IMAGE | some-plugin"
  secret create NAME (--docker-server S --docker-username U --docker-password P |
                      --from-docker-config FILE | --from-provider BINARY IMAGE...)
        print a kubernetes.io/dockerconfigjson Secret as kubectl would create it
  secret check FILE|-
        explain what is wrong with a pull Secret, or which images its entries serve
  version
        print the version
  help [command]
        print this help, or a command's flags

Exit status: 0 all well, 1 problems found (invalid config, a plugin failed or answered
something the kubelet rejects), 2 bad command line.
`, Name)
}

// newFlagSet returns a flag set that reports errors through Run, not by printing.
func (c *command) newFlagSet(name, synopsis, about string) *flag.FlagSet {
	fs := cmdline.NewFlagSet(name)
	fs.Usage = func() {
		fmt.Fprintf(c.stdout, "Usage: %s %s %s\n\n%s\n\nFlags:\n", Name, name, synopsis, strings.TrimSpace(about))
		cmdline.PrintDefaults(c.stdout, fs)
	}
	return fs
}

// parse parses flags that may come before, between or after positional arguments
// ("check IMAGE --config x" works), and returns the positional arguments. "--" ends flags.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	pos, err := cmdline.Parse(fs, args, io.Discard, func(io.Writer) { fs.Usage() })
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return nil, fmt.Errorf("%w: %s: %s (see %s help %s)", errUsage, fs.Name(), cmdline.Reason(err), Name, fs.Name())
	}
	return pos, err
}

// outputFlag registers -o/--output.
func outputFlag(fs *flag.FlagSet) *string {
	out := new(string)
	*out = "text"
	fs.StringVar(out, "o", "text", "output format: text or json")
	fs.StringVar(out, "output", "text", "same as -o")
	return out
}

func checkOutput(out string) error {
	if out != "text" && out != "json" {
		return fmt.Errorf("%w: -o %q: want text or json", errUsage, out)
	}
	return nil
}

func (c *command) writeJSON(v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = c.stdout.Write(append(data, '\n'))
	return err
}

// validateResult is the JSON output of validate. Providers hide their env values.
type validateResult struct {
	OK        bool               `json:"ok"`
	Config    string             `json:"config"`
	Files     []string           `json:"files"`
	Providers []kubelet.Provider `json:"providers"`
	Problems  kubelet.Problems   `json:"problems"`
	// TokenAudiences are the audiences of providers with tokenAttributes: each needs the
	// RBAC grant printed by --print-rbac.
	TokenAudiences []kubelet.AudienceGrant `json:"tokenAudiences"`
}

func (c *command) validate(args []string) error {
	fs := c.newFlagSet("validate", "--config FILE|DIR [--bin-dir DIR] [-o json]", `
Reads a CredentialProviderConfig (kubelet.config.k8s.io v1, v1beta1 or v1alpha1; YAML or JSON,
decoded strictly) from a file, or from a directory as recent kubelets do (*.json, *.yaml and
*.yml in lexical order, merged), and checks it with the kubelet's rules. Every problem is
reported with its file and field path. Warnings are entries the kubelet accepts that cannot
work as written; they do not change the exit status. With --bin-dir, also checks what the
kubelet checks at start-up: the directory exists and holds every provider's binary; and warns
about a <name>-full left beside a provider by an earlier pullkeys. Providers with --mirror or
--containerd-hosts-dir are checked against containerd's hosts.toml files: a file that would
send a mirror's credential to the upstream (a server line naming the upstream, or none) or to
any other host is an error naming the file and the fix.`)
	config := fs.String("config", "", "the kubelet's --image-credential-provider-config: a file or a directory (required)")
	binDir := fs.String("bin-dir", "", "the kubelet's --image-credential-provider-bin-dir: also check the binaries")
	hostsDir := fs.String("containerd-hosts-dir", "", "containerd's registry config_path (/etc/containerd/certs.d): check the providers' mirrors against its hosts.toml files (default: each provider's own --containerd-hosts-dir)")
	printRBAC := fs.Bool("print-rbac", false, "print only the ClusterRole and ClusterRoleBinding the nodes need for the providers with tokenAttributes (YAML, for kubectl apply -f -)")
	out := outputFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: validate: unexpected argument %q", errUsage, pos[0])
	}
	if *config == "" {
		return fmt.Errorf("%w: validate: --config is required", errUsage)
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	cfg, problems := kubelet.LoadConfig(*config, *binDir)
	problems = append(problems, kubelet.MirrorProblems(cfg, *hostsDir)...)
	if *binDir != "" {
		problems = append(problems, checkStrayFull(cfg, *binDir)...)
	}
	res := validateResult{OK: len(problems.Errors()) == 0, Config: cfg.Path, Files: cfg.Files, Problems: problems, Providers: cfg.Providers, TokenAudiences: kubelet.TokenAudiences(cfg)}
	if *printRBAC {
		if len(res.TokenAudiences) == 0 {
			return fmt.Errorf("validate: no provider of %s has tokenAttributes: the nodes need no RBAC for service account tokens", cfg.Path)
		}
		if _, err := c.stdout.Write(kubelet.TokenRBAC(res.TokenAudiences)); err != nil {
			return err
		}
		if !res.OK {
			return errProblems
		}
		return nil
	}
	if res.Files == nil {
		res.Files = []string{}
	}
	if res.Problems == nil {
		res.Problems = kubelet.Problems{}
	}
	if res.Providers == nil {
		res.Providers = []kubelet.Provider{}
	}
	if *out == "json" {
		if err := c.writeJSON(res); err != nil {
			return err
		}
	} else {
		if err := problems.WriteText(c.stdout); err != nil {
			return err
		}
		names := make([]string, len(res.Providers))
		for i, p := range res.Providers {
			names[i] = p.Name
		}
		verdict := "valid"
		if !res.OK {
			verdict = fmt.Sprintf("invalid (%d error(s)): the kubelet refuses to start", len(problems.Errors()))
		}
		for _, a := range res.TokenAudiences {
			fmt.Fprintf(c.stdout, "rbac: %s request service account tokens for audience %q: the nodes need %q on it (without it NodeRestriction refuses the kubelet's token request and the provider gives no credentials, with only a kubelet log line): pullkeys validate --config %s --print-rbac | kubectl apply -f -\n",
				strings.Join(a.Providers, ", "), a.Audience, kubelet.TokenAudienceVerb, cfg.Path)
		}
		fmt.Fprintf(c.stdout, "%s: %d file(s), %d provider(s) [%s]: %s\n", cfg.Path, len(cfg.Files), len(names), strings.Join(names, ", "), verdict)
	}
	if !res.OK {
		return errProblems
	}
	return nil
}

// checkStrayFull warns about each provider whose binary has a <name>-full beside it in binDir:
// pullkeys releases before one file per plugin shipped each plugin as a front and its -full,
// and an installation that kept the -full file has a binary nothing runs any more.
func checkStrayFull(cfg *kubelet.Config, binDir string) kubelet.Problems {
	var problems kubelet.Problems
	for _, p := range cfg.Providers {
		for _, name := range []string{p.Name + "-full", p.Name + "-full.exe"} {
			fi, err := os.Stat(filepath.Join(binDir, name))
			if err != nil || fi.IsDir() {
				continue
			}
			problems = append(problems, kubelet.Problem{
				Severity: kubelet.SeverityWarning,
				File:     p.File,
				Field:    fmt.Sprintf("providers[%d].name", p.Index),
				Type:     "Stray file",
				Detail:   fmt.Sprintf("%s is left from an earlier pullkeys that shipped two files per plugin; %s is complete by itself: remove %s", name, p.Name, filepath.Join(binDir, name)),
			})
		}
	}
	return problems
}

// annotationsFlag collects repeated --service-account-annotation k=v flags.
type annotationsFlag map[string]string

func (a annotationsFlag) String() string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (a annotationsFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	a[k] = val
	return nil
}

// serviceAccountFlags are the flags of check and request that describe the pod's service account.
type serviceAccountFlags struct {
	token       string
	tokenFile   string
	annotations annotationsFlag
}

func (s *serviceAccountFlags) register(fs *flag.FlagSet) {
	s.annotations = annotationsFlag{}
	fs.StringVar(&s.token, "service-account-token", "", "the service account token the kubelet would pass to providers with tokenAttributes (prefer --service-account-token-file: a command line is visible to other users)")
	fs.StringVar(&s.tokenFile, "service-account-token-file", "", "read the service account token from this file (\"-\": stdin)")
	fs.Var(s.annotations, "service-account-annotation", "an annotation of the service account, `KEY=VALUE` (repeatable); only the keys listed in a provider's tokenAttributes are passed on")
}

func (s *serviceAccountFlags) account(stdin io.Reader) (*kubelet.ServiceAccount, error) {
	if s.token != "" && s.tokenFile != "" {
		return nil, fmt.Errorf("%w: give --service-account-token or --service-account-token-file, not both", errUsage)
	}
	token := s.token
	if s.tokenFile != "" {
		var data []byte
		var err error
		if s.tokenFile == "-" {
			data, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
		} else {
			data, err = os.ReadFile(s.tokenFile)
		}
		if err != nil {
			return nil, fmt.Errorf("read service account token: %w", err)
		}
		token = string(bytes.TrimSpace(data))
		if token == "" {
			return nil, fmt.Errorf("read service account token: %s is empty", s.tokenFile)
		}
	}
	if token == "" {
		if len(s.annotations) > 0 {
			return nil, fmt.Errorf("%w: --service-account-annotation needs a service account token", errUsage)
		}
		return nil, nil
	}
	return &kubelet.ServiceAccount{Token: token, Annotations: s.annotations}, nil
}

func (c *command) check(ctx context.Context, args []string) error {
	fs := c.newFlagSet("check", "--config FILE|DIR --bin-dir DIR [flags] IMAGE...", `
For each image, does what the kubelet does before a pull and shows it: the image as the kubelet
sends it to plugins; each provider whose matchImages match it, and for the others which rule
failed; each matching plugin run exactly as the kubelet runs it (args, env appended to this
environment, the request on stdin in the configured apiVersion, killed after one minute); the
answer checked as the kubelet checks it; the kubelet's cache key and duration; the credentials
the kubelet hands to the container runtime, in the order the runtime tries them. Passwords are
masked unless --show-secrets. A plugin's stdout is never shown; its stderr is.

Then the pull policy (--pull-policy, else the API server's default: Always for :latest or no
tag, IfNotPresent otherwise) and, for an image already on the node, what the kubelet's
imagePullCredentialsVerificationPolicy (--kubelet-config, else the kubelet's default
NeverVerifyPreloadedImages) lets a pod without credentials of its own do: use the image,
pull it again, or fail (Never).

Answers are cached for the run as the kubelet caches them, so a later image can reuse an
earlier Registry or Global answer without an exec, as on a node (--no-kubelet-cache: exec
for every image).

With --containerd-hosts-dir, each image also shows containerd's side: the hosts it tries in
order (hosts.toml [host] sections, then the server line or the upstream), the credentials each
receives (all of them: the kubelet names no server), and the credential a mirror needs; a
mirror's credential that reaches another host is a problem.`)
	config := fs.String("config", "", "the kubelet's --image-credential-provider-config: a file or a directory (required)")
	binDir := fs.String("bin-dir", "", "the kubelet's --image-credential-provider-bin-dir (required)")
	showSecrets := fs.Bool("show-secrets", false, "show passwords instead of masking them")
	noCache := fs.Bool("no-kubelet-cache", false, "exec the plugins for every image instead of reusing answers the kubelet would have cached")
	timeout := fs.Duration("timeout", kubelet.DefaultTimeout, "kill a plugin after this long (the kubelet's limit is a fixed 1m)")
	hostsDir := fs.String("containerd-hosts-dir", "", "containerd's registry config_path (/etc/containerd/certs.d): for each image, list the hosts containerd tries in order, the credentials each receives and the credential a mirror needs")
	verbosity := fs.Int("v", 0, "log progress on stderr at this verbosity")
	pullPolicy := fs.String("pull-policy", "", "the container's imagePullPolicy: Always, IfNotPresent or Never (default: the API server's default for each image)")
	kubeletConfig := fs.String("kubelet-config", "", "the kubelet's --config (a KubeletConfiguration): its imagePullCredentialsVerificationPolicy and allowlist decide who may use an image already on the node (default: the kubelet's defaults)")
	var sa serviceAccountFlags
	sa.register(fs)
	out := outputFlag(fs)
	images, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case *config == "":
		return fmt.Errorf("%w: check: --config is required", errUsage)
	case *binDir == "":
		return fmt.Errorf("%w: check: --bin-dir is required", errUsage)
	case len(images) == 0:
		return fmt.Errorf("%w: check: no image given", errUsage)
	case *timeout <= 0:
		return fmt.Errorf("%w: check: --timeout must be positive", errUsage)
	}
	if err := kubelet.ValidPullPolicy(*pullPolicy); err != nil {
		return fmt.Errorf("%w: check: --pull-policy: %v", errUsage, err)
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	account, err := sa.account(c.stdin)
	if err != nil {
		return err
	}
	var log = providers.NewLogger(c.stderr, *verbosity)
	if *verbosity <= 0 {
		log = nil
	}
	var kc *kubelet.KubeletConfig
	var kcProblems kubelet.Problems
	if *kubeletConfig != "" {
		kc, kcProblems = kubelet.LoadKubeletConfig(*kubeletConfig)
	}
	report, err := kubelet.Check(ctx, kubelet.CheckOptions{
		PullPolicy:     *pullPolicy,
		KubeletConfig:  kc,
		ConfigPath:     *config,
		BinDir:         *binDir,
		Images:         images,
		ServiceAccount: account,
		ShowSecrets:    *showSecrets,
		NoKubeletCache: *noCache,
		Timeout:        *timeout,
		HostsDir:       *hostsDir,
		Environ:        c.opts.Environ,
		Now:            c.opts.Now,
		Logger:         log,
	})
	if err != nil {
		return err
	}
	report.Problems = append(report.Problems, kcProblems...)
	if *out == "json" {
		err = c.writeJSON(report)
	} else {
		err = report.WriteText(c.stdout)
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("check: interrupted: %w", ctx.Err())
	}
	if !report.OK() {
		return errProblems
	}
	return nil
}

func (c *command) request(args []string) error {
	fs := c.newFlagSet("request", "[--api-version v1|v1beta1|v1alpha1] [flags] IMAGE", `
Prints the CredentialProviderRequest the kubelet would write on a plugin's stdin for IMAGE:
the image normalised as the kubelet does (tag and digest dropped, docker.io/library/ added),
in the given apiVersion. In v1, --service-account-token adds serviceAccountToken and
--service-account-annotation adds serviceAccountAnnotations, as for a provider with
tokenAttributes. Try:

  pullkeys request nginx:1.2 | some-credential-provider`)
	apiVersion := fs.String("api-version", "v1", "apiVersion of the request: v1, v1beta1, v1alpha1 or the full credentialprovider.kubelet.k8s.io/…")
	var sa serviceAccountFlags
	sa.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: request: want exactly one image, got %d", errUsage, len(pos))
	}
	version := *apiVersion
	if !strings.Contains(version, "/") {
		version = "credentialprovider.kubelet.k8s.io/" + version
	}
	if !slices.Contains(providers.APIVersions(), version) {
		return fmt.Errorf("%w: request: --api-version %q: want v1, v1beta1 or v1alpha1", errUsage, *apiVersion)
	}
	account, err := sa.account(c.stdin)
	if err != nil {
		return err
	}
	if account != nil && version != providers.APIVersionV1 {
		return fmt.Errorf("%w: request: service account fields exist in v1 only", errUsage)
	}
	image, err := keyring.NormalizeImage(pos[0])
	if err != nil {
		return fmt.Errorf("%w: request: %v", errUsage, err)
	}
	req := &providers.Request{Image: image}
	if account != nil {
		req.ServiceAccountToken = account.Token
		req.ServiceAccountAnnotations = account.Annotations
	}
	data, err := kubelet.EncodeRequest(req, version)
	if err != nil {
		return err
	}
	_, err = c.stdout.Write(data)
	return err
}
