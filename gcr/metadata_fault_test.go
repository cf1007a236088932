package gcr

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/gcr/gcrtest"
)

// TestGCR_EveryMetadataFaultWithStaleToken_ServesStaleNotCached: past a token's half-life,
// each way the metadata server can fail the refresh (gone, silent, 5xx, 403, the scope taken
// away) serves the previous token with cacheDuration 0. TestStaleTokenOnMetadataFailure covers
// the 500; the security package runs these rows, and a server that is not GCE's, through the
// binary.
func TestGCR_EveryMetadataFaultWithStaleToken_ServesStaleNotCached(t *testing.T) {
	for _, tt := range []struct {
		name   string
		inject func(t *testing.T, md *gcrtest.Metadata)
	}{
		{name: "gone", inject: func(t *testing.T, md *gcrtest.Metadata) { md.Close() }},
		{name: "silent", inject: func(t *testing.T, md *gcrtest.Metadata) { md.SetLatency(time.Hour) }},
		{name: "503", inject: func(t *testing.T, md *gcrtest.Metadata) { md.Fail("", http.StatusServiceUnavailable, -1) }},
		{name: "403 on the token", inject: func(t *testing.T, md *gcrtest.Metadata) {
			md.Fail(gcrtest.TokenPath("default"), http.StatusForbidden, -1)
		}},
		{name: "scope taken away", inject: func(t *testing.T, md *gcrtest.Metadata) { md.SetScopes("default", gcrtest.ScopeLoggingWrite) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			md := startMetadata(t)
			clock := newClock()
			dir := t.TempDir()
			p, _ := testProvider(t, clock, Options{Cache: cacheDir(dir)})
			first, err := p.Provide(ctxT(t), request("gcr.io/p/app"))
			if err != nil {
				t.Fatalf("Provide() before the fault: %v", err)
			}
			clock.Advance(40 * time.Minute)
			tt.inject(t, md)
			p, logs := testProvider(t, clock, Options{Cache: cacheDir(dir), MetadataTimeout: 200 * time.Millisecond})

			got, err := p.Provide(ctxT(t), request("gcr.io/p/app"))

			if err != nil {
				t.Fatalf("Provide() with a stale token and the metadata server %s: %v, want the stale token", tt.name, err)
			}
			if got.Auth["gcr.io"].Password != first.Auth["gcr.io"].Password || got.CacheDuration == nil || got.CacheDuration.Duration != 0 {
				t.Errorf("Provide() = same token %v, cacheDuration %v; want the stale token with cacheDuration 0",
					got.Auth["gcr.io"].Password == first.Auth["gcr.io"].Password, got.CacheDuration)
			}
			if !strings.Contains(logs.String(), "serving the previous entry") {
				t.Errorf("no warning about the stale token in the log:\n%s", logs)
			}
		})
	}
}
