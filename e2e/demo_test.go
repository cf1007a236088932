package e2e

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/e2e/demo"
	"github.com/pullkeys/pullkeys/e2e/harness"
)

// TestDemo runs `make demo` with the binaries built for the suite, so that the demo a newcomer
// runs first never rots.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := demo.Run(context.Background(), demo.Options{Out: &out, BinDir: binDir}); err != nil {
		t.Fatalf("demo.Run() = %v\n%s", err, out.String())
	}
	text := out.String()
	if n := strings.Count(text, "pulled manifest"); n != 4 {
		t.Errorf("demo.Run() narrated %d pulls, want 4:\n%s", n, text)
	}
	if n := strings.Count(text, "without credentials:  401 Unauthorized"); n != 4 {
		t.Errorf("demo.Run() narrated %d refused anonymous pulls, want 4:\n%s", n, text)
	}
	// With containerd installed (and as root), the demo pulls through it too; CI always has it.
	if why := harness.ContainerdUnavailable(""); why == "" || os.Getenv("CI") != "" {
		if n := strings.Count(text, "pulled and unpacked"); n != 4 {
			t.Errorf("demo.Run() narrated %d pulls through containerd, want 4:\n%s", n, text)
		}
		if n := strings.Count(text, "401 Unauthorized"); n != 8 {
			t.Errorf("demo.Run() narrated %d refused anonymous pulls, want 4 by each client:\n%s", n, text)
		}
		if !strings.Contains(text, "containerd via CRI") || !strings.Contains(text, "Pulled by: the demo's registry client (go-containerregistry) and containerd") {
			t.Errorf("demo.Run() does not say which clients pulled:\n%s", text)
		}
	} else if !strings.Contains(text, "pull through containerd: skipped") {
		t.Errorf("demo.Run() without containerd (%s) does not say it skipped that step:\n%s", why, text)
	}
	if !strings.Contains(text, "cleaned up") {
		t.Errorf("demo.Run() did not say it cleaned up:\n%s", text)
	}
}
