//go:build unix

package dockercfg

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/providers"
)

// TestConfigNotARegularFile: a --config (or a file in a --config directory) that is a FIFO, a
// device or a socket is refused at once with an error naming the problem, instead of blocking
// in open or read past the request's deadline.
func TestConfigNotARegularFile(t *testing.T) {
	fifo := func(t *testing.T, name string) {
		t.Helper()
		if err := syscall.Mkfifo(name, 0o600); err != nil {
			t.Fatal(err)
		}
		// Should a read block on it, a writer opening it later lets the test end.
		t.Cleanup(func() {
			if f, err := os.OpenFile(name, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
		})
	}
	tests := []struct {
		name string
		// config returns the --config path, made under dir.
		config func(t *testing.T, dir string) string
	}{
		{name: "fifo", config: func(t *testing.T, dir string) string {
			name := filepath.Join(dir, "config.json")
			fifo(t, name)
			return name
		}},
		{name: "fifo in a secret directory", config: func(t *testing.T, dir string) string {
			fifo(t, filepath.Join(dir, DockerConfigJSONName))
			return dir
		}},
		{name: "character device", config: func(t *testing.T, dir string) string { return "/dev/zero" }},
		{name: "socket", config: func(t *testing.T, dir string) string {
			name := filepath.Join(dir, "config.json")
			l, err := net.Listen("unix", name)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return name
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.config(t, t.TempDir())
			p, err := New(Options{Configs: []string{path}})
			if err != nil {
				t.Fatal(err)
			}
			// A guard, not a timed assertion: the answer must come without waiting for it.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := p.Provide(ctx, &providers.Request{Image: "registry.example.io/app"})
				done <- err
			}()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("Provide with --config=%s still blocked after its deadline", path)
			}
			if err == nil || !strings.Contains(err.Error(), "not a regular file") || errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Provide with --config=%s = %v, want an error saying it is not a regular file, at once", path, err)
			}
		})
	}
}
