package replay

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
)

// runChild runs the full plugin as a child with request on its stdin and its output on the
// front's, passes on interrupts and returns its exit status.
func runChild(full string, args, env []string, request []byte, stdout, stderr io.Writer) (int, error) {
	cmd := exec.Command(full, args...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, bytes.NewReader(request), stdout, stderr
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, terminationSignals...)
	defer signal.Stop(sig)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sig:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if code := exit.ExitCode(); code >= 0 {
			return code, nil
		}
		return 1, nil // killed by a signal
	}
	if err != nil {
		return 0, err
	}
	return 0, nil
}
