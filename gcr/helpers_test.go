package gcr

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/internal/testkit"
	"github.com/pullkeys/pullkeys/internal/throttle"
	"github.com/pullkeys/pullkeys/providers"
)

func newClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
}

// startMetadata starts a fake metadata server and points GCE_METADATA_HOST at it.
func startMetadata(t *testing.T) *gcrtest.Metadata {
	t.Helper()
	md := gcrtest.NewMetadata()
	t.Cleanup(md.Close)
	t.Setenv(MetadataHostEnv, md.Host())
	return md
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	// Port 1 is privileged and never handed out for 127.0.0.1:0, so unlike a port freed by
	// closing a listener, no other test's server can take it between here and the dial.
	const addr = "127.0.0.1:1"
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Skipf("something listens on %s: no closed loopback port to test against", addr)
	}
	return addr
}

// testProvider builds a provider over opts with a fake clock, a cache directory of its own
// (unless opts has one) and a verbose log; it returns the log.
func testProvider(t *testing.T, clock *testkit.Clock, opts Options) (*Provider, *testkit.SyncBuffer) {
	t.Helper()
	logs := new(testkit.SyncBuffer)
	if opts.Cache.Dir == "" && !opts.Cache.NoDisk {
		opts.Cache.Dir = t.TempDir()
	}
	if clock != nil {
		opts.Now = clock.Now
	}
	if opts.MetadataTimeout == 0 {
		opts.MetadataTimeout = 10 * time.Second // generous: tests share loaded machines
	}
	opts.Logger = providers.NewLogger(logs, 10)
	p, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v) = %v", opts, err)
	}
	p.retryPause = time.Millisecond
	p.throttle = throttle.Policy{First: time.Millisecond, Max: 5 * time.Millisecond}
	return p, logs
}

func request(image string) *providers.Request {
	return &providers.Request{Image: image}
}

// assertNoSecrets fails when text holds any of the secrets.
func assertNoSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s holds the secret %q:\n%s", what, s, text)
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func cacheDir(dir string) cache.Options { return cache.Options{Dir: dir} }
