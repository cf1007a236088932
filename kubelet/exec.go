package kubelet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pullkeys/pullkeys/internal/redact"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/pullkeys/pullkeys/providers"
)

// DefaultTimeout is the kubelet's fixed limit on one exec of a plugin: it kills the plugin
// after one minute and discards whatever it wrote.
const DefaultTimeout = time.Minute

// Limits on what is kept of a plugin's output. The kubelet keeps all of it; a real answer is a
// few KiB and real diagnostics a few lines.
const (
	maxStdout = 8 << 20
	maxStderr = 64 << 10
)

// Sentinel errors of Exec, for errors.Is.
var (
	// ErrStart: the binary could not be started (missing, not executable, wrong format).
	ErrStart = errors.New("cannot start plugin")
	// ErrTimeout: the plugin did not finish within the timeout and was killed, or it exited but
	// left a child holding its stdout or stderr past the timeout. The kubelet discards the answer.
	ErrTimeout = errors.New("plugin killed at the timeout")
	// ErrExit: the plugin exited with a non-zero status.
	ErrExit = errors.New("plugin failed")
	// ErrResponse: the plugin exited 0 but the kubelet rejects its answer (see
	// providers.DecodeResponse, which the error wraps).
	ErrResponse = errors.New("answer rejected")
)

// ExecOptions tune Exec.
type ExecOptions struct {
	// Timeout kills the plugin, as the kubelet does after DefaultTimeout (the default).
	Timeout time.Duration
	// Environ returns the parent environment the config's env is appended to; nil means
	// os.Environ, as in the kubelet.
	Environ func() []string
	// Now is the clock that times the exec; nil means time.Now.
	Now func() time.Time
}

// ExecResult is what one exec of a plugin produced. It holds no secret: Response is left out of
// JSON, the request's token and the answer's passwords are redacted from Stderr.
type ExecResult struct {
	// Path is the binary the kubelet execs: <bin-dir>/<name>.
	Path string `json:"path"`
	// Args are the config's args, the whole argv after the binary.
	Args []string `json:"args,omitempty"`
	// Env are the names of the config's env entries, appended to the parent environment.
	Env []string `json:"env,omitempty"`
	// APIVersion is the apiVersion of the request and of the expected answer.
	APIVersion string `json:"apiVersion"`
	// Elapsed is the time from start to exit, as a Go duration ("12.5ms").
	Elapsed time.Duration `json:"-"`
	// ExitCode is the plugin's exit status, -1 when it was killed or did not start.
	ExitCode int `json:"exitCode"`
	// Stderr is what the plugin wrote on stderr (at most 64 KiB), the plugin's own
	// diagnostics: the kubelet appends it to its log line when the exec fails.
	Stderr string `json:"stderr,omitempty"`
	// StdoutBytes is the size of the plugin's stdout; its content is never shown.
	StdoutBytes int `json:"stdoutBytes"`
	// Hint explains a rejected stdout without quoting it (empty, log lines, two documents).
	Hint string `json:"hint,omitempty"`
	// Response is the decoded answer when the kubelet accepts it.
	Response *providers.Response `json:"-"`
	// Err is why the kubelet gets no answer from this exec; nil on success.
	Err error `json:"-"`
}

// Exec runs the provider's plugin once, exactly as the kubelet does: <binDir>/<name> with the
// config's args as argv, the parent environment with the config's env appended (so a config
// entry overrides a variable of the same name), req encoded in the provider's apiVersion on
// stdin, stdout and stderr captured separately, killed at the timeout. The answer is decoded
// as the kubelet does (providers.DecodeResponse: same apiVersion, strict, known cacheKeyType).
func Exec(ctx context.Context, binDir string, p Provider, req *providers.Request, opts ExecOptions) *ExecResult {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	res := &ExecResult{
		Path:       filepath.Join(binDir, p.Name),
		Args:       p.Args,
		APIVersion: p.APIVersion,
		ExitCode:   -1,
	}
	for _, e := range p.Env {
		res.Env = append(res.Env, e.Name)
	}
	data, err := EncodeRequest(req, p.APIVersion)
	if err != nil {
		res.Err = err
		return res
	}

	execCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stdout := &cappedBuffer{max: maxStdout}
	stderr := &cappedBuffer{max: maxStderr}
	cmd := exec.CommandContext(execCtx, res.Path, p.Args...)
	cmd.Stdin = bytes.NewReader(data)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	env := append([]string(nil), environ()...)
	for _, e := range p.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	cmd.Env = env
	// The kubelet waits for a child that holds the plugin's stdout or stderr, however long.
	// Waiting one more timeout after the plugin exits is enough to find that the kubelet would
	// have given up, without hanging here.
	cmd.WaitDelay = timeout

	start := now()
	runErr := cmd.Run()
	res.Elapsed = now().Sub(start)
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	res.Stderr = redact.String(stderr.String(), secretsOf(req, nil)...)
	if stderr.dropped > 0 {
		res.Stderr += fmt.Sprintf("\n[%d more bytes of stderr not shown]", stderr.dropped)
	}
	res.StdoutBytes = stdout.Len() + stdout.dropped

	switch {
	case ctx.Err() != nil:
		res.Err = fmt.Errorf("exec %s: %w", p.Name, ctx.Err())
		return res
	case execCtx.Err() != nil || errors.Is(runErr, exec.ErrWaitDelay):
		// ErrWaitDelay: the plugin exited but its pipes stayed open for WaitDelay; under load
		// that can be seen before the context's own timer has marked it done.
		if cmd.ProcessState != nil && cmd.ProcessState.Exited() {
			res.Err = fmt.Errorf("exec %s: %w: it exited, but a child process kept its stdout or stderr open past %s; the kubelet waits for it and then discards the answer", p.Name, ErrTimeout, timeout)
		} else {
			res.Err = fmt.Errorf("exec %s: %w: no answer within %s, the kubelet's limit", p.Name, ErrTimeout, timeout)
		}
		return res
	case runErr != nil:
		var exitErr *exec.ExitError
		if errors.As(runErr, &exitErr) {
			res.Err = fmt.Errorf("exec %s: %w: %s", p.Name, ErrExit, exitErr.ProcessState)
		} else {
			res.Err = fmt.Errorf("exec %s: %w: %s", p.Name, ErrStart, startProblem(runErr))
		}
		return res
	}

	if stdout.dropped > 0 {
		res.Err = fmt.Errorf("decode %s answer: %w: more than %d bytes on stdout", p.Name, ErrResponse, maxStdout)
		return res
	}
	resp, err := providers.DecodeResponse(stdout.Bytes(), p.APIVersion)
	if err != nil {
		res.Hint = stdoutHint(stdout.Bytes())
		res.Err = fmt.Errorf("%s answer: %w: %w", p.Name, ErrResponse, err)
		return res
	}
	res.Response = resp
	res.Stderr = redact.String(res.Stderr, secretsOf(req, resp)...)
	return res
}

// startProblem names why a binary did not start without repeating its path.
func startProblem(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err.Error()
	}
	return err.Error()
}

// stdoutHint describes stdout the kubelet cannot read, without quoting it.
func stdoutHint(out []byte) string {
	trimmed := bytes.TrimSpace(out)
	switch {
	case len(trimmed) == 0:
		return "the plugin wrote nothing on stdout"
	case trimmed[0] != '{':
		return "stdout does not start with a JSON object: does the plugin print logs or other text on stdout? stdout must hold the answer alone"
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return "stdout is not one complete JSON object"
	}
	if dec.More() {
		return "stdout holds more than one JSON document: the kubelet reads it as one and fails"
	}
	return ""
}

// secretsOf lists the strings that must not appear in what is shown: the service account token
// and the passwords of the answer, each in every form a plugin may print it in (redact.Forms:
// clear, as user:password, and in standard, URL-safe and unpadded base64).
func secretsOf(req *providers.Request, resp *providers.Response) []string {
	var s []string
	if req != nil && req.ServiceAccountToken != "" {
		s = append(s, redact.Forms("", req.ServiceAccountToken)...)
	}
	if resp != nil {
		for _, a := range resp.Auth {
			s = append(s, redact.Forms(a.Username, a.Password)...)
		}
	}
	return s
}

// cappedBuffer keeps the first max bytes written and counts the rest.
type cappedBuffer struct {
	bytes.Buffer
	max     int
	dropped int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	room := b.max - b.Len()
	if room < 0 {
		room = 0
	}
	if len(p) > room {
		b.dropped += len(p) - room
		b.Buffer.Write(p[:room])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// MarshalJSON adds the elapsed time as a Go duration string and the error's text.
func (r ExecResult) MarshalJSON() ([]byte, error) {
	type plain ExecResult
	out := struct {
		plain
		Elapsed string `json:"elapsed"`
		Error   string `json:"error,omitempty"`
	}{plain: plain(r), Elapsed: r.Elapsed.String()}
	if r.Err != nil {
		out.Error = r.Err.Error()
	}
	return json.Marshal(out)
}
