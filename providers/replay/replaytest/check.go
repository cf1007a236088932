package replaytest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pullkeys/pullkeys/providers"
)

// CheckReplay fails t unless replayed is full, the full plugin's answer in apiVersion, as the
// kubelet reads them: both decode as it decodes them, with the same auth and cache key type,
// and the replay's cacheDuration is the full plugin's counted down by at most slack (the time
// between the two answers).
func CheckReplay(t testing.TB, apiVersion string, full, replayed []byte, slack time.Duration) {
	t.Helper()
	f, err := providers.DecodeResponse(full, apiVersion)
	if err != nil {
		t.Fatalf("the full plugin's answer does not decode as the kubelet decodes: %v", err)
	}
	r, err := providers.DecodeResponse(replayed, apiVersion)
	if err != nil {
		t.Fatalf("the replayed answer does not decode as the kubelet decodes: %v", err)
	}
	if diff := cmp.Diff(f, r, cmpopts.IgnoreFields(providers.Response{}, "CacheDuration")); diff != "" {
		t.Errorf("replayed answer differs (-full +replayed):\n%s", diff)
	}
	if (f.CacheDuration == nil) != (r.CacheDuration == nil) {
		t.Fatalf("cacheDuration: full %v, replayed %v", f.CacheDuration, r.CacheDuration)
	}
	if f.CacheDuration != nil {
		if d := f.CacheDuration.Duration - r.CacheDuration.Duration; d < 0 || d > slack {
			t.Errorf("replayed cacheDuration %s, full %s: want the same counted down by at most %s",
				r.CacheDuration.Duration, f.CacheDuration.Duration, slack)
		}
	}
}
