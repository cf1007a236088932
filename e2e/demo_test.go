package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/pullkeys/pullkeys/e2e/demo"
)

// TestDemo runs `make demo` with the binaries built for the suite, so that the demo a newcomer
// runs first never rots.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := demo.Run(context.Background(), demo.Options{Out: &out, BinDir: binDir}); err != nil {
		t.Fatalf("demo.Run() = %v\n%s", err, out.String())
	}
	text := out.String()
	if n := strings.Count(text, "pulled manifest"); n != 3 {
		t.Errorf("demo.Run() narrated %d pulls, want 3:\n%s", n, text)
	}
	if n := strings.Count(text, "401 Unauthorized"); n != 3 {
		t.Errorf("demo.Run() narrated %d refused anonymous pulls, want 3:\n%s", n, text)
	}
	if !strings.Contains(text, "cleaned up") {
		t.Errorf("demo.Run() did not say it cleaned up:\n%s", text)
	}
}
