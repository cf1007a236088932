package dockercfg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pullkeys/pullkeys/providers"
)

// Sentinel errors of credential helpers, for errors.Is.
var (
	// ErrCredentialsNotFound: the helper has no credentials for the registry. Not a failure:
	// the registry gets no credentials from that helper.
	ErrCredentialsNotFound = errors.New("credentials not found")
	// ErrHelperNotInstalled: docker-credential-<name> is not on $PATH.
	ErrHelperNotInstalled = errors.New("credential helper not installed")
	// ErrHelperTimeout: the helper did not answer within its timeout and was killed.
	ErrHelperTimeout = errors.New("credential helper timed out")
	// ErrHelperFailed: the helper exited with an error or answered something unreadable.
	ErrHelperFailed = errors.New("credential helper failed")
)

// HelperPrefix is the prefix of a credential helper's executable name.
const HelperPrefix = "docker-credential-"

// DefaultHelperTimeout bounds one run of a credential helper.
const DefaultHelperTimeout = 10 * time.Second

// TokenUsername is the user name by which docker credential helpers mark an identity token
// (docker/cli cli/config/credentials: tokenUsername).
const TokenUsername = "<token>"

// notFoundMessage is what a helper prints when it has nothing for the server
// (docker-credential-helpers credentials.errCredentialsNotFoundMessage).
const notFoundMessage = "credentials not found in native keychain"

// maxHelperOutput bounds what is kept of a helper's stdout and stderr.
const maxHelperOutput = 64 << 10

// Helper asks a docker credential helper for the credentials of one registry.
type Helper interface {
	// Get runs docker-credential-<name> get for serverURL. It returns an error wrapping
	// ErrCredentialsNotFound when the helper has none. A username of TokenUsername marks
	// secret as an identity token.
	Get(ctx context.Context, name, serverURL string) (username, secret string, err error)
}

// HelperFunc adapts a function to the Helper interface.
type HelperFunc func(ctx context.Context, name, serverURL string) (username, secret string, err error)

// Get calls f.
func (f HelperFunc) Get(ctx context.Context, name, serverURL string) (string, string, error) {
	return f(ctx, name, serverURL)
}

// ExecHelper runs credential helpers as docker does (the docker-credential-helpers protocol:
// "docker-credential-<name> get", the server URL on stdin, {"ServerURL","Username","Secret"}
// as JSON on stdout) with a timeout. The helper's stdout and stderr go to buffers, never to
// this process's stdout, and a helper is always waited for. On Unix it runs in its own process
// group, which is killed when it exits or times out. A child that left the group (setsid) is
// killed too when it can be found, on Linux through /proc: as a descendant of a helper that
// timed out, or as a holder of the helper's output pipes (a child that kept the plugin's
// stdout open would make the kubelet discard the answer). The log names the processes killed,
// and those that could not be.
type ExecHelper struct {
	// Timeout bounds one run; zero means DefaultHelperTimeout.
	Timeout time.Duration
	// WaitDelay bounds the wait for the helper's output pipes to close once it has exited or
	// been killed; zero means one second.
	WaitDelay time.Duration
	// Logger receives diagnostics (never the helper's output); nil discards them.
	Logger *slog.Logger
}

var _ Helper = (*ExecHelper)(nil)

// Get implements Helper.
func (h *ExecHelper) Get(ctx context.Context, name, serverURL string) (string, string, error) {
	prog := HelperPrefix + name
	what := fmt.Sprintf("%s get for %s", prog, DisplayKey(serverURL))
	if !helperName.MatchString(name) {
		return "", "", fmt.Errorf("%s: %w: invalid helper name", what, ErrHelperFailed)
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultHelperTimeout
	}
	waitDelay := h.WaitDelay
	if waitDelay <= 0 {
		waitDelay = time.Second
	}
	log := providers.OrDiscard(h.Logger)

	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, prog, "get")
	if errors.Is(cmd.Err, exec.ErrNotFound) {
		return "", "", fmt.Errorf("%s: %w (not on $PATH)", what, ErrHelperNotInstalled)
	}
	// The output pipes are this function's own, not exec's, so that the processes still
	// holding them can be found (by the pipes' inodes in /proc) and killed.
	outR, outW, err := os.Pipe()
	if err != nil {
		return "", "", fmt.Errorf("%s: %w: %v", what, ErrHelperFailed, err)
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		outW.Close()
		return "", "", fmt.Errorf("%s: %w: %v", what, ErrHelperFailed, err)
	}
	defer errR.Close()
	pipes := []uint64{pipeInode(outR), pipeInode(errR)}
	var stdout, stderr cappedBuffer
	cmd.Stdin = strings.NewReader(serverURL)
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.WaitDelay = waitDelay // for the stdin copy
	var (
		mu        sync.Mutex
		signalled []int // besides the process group
		survivors []int
	)
	kill := func(waited bool) {
		pid := cmd.Process.Pid
		if waited {
			pid = 0 // reaped: the number may be another process's by now
		}
		s, v := killTree(pid, cmd.Process.Pid, pipes)
		mu.Lock()
		signalled, survivors = append(signalled, s...), append(survivors, v...)
		mu.Unlock()
	}
	isolate(cmd, func() { kill(false) })

	start := time.Now()
	runErr := cmd.Start()
	outW.Close()
	errW.Close()
	if runErr != nil {
		if ctx.Err() != nil {
			return "", "", fmt.Errorf("%s: %w", what, context.Cause(ctx))
		}
		return "", "", fmt.Errorf("%s: %w: %s", what, ErrHelperFailed, runErr.Error())
	}
	outDone, errDone := copyAll(&stdout, outR), copyAll(&stderr, errR)
	runErr = cmd.Wait()
	// The helper has exited (or was killed): its output ends when the last process holding
	// the pipes closes them. A process that keeps them open past waitDelay is killed, with
	// its process group and whatever else holds them; the pipes are closed at last.
	held := !waitBoth(outDone, errDone, waitDelay)
	if held {
		kill(true)
		if !waitBoth(outDone, errDone, waitDelay) {
			outR.Close()
			errR.Close()
			waitBoth(outDone, errDone, -1)
		}
	}
	killGroup(cmd) // whatever the helper left behind in its process group
	elapsed := time.Since(start).Round(time.Millisecond)
	log.Log(ctx, providers.V(4), "credential helper ran", "helper", prog, "server", DisplayKey(serverURL),
		"elapsed", elapsed, "stdoutBytes", stdout.n, "stderrBytes", stderr.n)
	mu.Lock()
	killed, left := slices.Clone(signalled), slices.Clone(survivors)
	mu.Unlock()
	if len(left) > 0 {
		log.Warn("credential helper: processes it started could not be killed and still run", "helper", prog,
			"server", DisplayKey(serverURL), "pids", left)
	}

	if errors.Is(runErr, exec.ErrWaitDelay) {
		runErr = nil // the stdin copy outlived the helper: nothing to do with its answer
	}
	if runCtx.Err() != nil && (runErr != nil || held) {
		if ctx.Err() != nil {
			return "", "", fmt.Errorf("%s: %w", what, context.Cause(ctx))
		}
		log.Warn("credential helper timed out; killed its process group and the processes it started", "helper", prog,
			"server", DisplayKey(serverURL), "timeout", timeout, "pids", killed, "survivors", left)
		return "", "", fmt.Errorf("%s: %w after %s (%s)", what, ErrHelperTimeout, timeout, killedWhat(left))
	}
	if held {
		// The helper exited, but something it started kept its output open.
		switch {
		case len(killed) == 0:
			log.Warn("credential helper left a process holding its output, which could not be found to kill; its output was closed",
				"helper", prog, "server", DisplayKey(serverURL))
		case len(left) == 0:
			log.Warn("credential helper left a process holding its output; killed it", "helper", prog,
				"server", DisplayKey(serverURL), "pids", killed)
		default:
			log.Warn("credential helper left a process holding its output; it could not be killed", "helper", prog,
				"server", DisplayKey(serverURL), "pids", left)
		}
	}
	if runErr != nil {
		if isNotFound(stdout.Bytes()) || isNotFound(stderr.Bytes()) {
			return "", "", fmt.Errorf("%s: %w", what, ErrCredentialsNotFound)
		}
		var exitErr *exec.ExitError
		if errors.As(runErr, &exitErr) {
			return "", "", fmt.Errorf("%s: %w: %s; its output is not shown as it may hold secrets (run `echo %s | %s get` to see it)",
				what, ErrHelperFailed, exitErr.ProcessState.String(), DisplayKey(serverURL), prog)
		}
		return "", "", fmt.Errorf("%s: %w: %s", what, ErrHelperFailed, runErr.Error())
	}
	if stdout.overflow {
		return "", "", fmt.Errorf("%s: %w: more than %d bytes of output", what, ErrHelperFailed, maxHelperOutput)
	}
	var resp struct {
		ServerURL string
		Username  string
		Secret    string
	}
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		return "", "", fmt.Errorf("%s: %w: the output is not the helper protocol's JSON (%s)", what, ErrHelperFailed, JSONProblem(stdout.Bytes(), err, "the output"))
	}
	if resp.Username == "" && resp.Secret == "" {
		return "", "", fmt.Errorf("%s: %w: empty answer", what, ErrCredentialsNotFound)
	}
	return resp.Username, resp.Secret, nil
}

func isNotFound(out []byte) bool {
	return string(bytes.TrimSpace(out)) == notFoundMessage
}

// cappedBuffer keeps the first maxHelperOutput bytes written and counts the rest. It does
// not embed bytes.Buffer: io.Copy would use the promoted ReadFrom and bypass the cap.
type cappedBuffer struct {
	buf      bytes.Buffer
	n        int
	overflow bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.n += len(p)
	if room := maxHelperOutput - b.buf.Len(); room < len(p) {
		b.overflow = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

// copyAll copies r into b until EOF or an error, closing the returned channel then.
func copyAll(b *cappedBuffer, r io.Reader) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(b, r)
	}()
	return done
}

// waitBoth waits for a and b to close, at most d (d < 0: without limit), and reports whether
// both did.
func waitBoth(a, b <-chan struct{}, d time.Duration) bool {
	var timeout <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	for _, c := range []<-chan struct{}{a, b} {
		select {
		case <-c:
		case <-timeout:
			return false
		}
	}
	return true
}

// killedWhat says what became of the helper's processes after a kill, truthfully.
func killedWhat(survivors []int) string {
	if len(survivors) == 0 {
		return "killed"
	}
	return fmt.Sprintf("killed; %d process(es) it started could not be killed", len(survivors))
}

// Bytes returns what was kept.
func (b *cappedBuffer) Bytes() []byte { return b.buf.Bytes() }
