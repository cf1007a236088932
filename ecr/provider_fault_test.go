package ecr

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// The fault rows of the ECR provider that TestProvideFaults does not hold: connections
// refused, throttling that outlasts the deadline, and stale-if-error under every fault. The
// security package runs the same rows through the binary.

func TestECR_ConnectionRefused_ClearError(t *testing.T) {
	e := newEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	t.Setenv("AWS_ENDPOINT_URL_ECR", closed)
	p := e.provider(Options{MaxAttempts: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang detector
	defer cancel()

	resp, err := p.Provide(ctx, &providers.Request{Image: privateImg})

	if err == nil || resp != nil {
		t.Fatalf("Provide(%q) with ECR refusing connections = %+v, %v; want an error", privateImg, resp, err)
	}
	if !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), privateHost) {
		t.Errorf("Provide(%q) error = %q, want it to name the host and say the connection was refused", privateImg, err)
	}
	if ctx.Err() != nil {
		t.Errorf("Provide(%q) ran into the hang detector; want it to give up after its attempts", privateImg)
	}
}

// TestECR_EveryFaultWithStaleToken_ServesStaleNotCached: past the token's half-life, any
// failed refresh serves the previous token with cacheDuration 0 (the kubelet must not keep it).
func TestECR_EveryFaultWithStaleToken_ServesStaleNotCached(t *testing.T) {
	for _, f := range ecrtest.Faults() {
		t.Run(string(f), func(t *testing.T) {
			e := newEnv(t)
			p := e.provider(Options{MaxAttempts: 2})
			first, err := p.Provide(context.Background(), &providers.Request{Image: privateImg})
			if err != nil {
				t.Fatalf("Provide(%q) before the fault: %v", privateImg, err)
			}
			e.clock.Advance(7 * time.Hour)
			e.srv.Inject(ecrtest.GetAuthorizationToken, f, -1)

			// A deadline, as the plugin has: throttling is retried until it cannot hold
			// another attempt (the stale token is served before it passes).
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			got, err := p.Provide(ctx, &providers.Request{Image: privateImg})

			if err != nil {
				t.Fatalf("Provide(%q) with a stale token and %s: %v, want the stale token", privateImg, f, err)
			}
			want := wantResponse(privateHost, first.Auth[privateHost].Password, 0)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Provide(%q) with %s mismatch (-want +got):\n%s", privateImg, f, diff)
			}
			if n := e.srv.Calls(ecrtest.GetAuthorizationToken); n < 2 {
				t.Errorf("calls = %d, want the refresh attempted", n)
			}
		})
	}
}
