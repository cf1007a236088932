package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/pullkeys/pullkeys/internal/cmdline"
	"github.com/pullkeys/pullkeys/kubelet"
	"github.com/pullkeys/pullkeys/prepull"
	"github.com/pullkeys/pullkeys/providers"
	"github.com/pullkeys/pullkeys/pullsecret"
)

// prepullResult is the JSON output of prepull.
type prepullResult struct {
	OK        bool             `json:"ok"`
	Endpoint  string           `json:"runtimeEndpoint"`
	Check     bool             `json:"check"`
	Images    []prepull.Result `json:"images"`
	Allowlist []string         `json:"preloadedImagesVerificationAllowlist,omitempty"`
}

func (c *command) prepull(ctx context.Context, args []string) error {
	fs := c.newFlagSet("prepull", "[--config FILE|DIR --bin-dir DIR] [--pull-secret FILE]... [flags] (IMAGE... | --images FILE)", `
Pulls images into the node's container runtime through CRI, as the kubelet would for a pod:
each image is looked up first (ImageStatus) and only pulled when absent; a pull tries the
credentials the kubelet would hand to the runtime, in its order: the --pull-secret Secrets'
entries first, then the node's credential providers (--config/--bin-dir, run as
"pullkeys check" runs them). One line per image: present (image id), pulled (id, size, time,
which credential worked) or failed (the runtime's error, and how the credentials were found).

Images pulled this way are not recorded by the kubelet: under the kubelet's default
imagePullCredentialsVerificationPolicy (NeverVerifyPreloadedImages) any pod on the node may
use them without credentials. --emit-allowlist prints the preloadedImagesVerificationAllowlist
for NeverVerifyAllowlistedImages instead (on stdout; the per-image lines go to stderr).

Exit status 1 when any image is missing after the run (--check: missing now).`)
	config := fs.String("config", "", "the kubelet's --image-credential-provider-config: a file or a directory")
	binDir := fs.String("bin-dir", "", "the kubelet's --image-credential-provider-bin-dir (required with --config)")
	var secrets cmdline.StringList
	fs.Var(&secrets, "pull-secret", "a kubernetes.io/dockerconfigjson Secret `FILE` whose entries are tried first (repeatable)")
	imagesFile := fs.String("images", "", "read images from `FILE`, one a line (# comments and blank lines ignored; \"-\": stdin)")
	endpoint := fs.String("runtime-endpoint", prepull.DefaultRuntimeEndpoint, "the container runtime's CRI endpoint (the kubelet's --container-runtime-endpoint)")
	runtimeTimeout := fs.Duration("runtime-timeout", prepull.DefaultRuntimeTimeout, "limit of each CRI call but a pull (the kubelet's runtimeRequestTimeout)")
	pullTimeout := fs.Duration("pull-timeout", 0, "limit of each image's pull; 0: none, as the kubelet")
	checkOnly := fs.Bool("check", false, "report which images are present and pull nothing")
	parallel := fs.Int("parallel", 1, "pull this many images at once (the kubelet pulls one at a time by default)")
	every := fs.Duration("every", 0, "run again at this interval until stopped (a DaemonSet's container); 0: once")
	emit := fs.Bool("emit-allowlist", false, "print a KubeletConfiguration fragment allowlisting the images now present")
	timeout := fs.Duration("timeout", kubelet.DefaultTimeout, "kill a credential provider plugin after this long")
	out := outputFlag(fs)
	images, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *imagesFile != "" {
		more, err := readImages(*imagesFile, c.stdin)
		if err != nil {
			return err
		}
		images = append(images, more...)
	}
	switch {
	case len(images) == 0:
		return fmt.Errorf("%w: prepull: no image given", errUsage)
	case *config != "" && *binDir == "":
		return fmt.Errorf("%w: prepull: --bin-dir is required with --config", errUsage)
	case *parallel < 1:
		return fmt.Errorf("%w: prepull: --parallel must be at least 1", errUsage)
	case *every < 0 || (*every > 0 && (*emit || *out == "json")):
		return fmt.Errorf("%w: prepull: --every must be positive and goes with text output only", errUsage)
	case *runtimeTimeout <= 0 || *timeout <= 0 || *pullTimeout < 0:
		return fmt.Errorf("%w: prepull: timeouts must be positive", errUsage)
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	creds, err := c.prepullCredentials(*config, *binDir, secrets, *timeout)
	if err != nil {
		return err
	}
	svc, err := prepull.Connect(ctx, *endpoint, *runtimeTimeout)
	if err != nil {
		return err
	}
	defer func() { _ = svc.Close(context.Background()) }()

	lines := c.stdout
	if *emit || *out == "json" {
		lines = c.stderr
	}
	opts := prepull.Options{Images: images, Service: svc, Credentials: creds, CheckOnly: *checkOnly, Parallel: *parallel, Now: c.opts.Now}
	if *out == "text" || *emit {
		opts.Progress = func(r prepull.Result) { fmt.Fprintln(lines, resultLine(r)) }
	}
	if *pullTimeout > 0 {
		opts.Service = timedService{ImageService: svc, pull: *pullTimeout}
	}
	if *every > 0 {
		return c.prepullEvery(ctx, opts, *every)
	}
	results := prepull.Run(ctx, opts)
	res := prepullResult{OK: true, Endpoint: *endpoint, Check: *checkOnly, Images: results}
	counts := map[string]int{}
	for _, r := range results {
		counts[r.Status]++
		if r.Missing() {
			res.OK = false
		}
	}
	if *emit {
		res.Allowlist = prepull.Allowlist(results)
	}
	switch {
	case *out == "json":
		err = c.writeJSON(res)
	case *emit:
		fmt.Fprintf(lines, "%d present, %d pulled, %d missing, %d failed\n", counts[prepull.StatusPresent], counts[prepull.StatusPulled], counts[prepull.StatusMissing], counts[prepull.StatusFailed])
		err = writeAllowlist(c.stdout, res.Allowlist)
	default:
		_, err = fmt.Fprintf(lines, "%d present, %d pulled, %d missing, %d failed\n", counts[prepull.StatusPresent], counts[prepull.StatusPulled], counts[prepull.StatusMissing], counts[prepull.StatusFailed])
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("prepull: interrupted: %w", ctx.Err())
	}
	if !res.OK {
		return errProblems
	}
	return nil
}

// prepullEvery runs prepull at each interval until ctx ends, with a summary line a run.
func (c *command) prepullEvery(ctx context.Context, opts prepull.Options, every time.Duration) error {
	for {
		counts := map[string]int{}
		for _, r := range prepull.Run(ctx, opts) {
			counts[r.Status]++
		}
		fmt.Fprintf(c.stdout, "%d present, %d pulled, %d failed; next run in %s\n", counts[prepull.StatusPresent], counts[prepull.StatusPulled], counts[prepull.StatusFailed], every)
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// timedService bounds each pull.
type timedService struct {
	prepull.ImageService
	pull time.Duration
}

func (s timedService) PullImage(ctx context.Context, image *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, sandbox *runtimeapi.PodSandboxConfig) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.pull)
	defer cancel()
	return s.ImageService.PullImage(ctx, image, auth, sandbox)
}

func resultLine(r prepull.Result) string {
	switch r.Status {
	case prepull.StatusPresent:
		return fmt.Sprintf("present %s %s", r.Image, r.ID)
	case prepull.StatusPulled:
		line := fmt.Sprintf("pulled  %s %s, %d bytes in %s with %s", r.Image, r.ID, r.Size, r.Duration, r.Credential)
		if r.Error != "" {
			line += " (" + r.Error + ")"
		}
		return line
	case prepull.StatusMissing:
		return fmt.Sprintf("missing %s", r.Image)
	}
	line := fmt.Sprintf("failed  %s: %s", r.Image, r.Error)
	if r.Diagnosis != "" {
		line += "; credentials: " + r.Diagnosis
	}
	return line
}

func writeAllowlist(w io.Writer, entries []string) error {
	var b bytes.Buffer
	b.WriteString("# preloadedImagesVerificationAllowlist for the images pre-pulled by pullkeys prepull;\n")
	b.WriteString("# merge into the kubelet's KubeletConfiguration (kubelet.config.k8s.io/v1beta1).\n")
	b.WriteString("imagePullCredentialsVerificationPolicy: " + kubelet.NeverVerifyAllowlistedImages + "\n")
	if len(entries) == 0 {
		b.WriteString("preloadedImagesVerificationAllowlist: []\n")
	} else {
		b.WriteString("preloadedImagesVerificationAllowlist:\n")
		for _, e := range entries {
			fmt.Fprintf(&b, "- %q\n", e)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func readImages(file string, stdin io.Reader) ([]string, error) {
	var r io.Reader = stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("prepull: --images: %w", err)
		}
		defer f.Close()
		r = f
	}
	var images []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line != "" {
			images = append(images, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("prepull: --images: %w", err)
	}
	return images, nil
}

// prepullCredentials returns the credentials the kubelet would hand to the runtime for an
// image: the pull Secrets' entries, then the providers' answers.
func (c *command) prepullCredentials(config, binDir string, secretFiles []string, timeout time.Duration) (prepull.Credentials, error) {
	type secret struct {
		name string
		data []byte
	}
	var secrets []secret
	for _, file := range secretFiles {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("prepull: --pull-secret: %w", err)
		}
		rep := pullsecret.Check(data, pullsecret.CheckOptions{Source: file})
		if !rep.OK() {
			return nil, fmt.Errorf("prepull: --pull-secret %s is not a usable pull Secret (see pullkeys secret check %s)", file, file)
		}
		name := rep.Name
		if name == "" {
			name = file
		}
		secrets = append(secrets, secret{name: name, data: data})
	}
	var cfg *kubelet.Config
	var cfgProblems kubelet.Problems
	if config != "" {
		cfg, cfgProblems = kubelet.LoadConfig(config, binDir)
	}
	var mu sync.Mutex // one plugin run at a time, as check does
	return func(ctx context.Context, image string) ([]prepull.Credential, string) {
		var creds []prepull.Credential
		var notes []string
		for _, s := range secrets {
			rep := pullsecret.Check(s.data, pullsecret.CheckOptions{Source: s.name, Images: []string{image}, ShowSecrets: true})
			for _, img := range rep.Images {
				for _, key := range img.Uses {
					for _, reg := range rep.Registries {
						if reg.Key == key {
							creds = append(creds, prepull.Credential{Username: reg.Username, Password: reg.Password, Source: fmt.Sprintf("secret %s (%s)", s.name, key)})
						}
					}
				}
			}
		}
		if len(secrets) > 0 {
			notes = append(notes, fmt.Sprintf("%d from pull Secrets", len(creds)))
		}
		if cfg == nil {
			if len(secrets) == 0 {
				notes = append(notes, "no --config and no --pull-secret: pulled anonymously")
			}
			return creds, strings.Join(notes, "; ")
		}
		mu.Lock()
		report, err := kubelet.Check(ctx, kubelet.CheckOptions{Config: cfg, BinDir: binDir, Images: []string{image}, ShowSecrets: true, Timeout: timeout, Environ: c.opts.Environ, Now: c.opts.Now})
		mu.Unlock()
		if err != nil {
			return creds, strings.Join(append(notes, "providers: "+err.Error()), "; ")
		}
		if len(cfgProblems.Errors()) > 0 {
			notes = append(notes, "the kubelet would not start with "+config+" (pullkeys validate)")
		}
		for _, ir := range report.Images {
			for _, cr := range ir.Credentials {
				creds = append(creds, prepull.Credential{Username: cr.Username, Password: cr.Password, Source: fmt.Sprintf("provider %s (%s)", cr.Provider, cr.Key)})
			}
			notes = append(notes, diagnose(ir))
		}
		return creds, strings.Join(notes, "; ")
	}, nil
}

// diagnose says in one line what check found for an image, without any secret.
func diagnose(ir kubelet.ImageReport) string {
	if ir.Error != "" {
		return ir.Error
	}
	var errs, matched []string
	for _, p := range ir.Providers {
		if p.Matched {
			matched = append(matched, p.Name)
		}
		if p.Error != "" {
			errs = append(errs, p.Name+": "+providers.OneLine(p.Error))
		}
	}
	switch {
	case len(errs) > 0:
		return "providers failed: " + strings.Join(errs, "; ") + " (pullkeys check " + ir.Image + ")"
	case len(matched) == 0:
		return "no provider's matchImages matches " + ir.Normalized
	case len(ir.Credentials) == 0:
		return "providers " + strings.Join(matched, ", ") + " gave no credential for " + ir.Normalized
	}
	return fmt.Sprintf("%d from providers %s", len(ir.Credentials), strings.Join(matched, ", "))
}
