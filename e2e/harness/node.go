package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/pullkeys/pullkeys/kubelet"
)

// Node is the kubelet's side of a node: its --image-credential-provider-config, its
// --image-credential-provider-bin-dir and the environment the plugins inherit.
type Node struct {
	// Config is the CredentialProviderConfig file or directory.
	Config string
	// BinDir holds the plugin binaries and pullkeys.
	BinDir string
	// Environ is the kubelet's own environment, which each plugin inherits before the
	// config's env is appended. Keep it small (HOME, PATH): an e2e run must not pick up the
	// real credentials of whoever runs it.
	Environ []string
}

func (n Node) environ() []string { return append([]string(nil), n.Environ...) }

// Check runs `pullkeys check` in process (kubelet.Check, the code behind the command) for the
// images, with secrets shown so the credentials can be used.
func (n Node) Check(ctx context.Context, images ...string) (*kubelet.Report, error) {
	return n.CheckAs(ctx, nil, images...)
}

// CheckAs is Check for a pod running as the service account sa (its token and annotations),
// as with `pullkeys check --service-account-token-file … --service-account-annotation …`.
// A nil sa is a pod without a service account token.
func (n Node) CheckAs(ctx context.Context, sa *kubelet.ServiceAccount, images ...string) (*kubelet.Report, error) {
	return kubelet.Check(ctx, kubelet.CheckOptions{
		ConfigPath:     n.Config,
		BinDir:         n.BinDir,
		Images:         images,
		ServiceAccount: sa,
		ShowSecrets:    true,
		Environ:        n.environ,
	})
}

// CheckResult is a run of the pullkeys binary.
type CheckResult struct {
	Report   *kubelet.Report // the -o json report, nil when stdout held none
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}

// CheckBinary runs `<bin-dir>/pullkeys check -o json --show-secrets` for the images with the
// node's environment, as a person debugging a node would, and decodes the report. A non-zero
// exit is not an error: it is in the result, with the report.
func (n Node) CheckBinary(ctx context.Context, extraArgs []string, images ...string) (*CheckResult, error) {
	args := []string{"check", "--config", n.Config, "--bin-dir", n.BinDir, "-o", "json", "--show-secrets"}
	args = append(append(args, extraArgs...), "--")
	args = append(args, images...)
	stdout, stderr, code, err := run(ctx, filepath.Join(n.BinDir, Pullkeys), args, n.environ(), nil)
	if err != nil {
		return nil, err
	}
	res := &CheckResult{ExitCode: code, Stdout: stdout, Stderr: stderr}
	if len(bytes.TrimSpace(stdout)) > 0 {
		res.Report = new(kubelet.Report)
		if err := json.Unmarshal(stdout, res.Report); err != nil {
			return res, fmt.Errorf("harness: pullkeys check -o json: decode report: %w", err)
		}
	}
	return res, nil
}

// Pullkeys runs the pullkeys binary with args and the node's environment.
func (n Node) Pullkeys(ctx context.Context, stdin []byte, args ...string) (stdout, stderr []byte, code int, err error) {
	return run(ctx, filepath.Join(n.BinDir, Pullkeys), args, n.environ(), stdin)
}

// RunPlugin runs the plugin binary name from the bin dir by hand, as in
// `echo '{…}' | name args…`, with the node's environment plus env ("NAME=value").
func (n Node) RunPlugin(ctx context.Context, name string, args, env []string, stdin []byte) (stdout, stderr []byte, code int, err error) {
	return run(ctx, filepath.Join(n.BinDir, name), args, append(n.environ(), env...), stdin)
}

// run runs a binary to completion within a minute, the kubelet's limit. Only a failure to
// start (or the limit) is an error; an exit status is returned.
func run(ctx context.Context, bin string, args, env []string, stdin []byte) (stdout, stderr []byte, code int, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return out.Bytes(), errb.Bytes(), 0, nil
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		return out.Bytes(), errb.Bytes(), exitErr.ExitCode(), nil
	default:
		return out.Bytes(), errb.Bytes(), -1, fmt.Errorf("harness: run %s: %w (stderr: %s)", filepath.Base(bin), err, bytes.TrimSpace(errb.Bytes()))
	}
}

// ErrNoImage is returned by Credentials for an image the report does not hold.
var ErrNoImage = errors.New("harness: image not in report")

// Credentials returns the credentials the kubelet hands to the runtime for image (as it was
// given to Check), in the order the runtime tries them. The report must have been made with
// secrets shown.
func Credentials(r *kubelet.Report, image string) ([]Credential, error) {
	img, err := ImageOf(r, image)
	if err != nil {
		return nil, err
	}
	creds := make([]Credential, 0, len(img.Credentials))
	for _, c := range img.Credentials {
		creds = append(creds, Credential{Username: c.Username, Password: c.Password})
	}
	return creds, nil
}

// ImageOf returns the report for image (as it was given to Check).
func ImageOf(r *kubelet.Report, image string) (*kubelet.ImageReport, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: no report", ErrNoImage)
	}
	for i := range r.Images {
		if r.Images[i].Image == image {
			return &r.Images[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNoImage, image)
}

// ProviderOf returns the report of the provider called name for image.
func ProviderOf(img *kubelet.ImageReport, name string) (*kubelet.ProviderReport, bool) {
	for i := range img.Providers {
		if img.Providers[i].Name == name {
			return &img.Providers[i], true
		}
	}
	return nil, false
}
