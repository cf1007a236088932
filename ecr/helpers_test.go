package ecr

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/cache"
	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/internal/testkit"
)

// newClock is a fake clock for the provider, its cache and the fake server.
func newClock() *testkit.Clock { return testkit.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

// realClock is the clock of tests through providers.Execute, which runs on real time.
func realClock() *testkit.Clock { return &testkit.Clock{} }

// env is a fake server with the process environment pointed at it, a fake clock and a log
// buffer.
type env struct {
	srv   *ecrtest.Server
	clock *testkit.Clock
	logs  *testkit.SyncBuffer
	log   *slog.Logger
}

func newEnv(t *testing.T) *env { return newEnvWith(t, newClock()) }

func newEnvWith(t *testing.T, c *testkit.Clock) *env {
	t.Helper()
	srv := ecrtest.StartWith(t, ecrtest.Options{Now: c.Now})
	srv.Setenv(t)
	logs := &testkit.SyncBuffer{}
	return &env{srv: srv, clock: c, logs: logs,
		log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.Level(-100)}))}
}

// provider returns a provider with fast retry and throttle backoffs, the fake clock, a memory cache (or
// the one in opts) and the env's logger.
func (e *env) provider(opts Options) *Provider {
	opts.Now = e.clock.Now
	opts.Logger = e.log
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = time.Millisecond
	}
	if opts.ThrottleBackoff == 0 {
		opts.ThrottleBackoff = time.Millisecond
	}
	if opts.Cache == nil {
		opts.Cache = cache.New(cache.Options{Now: e.clock.Now, Logger: e.log})
	}
	return New(opts)
}

// diskCache returns a cache on dir, as one plugin process would have.
func (e *env) diskCache(dir string) *cache.Cache {
	return cache.New(cache.Options{Dir: dir, Now: e.clock.Now, Logger: e.log})
}

// saToken returns an unsigned service account token (JWT) for namespace/name with uid, as
// the kubelet would pass it; serial makes tokens of one service account differ.
func saToken(namespace, name, uid string, serial int) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","kid":"fake"}`))
	claims, _ := json.Marshal(map[string]any{
		"iss": "https://oidc.example/cluster",
		"sub": "system:serviceaccount:" + namespace + ":" + name,
		"aud": []string{"sts.amazonaws.com"},
		"iat": 1700000000 + serial,
		"exp": 1700003600 + serial,
		"kubernetes.io": map[string]any{
			"namespace":      namespace,
			"serviceaccount": map[string]string{"name": name, "uid": uid},
		},
	})
	return header + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString([]byte("signature-of-a-secret-token"))
}
