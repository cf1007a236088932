package gcr

import (
	"testing"
	"time"

	"github.com/pullkeys/pullkeys/gcr/gcrtest"
)

// TestNodeTokenLifetimeCapped: a token that claims to live longer than a GCE access token can
// (an hour) is cached, and handed to the kubelet, as if it lived an hour.
func TestNodeTokenLifetimeCapped(t *testing.T) {
	md := startMetadata(t)
	md.SetAccount("default", gcrtest.Account{Email: gcrtest.DefaultEmail, Scopes: []string{ScopeCloudPlatform},
		ExpiresIn: 100 * 365 * 24 * time.Hour})
	p, _ := testProvider(t, newClock(), Options{})
	resp, err := p.Provide(ctxT(t), request("us-docker.pkg.dev/p/repo/app"))
	if err != nil {
		t.Fatalf("Provide() = %v", err)
	}
	if got, limit := resp.CacheDuration.Duration, MaxTokenLifetime/2; got > limit {
		t.Errorf("cacheDuration = %v for a token claiming a century, want at most %v (half of %v)", got, limit, MaxTokenLifetime)
	}
}
